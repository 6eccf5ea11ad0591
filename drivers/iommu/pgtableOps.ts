/**
 * Page-table format → the kernel code that drives it (Linux's io_pgtable_init_table,
 * drivers/iommu/io-pgtable.c; DESIGN.md drivers/iommu): one entry per hardware format
 * of sim/mmu/format, keyed by its name. An entry holds the hardware codec and what the
 * kernel does with the format: which family of page-table code builds its tables
 * (io-pgtable-arm ops, or an nvkm VMM backend and its chips), whether devices behind it
 * use the DMA API, and the page sizes the kernel maps with. Callers ask the entry; none
 * tests which format it holds.
 */

import { ConfigError, SimInvariantError } from '../../sim/engine/errors';
import { armLpae16k, armLpae4k, armLpae64k, FORMAT_NAMES, nvGf100_128k, nvGf100_64k, nvGp100, PageFlag, type PageTableFormat } from '../../sim/mmu/format';
import { allocIoPgtableOps, type IoPgtableArm, type IoPgtableCfg, type IoPgtableFmt } from './ioPgtableArm';

/** The GPU generations whose VMM backends are modelled (nvkm/subdev/mmu: vmmgf100.c ... vmmgp100.c). */
export type NvkmChip = 'gf100' | 'gk104' | 'gm200' | 'gp100';

/** Which kernel code builds a format's tables. */
export type PgtableFamily = 'io-pgtable' | 'nvkm';

interface PgtableOpsCommon {
  /** The hardware codec the walkers use (sim/mmu/format). */
  readonly format: PageTableFormat;
  readonly family: PgtableFamily;
  /**
   * Whether devices behind a unit walking this format get a struct device for the DMA
   * API (iommu-dma on an IOMMU domain). GPUs behind nv MMUs map through their VMM.
   */
  readonly usesDmaApi: boolean;
  /** Page sizes memory can be mapped with, bytes, smallest first. */
  readonly pageSizes: readonly number[];
}

/** A format io-pgtable builds (alloc_io_pgtable_ops with its io_pgtable_fmt). */
export interface IoPgtableFormatOps extends PgtableOpsCommon {
  readonly family: 'io-pgtable';
  readonly fmt: IoPgtableFmt;
  /** alloc_io_pgtable_ops(fmt, cfg): a new table, or null (unsupported cfg, no page). */
  alloc(cfg: IoPgtableCfg): IoPgtableArm | null;
}

/** A format an nvkm VMM backend builds (nvkm_vmm_new with a chip's vmm func). */
export interface NvkmFormatOps extends PgtableOpsCommon {
  readonly family: 'nvkm';
  /** The chips whose VMM backend drives this format. */
  readonly chips: readonly NvkmChip[];
  /** The chip nvkmVmmNew uses when not told one. */
  readonly defaultChip: NvkmChip;
}

export type PgtableOps = IoPgtableFormatOps | NvkmFormatOps;

/** Sizes of the format's pages that map memory (VRAM or host), smallest first: sparse-only levels excluded. */
function mappableSizes(format: PageTableFormat): readonly number[] {
  return Object.freeze(format.pageSizes
    .filter((p) => (p.flags & (PageFlag.VRAM | PageFlag.HOST)) !== 0)
    .map((p) => 2 ** p.shift)
    .sort((a, b) => a - b));
}

function ioPgtable(format: PageTableFormat, fmt: IoPgtableFmt): IoPgtableFormatOps {
  return Object.freeze({
    format, family: 'io-pgtable', usesDmaApi: true, pageSizes: mappableSizes(format), fmt,
    alloc: (cfg: IoPgtableCfg) => allocIoPgtableOps(fmt, cfg),
  });
}

function nvkm(format: PageTableFormat, chips: readonly NvkmChip[], defaultChip: NvkmChip): NvkmFormatOps {
  return Object.freeze({ format, family: 'nvkm', usesDmaApi: false, pageSizes: mappableSizes(format), chips: Object.freeze([...chips]), defaultChip });
}

/** The GF100 layout (dual PGD, 4 KiB SPT + 64/128 KiB LPT) is driven by every pre-Pascal backend. */
const GF100_CHIPS: readonly NvkmChip[] = ['gf100', 'gk104', 'gm200'];

/** Every format's entry, keyed by the hardware format name (as FORMATS is). */
export const PGTABLE_OPS: Readonly<Record<string, PgtableOps>> = Object.freeze({
  [nvGf100_128k.name]: nvkm(nvGf100_128k, GF100_CHIPS, 'gm200'),
  [nvGf100_64k.name]: nvkm(nvGf100_64k, GF100_CHIPS, 'gm200'),
  [nvGp100.name]: nvkm(nvGp100, ['gp100'], 'gp100'),
  [armLpae4k.name]: ioPgtable(armLpae4k, 'ARM_64_LPAE_S1'),
  // The granule io-pgtable picks from the domain's pgsize_bitmap decides which of these it builds.
  [armLpae16k.name]: ioPgtable(armLpae16k, 'ARM_64_LPAE_S1'),
  [armLpae64k.name]: ioPgtable(armLpae64k, 'ARM_64_LPAE_S1'),
});

function has(name: string): boolean {
  return Object.prototype.hasOwnProperty.call(PGTABLE_OPS, name);
}

/** Where a format name came from, for the ConfigError of an unknown one. */
export interface FormatNameSource {
  readonly file: string;
  readonly jsonPath: string;
}

/**
 * The entry of `format` (a built unit's format, or a format name from a config). An
 * unknown name from a config (`from` given) is a ConfigError listing the known formats;
 * a built unit's format without an entry is a socsim bug (SimInvariantError).
 */
export function pgtableOps(format: PageTableFormat | string, from?: FormatNameSource): PgtableOps {
  const name = typeof format === 'string' ? format : format.name;
  if (has(name)) return PGTABLE_OPS[name];
  const known = FORMAT_NAMES.filter(has).join(', ');
  if (from) throw new ConfigError(from.file, from.jsonPath, `unknown page-table format "${name}" (known: ${known})`);
  throw new SimInvariantError(`no kernel page-table ops for format "${name}" (known: ${known})`);
}

/** The nvkm entry of `format`, or null when nvkm does not drive it. */
export function nvkmFormatOps(format: PageTableFormat): NvkmFormatOps | null {
  const ops = pgtableOps(format);
  return ops.family === 'nvkm' ? ops : null;
}

/** The io-pgtable entry of `format`, or null when io-pgtable does not build it. */
export function ioPgtableFormatOps(format: PageTableFormat): IoPgtableFormatOps | null {
  const ops = pgtableOps(format);
  return ops.family === 'io-pgtable' ? ops : null;
}

/** Names of the formats chip `chip`'s VMM backend drives. */
export function nvkmChipFormats(chip: NvkmChip): string[] {
  return Object.values(PGTABLE_OPS).filter((o) => o.family === 'nvkm' && o.chips.includes(chip)).map((o) => o.format.name);
}
