/**
 * The nvkm-style GPU VMM (nouveau nvkm/subdev/mmu): page-table cache (ptc.ts), layout
 * descriptors and entry writers (desc.ts), page-table objects (pt.ts), the address-space
 * allocator (vma.ts) and the VMM itself (vmm.ts).
 */
export * from './desc';
export * from './pt';
export * from './ptc';
export * from './vma';
export * from './vmm';
