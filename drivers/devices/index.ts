/** Device drivers scenarios use: buffers, the probe/remove life cycle, processes, NIC and DMA engine drivers. */
export * from './buffers';
export * from './driver';
export * from './cpuProcess';
export * from './nicDriver';
export * from './descDmaDriver';
