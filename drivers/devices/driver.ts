import { obtainBuffer, type BufferSpec, type DeviceBuffer, type DeviceContexts } from './buffers';

/**
 * A platform driver's life cycle for one device (the parts every driver shares): probe
 * binds the driver to the device (dma-debug then names it in its reports) and obtains
 * its buffers; remove releases them in reverse order and unbinds, at which point
 * dma-debug reports any mapping the driver leaked.
 */
export class DeviceDriver {
  private readonly buffers: DeviceBuffer[] = [];
  private bound = false;

  constructor(readonly driverName: string, readonly ctx: DeviceContexts, readonly device: string) {}

  /** The device's DMA API device, when the platform gives it one (GPUs behind nv MMUs have none). */
  private dmaDevice() {
    const p = this.ctx.platform.platdata(this.device);
    return p.kind === 'unsupported' ? null : this.ctx.platform.dmaDevice(this.device);
  }

  probe(): void {
    this.dmaDevice()?.bindDriver(this.driverName);
    this.bound = true;
  }

  /** Obtains a buffer for this device (probe must have run). */
  obtain(spec: BufferSpec): DeviceBuffer {
    if (!this.bound) throw new Error(`${this.driverName}: obtain before probe`);
    const b = obtainBuffer(this.ctx, spec);
    this.buffers.push(b);
    return b;
  }

  remove(): void {
    if (!this.bound) return;
    while (this.buffers.length > 0) this.buffers.pop()!.release();
    this.dmaDevice()?.unbindDriver();
    this.bound = false;
  }
}
