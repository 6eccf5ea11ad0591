import type { PhysicalMemory } from '../../sim/mem/physmem';
import { armLpaeFormat, armLpaeS2Format, type ArmLpaeGranule } from '../../sim/mmu/format';
import type { PageTableFormat } from '../../sim/mmu/format/types';
import { ipaView, PageTableBuilder } from '../../sim/mmu/pageTableBuilder';
import { stage2Tag, type Stage2Context } from '../../sim/mmu/walker';
import type { TranslationContext } from '../../sim/mmu/translationUnit';

export interface NestedTables {
  s1: PageTableBuilder;
  s2: PageTableBuilder;
  s2Format: PageTableFormat;
  /** A nested context for a stream (tag stage2Tag(vmid, asid)). */
  nested(vmid: number, asid: number): Partial<TranslationContext>;
  /** A stage-2-only context. */
  stage2Only(vmid: number): Partial<TranslationContext>;
}

/**
 * Guest RAM at IPA [ipaBase, ipaBase + size) mapped by stage 2 to PA ipaBase + offset with
 * pages of 2^s2Shift; stage-1 tables built in guest RAM at IPA s1Arena; stage-2 tables at PA s2Arena.
 */
export function nestedTables(mem: PhysicalMemory, o: {
  granule?: ArmLpaeGranule; ipaBase: number; size: number; offset: number; s2Shift: number; s1Arena: number; s2Arena: number; s2Format?: PageTableFormat;
}): NestedTables {
  const granule = o.granule ?? 0x1000;
  const s2Format = o.s2Format ?? armLpaeS2Format(granule);
  const s2 = new PageTableBuilder(mem, s2Format, o.s2Arena);
  for (let ipa = o.ipaBase; ipa < o.ipaBase + o.size; ipa += 2 ** o.s2Shift) s2.map(ipa, ipa + o.offset, o.s2Shift);
  const s1 = new PageTableBuilder(ipaView(mem, o.offset), armLpaeFormat(granule), o.s1Arena);
  const s2ctx = (vmid: number, nested: boolean): Stage2Context => ({ format: s2Format, root: s2.root, vmid, nested });
  return {
    s1, s2, s2Format,
    nested: (vmid, asid) => ({ root: s1.root, asid: stage2Tag(vmid, asid), stage2: s2ctx(vmid, true) }),
    stage2Only: (vmid) => ({ root: 0, asid: stage2Tag(vmid, 0), stage2: s2ctx(vmid, false) }),
  };
}
