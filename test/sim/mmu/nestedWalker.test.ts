import { Cmd, Transaction } from '../../../sim/bus/transaction';
import { armLpae4k } from '../../../sim/mmu/format';
import type { WalkCacheParamsInput } from '../../../sim/mmu/walkCache';
import { iommuParams, MEM_BASE, MmuRig } from '../../helpers/mmuRig';
import { nestedTables } from '../../helpers/stage2Tables';

const PAGE = 0x1000;
/** Guest RAM: IPA 1 GiB .. 1 GiB + 64 MiB at PA MEM_BASE + 256 MiB (offset 0x5000_0000). */
const IPA_BASE = 0x4000_0000;
const GUEST_SIZE = 0x400_0000;
const OFFSET = MEM_BASE + 0x1000_0000 - IPA_BASE;
/** Stage-1 tables in guest RAM (IPA); stage-2 tables outside it (PA), below the rig's stage-1-only tables. */
const S1_ARENA = IPA_BASE + 0x300_0000;
const S2_ARENA = MEM_BASE + 0x2800_0000;
const VA = 0x12_3456_7000;
const DATA_IPA = IPA_BASE + 0x20_3000;

const tableCaches = (levels: string[]): WalkCacheParamsInput[] => levels.map((level) => ({ level, entries: 64, ways: 64, latencyCycles: 0 }));

function rig(opts: { s2Shift?: number; s1Caches?: string[]; s2Caches?: string[]; stale?: boolean } = {}) {
  const r = new MmuRig(armLpae4k, iommuParams({
    countStaleTlbHits: opts.stale ?? false,
    walker: { slots: 4, stepCycles: 0, walkCaches: tableCaches(opts.s1Caches ?? []) },
    stage2WalkCaches: tableCaches(opts.s2Caches ?? []),
  }));
  const t = nestedTables(r.mem, { ipaBase: IPA_BASE, size: GUEST_SIZE, offset: OFFSET, s2Shift: opts.s2Shift ?? 12, s1Arena: S1_ARENA, s2Arena: S2_ARENA });
  return { r, t };
}

function run(r: MmuRig, context: object, addrs: number[]) {
  const { master } = r.device(addrs.map((addr) => ({ cmd: Cmd.Read, addr, size: 64 })), { context });
  master.start();
  r.run();
  return master;
}

describe('nested (stage 1 + stage 2) walks', () => {
  test('4-level stage 1 over 4-level stage 2 with empty walk caches: (4+1)(4+1) - 1 = 24 reads, at the PA both stages give', () => {
    const { r, t } = rig();
    t.s1.map(VA, DATA_IPA, 12);
    r.mem.write32(DATA_IPA + OFFSET + 0x40, 0xfeed_f00d);
    const m = run(r, t.nested(3, 7), [VA + 0x40]);
    expect(m.completed.map((c) => c.status)).toEqual([1]);
    expect(m.completed[0].data.slice(0, 4)).toEqual(new Uint8Array([0x0d, 0xf0, 0xed, 0xfe]));
    expect(r.stat('soc.iommu.walker.mem_reads')).toBe(24);
    expect(r.stat('soc.iommu.walker.s1.mem_reads')).toBe(4);
    expect(r.stat('soc.iommu.walker.s2.mem_reads')).toBe(20);
    expect(r.stat('soc.iommu.walker.s1.walks')).toBe(1);
    expect(r.stat('soc.iommu.walker.s2.walks')).toBe(5);
    expect(r.stat('soc.iommu.walker.walks')).toBe(1);
    expect(r.stat('soc.iommu.walker.nested.walks')).toBe(1);
  });

  test('stage 2 in 2 MiB blocks: 3-level stage-2 walks, (4+1)(3+1) - 1 = 19 reads', () => {
    const { r, t } = rig({ s2Shift: 21 });
    t.s1.map(VA, DATA_IPA, 12);
    run(r, t.nested(3, 7), [VA]);
    expect(r.stat('soc.iommu.walker.mem_reads')).toBe(19);
    expect(r.stat('soc.iommu.walker.s2.mem_reads')).toBe(15);
  });

  test('stage-2 walk caches (L0..L2): once warm, every stage-2 walk is one read, 4 x 2 + 1 = 9 reads', () => {
    const { r, t } = rig({ s2Caches: ['L0', 'L1', 'L2'] });
    t.s1.map(VA, DATA_IPA, 12);
    t.s1.map(VA + 0x40_0000_0000, DATA_IPA, 12); // another L0 entry: no stage-1 table shared with VA's walk
    run(r, t.nested(3, 7), [VA, VA + 0x40_0000_0000]);
    // First walk, caches warming as it goes: the root table's stage-2 walk reads 4; the other
    // stage-1 tables are in the same 2 MiB of IPA (S2 L2 hit: 1 read + the stage-1 entry);
    // the data IPA is in another 2 MiB of the same 1 GiB (S2 L1 hit: 2 reads).
    // 4 + 1 + 3 x (1 + 1) + 2 = 13. Second walk: every stage-2 walk hits L2: 4 x (1 + 1) + 1 = 9.
    expect(r.stat('soc.iommu.walker.mem_reads')).toBe(13 + 9);
    expect(r.stat('soc.iommu.walker.s2.walk_cache_hits')).toBe(4 + 5);
  });

  test('warm walk caches on every table level of both stages: 3 reads (stage-2 leaf, stage-1 leaf, stage-2 leaf)', () => {
    const { r, t } = rig({ s1Caches: ['L0', 'L1', 'L2'], s2Caches: ['L0', 'L1', 'L2'] });
    t.s1.map(VA, DATA_IPA, 12);
    t.s1.map(VA + PAGE, DATA_IPA + PAGE, 12);
    run(r, t.nested(3, 7), [VA, VA + PAGE]);
    expect(r.stat('soc.iommu.walker.mem_reads')).toBe(13 + 3); // the first walk as in the test above
    expect(r.stat('soc.iommu.walker.s1.walk_cache_hits')).toBe(1);
  });

  test('the TLB holds the combined translation: a second access to the page does not walk', () => {
    const { r, t } = rig();
    t.s1.map(VA, DATA_IPA, 21 - 9); // 4 KiB stage-1 page
    run(r, t.nested(3, 7), [VA, VA + 0x100]);
    expect(r.stat('soc.iommu.walker.walks')).toBe(1);
    expect(r.stat('soc.iommu.l2tlb.fills_4KiB')).toBe(1);
  });

  test('combined page size is the smaller of the two: a 2 MiB stage-1 block over 4 KiB stage-2 pages fills a 4 KiB entry', () => {
    const { r, t } = rig();
    t.s1.map(0x4000_0000, IPA_BASE + 0x20_0000, 21);
    const m = run(r, t.nested(3, 7), [0x4000_0000 + 0x5_0040, 0x4000_0000 + 0x6_0000]);
    expect(m.completed.map((c) => c.status)).toEqual([1, 1]);
    expect(r.stat('soc.iommu.walker.walks')).toBe(2); // the 4 KiB entry does not cover the second page
    expect(r.stat('soc.iommu.l2tlb.fills_2MiB')).toBe(0);
    expect(r.stat('soc.iommu.l2tlb.fills_4KiB')).toBe(2);
  });

  test('an output IPA outside guest RAM faults at stage 2 (level s2:...), memory untouched', () => {
    const { r, t } = rig();
    t.s1.map(VA, IPA_BASE + GUEST_SIZE, 12); // just past guest RAM
    const m = run(r, t.nested(3, 7), [VA]);
    expect(m.completed[0].status).not.toBe(1);
    expect(r.iommu.faults).toEqual([expect.objectContaining({ reason: 'not_present', level: 's2:L2' })]);
    // 4 stage-1 levels, each after a 4-read stage-2 walk, then the final stage-2 walk stops at
    // the empty L2 entry (guest RAM ends at a 2 MiB boundary).
    expect(r.stat('soc.iommu.walker.mem_reads')).toBe(4 * 5 + 3);
    expect(r.stat('soc.iommu.walker.faults')).toBe(1);
  });

  test('a stage-1 fault is a stage-1 level; its reads stop there', () => {
    const { r, t } = rig();
    t.s1.map(VA, DATA_IPA, 12);
    const m = run(r, t.nested(3, 7), [VA + 0x20_0000]); // same L2 table, empty L2 entry
    expect(m.completed[0].status).not.toBe(1);
    expect(r.iommu.faults).toEqual([expect.objectContaining({ reason: 'not_present', level: 'L2' })]);
    expect(r.stat('soc.iommu.walker.mem_reads')).toBe(3 * 5);
  });

  test('stage-2 write permission: a read-only stage-2 page turns a writable stage-1 page read-only', () => {
    const { r, t } = rig();
    t.s1.map(VA, DATA_IPA, 12);
    t.s2.unmap(DATA_IPA, 12);
    t.s2.map(DATA_IPA, DATA_IPA + OFFSET, 12, { readOnly: true });
    const { master } = r.device([{ cmd: Cmd.Read, addr: VA, size: 64 }, { cmd: Cmd.Write, addr: VA, size: 64 }], { context: t.nested(3, 7) });
    master.start();
    r.run();
    expect(master.completed.map((c) => c.status === 1)).toEqual([true, false]);
    expect(r.iommu.faults).toEqual([expect.objectContaining({ reason: 'permission', access: 'write' })]);
  });
});

test('concurrent nested walks queue for the walk slots and each reads 24 entries (timing and atomic agree)', () => {
  const { r, t } = rig();
  for (let i = 0; i < 8; i++) t.s1.map(VA + i * 0x20_0000, DATA_IPA + i * PAGE, 12); // 8 pages, 8 L3 tables
  const { master } = r.device(Array.from({ length: 8 }, (_v, i) => ({ cmd: Cmd.Read, addr: VA + i * 0x20_0000, size: 64 })), { context: t.nested(3, 7), maxOutstanding: 8 });
  master.start();
  r.run();
  expect(master.completed.map((c) => c.status)).toEqual(Array(8).fill(1));
  expect(r.stat('soc.iommu.walker.walks')).toBe(8);
  expect(r.stat('soc.iommu.walker.mem_reads')).toBe(8 * 24);
  // The same walk on the atomic path.
  const { r: r2, t: t2 } = rig();
  t2.s1.map(VA, DATA_IPA, 12);
  const port = r2.iommu.attachDevice('atomic', 9);
  r2.iommu.setStreamContext(9, { format: armLpae4k, mode: 'translate', privileged: false, allowRead: true, allowWrite: true, ...t2.nested(3, 7) } as never);
  const txn = new Transaction(64);
  txn.cmd = Cmd.Read;
  txn.addr = VA;
  txn.size = 64;
  r2.iommu.recvAtomic(txn, port);
  expect(txn.status).toBe(1);
  expect(r2.stat('soc.iommu.walker.mem_reads')).toBe(24);
});

describe('stage-2-only walks (stage 1 bypassed)', () => {
  test('the device address is an IPA: 4 reads with 4 KiB stage-2 pages, 3 with 2 MiB blocks', () => {
    for (const [shift, reads] of [[12, 4], [21, 3]]) {
      const { r, t } = rig({ s2Shift: shift });
      r.mem.write32(DATA_IPA + OFFSET, 0x1234_5678);
      const m = run(r, t.stage2Only(5), [DATA_IPA]);
      expect(m.completed[0].data.slice(0, 4)).toEqual(new Uint8Array([0x78, 0x56, 0x34, 0x12]));
      expect(r.stat('soc.iommu.walker.mem_reads')).toBe(reads);
      expect(r.stat('soc.iommu.walker.s2.walks')).toBe(1);
      expect(r.stat('soc.iommu.walker.s1.mem_reads')).toBe(0);
    }
  });
});

describe('stage-2 invalidation', () => {
  test('invalidate-ipa alone leaves the combined TLB entry (hardware may); invalidate-vmid drops it', () => {
    const { r, t } = rig({ s2Caches: ['L2'] });
    t.s1.map(VA, DATA_IPA, 12);
    const { master, streamId } = r.device([{ cmd: Cmd.Read, addr: VA, size: 64 }], { context: t.nested(3, 7) });
    master.start();
    r.run();
    expect(r.stat('soc.iommu.walker.walks')).toBe(1);
    // The hypervisor takes the page away from the guest.
    t.s2.unmap(DATA_IPA, 12);
    r.iommu.executeAtomic({ op: 'invalidate-ipa', vmid: 3, ipa: DATA_IPA, size: PAGE });
    const again = (n: number) => {
      const d = r.device([{ cmd: Cmd.Read, addr: VA, size: 64 }], { context: t.nested(3, 7) });
      d.master.start();
      r.run();
      expect(r.stat('soc.iommu.walker.walks')).toBe(n);
      return d.master.completed[0].status;
    };
    // A new stream has a cold L1 TLB, but the L2 TLB still holds VA -> PA: no walk, the access goes through.
    expect(again(1)).toBe(1);
    r.iommu.executeAtomic({ op: 'invalidate-vmid', vmid: 3 });
    expect(again(2)).not.toBe(1); // walks, and faults at stage 2
    expect(r.stat('soc.iommu.cmd.invalidate_ipa')).toBe(1);
    expect(r.stat('soc.iommu.cmd.invalidate_vmid')).toBe(1);
    expect(streamId).toBe(0);
  });

  test('the stale-TLB oracle walks both stages: a combined entry kept after invalidate-ipa alone is counted', () => {
    const { r, t } = rig({ stale: true });
    t.s1.map(VA, DATA_IPA, 12);
    const ctx = t.nested(3, 7);
    run(r, ctx, [VA, VA + 0x40]); // the second access hits: not stale
    expect(r.stat('soc.iommu.stale_tlb_hits')).toBe(0);
    t.s2.unmap(DATA_IPA, 12);
    r.iommu.executeAtomic({ op: 'invalidate-ipa', vmid: 3, ipa: DATA_IPA, size: PAGE });
    const m = run(r, ctx, [VA]);
    expect(m.completed[0].status).toBe(1); // the hazard: the access still goes through
    expect(r.stat('soc.iommu.stale_tlb_hits')).toBe(1);
  });

  test('the stale-ATC oracle walks both stages: a translation is judged by the PA both stages give, and a stage-2 unmap makes it stale', () => {
    const { r, t } = rig({ stale: true });
    t.s1.map(VA, DATA_IPA, 12);
    const pa = DATA_IPA + OFFSET;
    const nested = r.device([], { context: t.nested(3, 7) }).streamId;
    const s2only = r.device([], { context: t.stage2Only(3) }).streamId;
    expect(r.iommu.atsTranslationStale(nested, VA + 0x40, pa + 0x40, true)).toBe(false);
    // The IPA is not where the data is: a device holding it would be using a stale (wrong) translation.
    expect(r.iommu.atsTranslationStale(nested, VA + 0x40, DATA_IPA + 0x40, false)).toBe(true);
    expect(r.iommu.atsTranslationStale(s2only, DATA_IPA, pa, false)).toBe(false);
    expect(r.iommu.atsTranslationStale(s2only, DATA_IPA, DATA_IPA, false)).toBe(true);
    // The hypervisor takes the page away: both kinds of stream lose it.
    t.s2.unmap(DATA_IPA, 12);
    expect(r.iommu.atsTranslationStale(nested, VA + 0x40, pa + 0x40, false)).toBe(true);
    expect(r.iommu.atsTranslationStale(s2only, DATA_IPA, pa, false)).toBe(true);
  });

  test('invalidate-vmid leaves other VMIDs and stage-1-only contexts cached', () => {
    const { r, t } = rig();
    t.s1.map(VA, DATA_IPA, 12);
    r.tables.map(VA, MEM_BASE, 12);
    const st = [run(r, t.nested(3, 7), [VA]), run(r, t.nested(4, 7), [VA]), run(r, {}, [VA])].map((m) => m.completed[0].status);
    expect(st).toEqual([1, 1, 1]);
    expect(r.iommu.l2.validCount).toBe(3);
    r.iommu.executeAtomic({ op: 'invalidate-vmid', vmid: 3 });
    expect(r.iommu.l2.validCount).toBe(2);
  });

  test('invalidate-ipa drops stage-2-only TLB entries in the range', () => {
    const { r, t } = rig();
    run(r, t.stage2Only(5), [DATA_IPA, DATA_IPA + PAGE]);
    expect(r.iommu.l2.validCount).toBe(2);
    r.iommu.executeAtomic({ op: 'invalidate-ipa', vmid: 5, ipa: DATA_IPA, size: PAGE });
    expect(r.iommu.l2.validCount).toBe(1);
  });
});

test('contexts with stage 2 are checked: VMID range, tag, stage-2 format', () => {
  const { r, t } = rig();
  const bad = (context: object) => () => r.device([], { context });
  expect(bad({ ...t.nested(3, 7), asid: 7 })).toThrow(/tagged stage2Tag/);
  expect(bad({ ...t.nested(3, 7), stage2: { ...t.nested(3, 7).stage2!, vmid: 0 }, asid: 7 })).toThrow(/VMID 0/);
  expect(bad({ ...t.nested(3, 7), stage2: { ...t.nested(3, 7).stage2!, format: armLpae4k } })).toThrow(/not a stage-2 format/);
  expect(bad({ ...t.stage2Only(5), asid: 5 * 65536 + 1 })).toThrow(/stage2Tag\(vmid, 0\)/);
});
