import { dmaSetMaskAndCoherent } from '../dma/mapping';
import { DMA_BIT_MASK } from '../dma/types';
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
    const p = this.ctx.platform;
    return p.hasDmaDevice(this.device) ? p.dmaDevice(this.device) : null;
  }

  /**
   * Binds the driver and, as a driver's probe does with dma_set_mask_and_coherent, sets
   * the DMA masks to what the hardware drives: its configured address bits for a
   * direct-mapped device, 64 bits behind an IOMMU. A mask the platform refuses leaves
   * the default 32 bits (logged).
   */
  probe(): void {
    const dev = this.dmaDevice();
    if (dev) {
      dev.bindDriver(this.driverName);
      const cfg = this.ctx.platform.soc.attachPoint(this.device).config;
      const bits = cfg.translation.kind === 'direct' ? cfg.translation.dmaMaskBits : 64;
      if (dmaSetMaskAndCoherent(dev, DMA_BIT_MASK(bits)) !== 0) {
        this.ctx.platform.kernel.info('dma', `${this.driverName} ${this.device}: no suitable DMA mask for ${bits} bits, using the 32-bit default`);
      }
    }
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
