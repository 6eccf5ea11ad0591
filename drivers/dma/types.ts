/**
 * DMA API types and constants (Documentation/DMA-API.txt, include/linux/dma-direction.h,
 * include/linux/dma-mapping.h, include/linux/scatterlist.h).
 *
 * Numbers, not BigInt (DESIGN.md "Addresses"): a DMA address or mask is an integer below
 * 2^53. DMA_BIT_MASK(n) for n >= 53 is 2^53 - 1, which covers every simulated address.
 */

/** enum dma_data_direction. */
export const DMA_BIDIRECTIONAL = 0;
export const DMA_TO_DEVICE = 1;
export const DMA_FROM_DEVICE = 2;
export const DMA_NONE = 3;
export type DmaDataDirection = typeof DMA_BIDIRECTIONAL | typeof DMA_TO_DEVICE | typeof DMA_FROM_DEVICE | typeof DMA_NONE;

/** dir2name[] of lib/dma-debug.c. */
export const DMA_DIRECTION_NAMES = ['DMA_BIDIRECTIONAL', 'DMA_TO_DEVICE', 'DMA_FROM_DEVICE', 'DMA_NONE'] as const;

/** valid_dma_direction(). */
export function validDmaDirection(dir: number): dir is DmaDataDirection {
  return dir === DMA_BIDIRECTIONAL || dir === DMA_TO_DEVICE || dir === DMA_FROM_DEVICE;
}

/** DMA_MAPPING_ERROR: (~(dma_addr_t)0) in Linux; here all 53 bits an address can use set. */
export const DMA_MAPPING_ERROR = Number.MAX_SAFE_INTEGER;

/** DMA_BIT_MASK(n): 2^n - 1 (n >= 53: 2^53 - 1). */
export function DMA_BIT_MASK(n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > 64) throw new RangeError(`DMA_BIT_MASK(${n}): n must be an integer in 0..64`);
  return n >= 53 ? Number.MAX_SAFE_INTEGER : 2 ** n - 1;
}

/**
 * DMA attributes (include/linux/dma-mapping.h, Documentation/DMA-attributes.txt). The
 * later kernels' `unsigned long attrs` bit mask replaces the document's struct dma_attrs;
 * 0 means "no attributes", as a NULL dma_attrs pointer does.
 */
export const DMA_ATTR_WRITE_BARRIER = 1 << 0;
/** Reads and writes may pass each other (PCIe relaxed ordering). Recorded, no effect here (as on arm64). */
export const DMA_ATTR_WEAK_ORDERING = 1 << 1;
/** A coherent allocation's CPU mapping is write-combining (uncached, buffered). */
export const DMA_ATTR_WRITE_COMBINE = 1 << 2;
export const DMA_ATTR_NON_CONSISTENT = 1 << 3;
export const DMA_ATTR_NO_KERNEL_MAPPING = 1 << 4;
/** map/unmap skip the CPU cache maintenance (and swiotlb bounce copies): the driver syncs itself. */
export const DMA_ATTR_SKIP_CPU_SYNC = 1 << 5;
export const DMA_ATTR_FORCE_CONTIGUOUS = 1 << 6;
export const DMA_ATTR_ALLOC_SINGLE_PAGES = 1 << 7;
/** Suppress allocation and mapping failure reports (swiotlb full, IOVA exhaustion). */
export const DMA_ATTR_NO_WARN = 1 << 8;
export const DMA_ATTR_PRIVILEGED = 1 << 9;

/** gfp_t flags that matter here. */
export const GFP_KERNEL = 0;
export const GFP_ATOMIC = 1;
/** Allocate below 16 MiB of DRAM (ZONE_DMA) - honoured as "below the device's coherent mask". */
export const GFP_DMA = 2;
export const GFP_ZERO = 4;

/**
 * One struct scatterlist entry: a buffer (page + offset + length) and, after dma_map_sg,
 * its DMA address and length (sg_dma_address, sg_dma_len). `page` is the physical
 * address of the page (page_to_phys(sg_page(sg))).
 */
export interface ScatterlistEntry {
  page: number;
  offset: number;
  length: number;
  dmaAddress: number;
  dmaLength: number;
}

/** sg_init_table: `nents` empty entries. */
export function sgInitTable(nents: number): ScatterlistEntry[] {
  const out: ScatterlistEntry[] = [];
  for (let i = 0; i < nents; i++) out.push({ page: 0, offset: 0, length: 0, dmaAddress: 0, dmaLength: 0 });
  return out;
}

/** sg_set_page(sg, page, len, offset); `page` is a page-aligned physical address. */
export function sgSetPage(sg: ScatterlistEntry, page: number, len: number, offset: number): void {
  sg.page = page;
  sg.length = len;
  sg.offset = offset;
}

/** sg_phys(sg): physical address of the entry's buffer. */
export function sgPhys(sg: ScatterlistEntry): number {
  return sg.page + sg.offset;
}

/** A coherent allocation: the CPU's address and the device's (dma_alloc_coherent's two results). */
export interface DmaCoherentBuffer {
  cpuAddr: number;
  dmaHandle: number;
}


/**
 * A region declared with dma_declare_coherent_memory (declared.ts implements it): where
 * dma_alloc_coherent of its device (and, with INCLUDES_CHILDREN, of its children) gets
 * memory first.
 */
export interface DeclaredCoherentMemory {
  /** The DMA_MEMORY_* flags it was declared with. */
  readonly flags: number;
  /**
   * dma_alloc_from_dev_coherent: `handled` is true when the region answered the request
   * (with a buffer, or with null when it is full and EXCLUSIVE); false lets the caller
   * fall back to the device's normal allocator.
   */
  alloc(size: number): { handled: boolean; buf: DmaCoherentBuffer | null };
  /** dma_release_from_dev_coherent: frees `cpuAddr` if it lies in the region (true), else false. */
  release(cpuAddr: number, size: number): boolean;
  /** Whether a DMA address lies in the region. */
  containsDma(addr: number): boolean;
}

