/**
 * How a device's interrupt reaches the CPU behind its own DMA writes. On PCIe an MSI is
 * itself a posted memory write, and PCIe ordering (posted writes do not pass posted
 * writes, PCIe Base Spec §2.4.1) makes it arrive after every write the device sent
 * before it: a driver woken by the interrupt sees the data and descriptors the device
 * wrote. A PCIe link implements this; a device that sits on the on-chip bus has none and
 * raises its interrupts directly (its writes were acknowledged by memory already).
 */
export interface InterruptFence {
  /** Calls `fn(arg)` once every posted write the device has sent so far has reached memory (from an engine event). */
  afterPostedWrites(fn: (arg: number) => void, arg: number): void;
}

/** A device model that raises interrupts and can be told to order them behind its posted writes. */
export interface FencedInterrupts {
  setInterruptFence(fence: InterruptFence): void;
}

export function hasFencedInterrupts(x: unknown): x is FencedInterrupts {
  return typeof (x as FencedInterrupts | null)?.setInterruptFence === 'function';
}
