import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { run, type RunOutput } from '../../../scenario/run';
import {
  ChromeTraceWriter, MemoryChromeSink, chromeTraceFromJsonl, createTraceWriter, socMasterNames, type ChromeTraceOptions,
} from '../../../sim/engine/chromeTrace';
import { FileTraceWriter, MemoryTraceWriter, Tracer } from '../../../sim/engine/trace';
import { REPO } from '../../helpers/configFiles';

const DEFAULT = path.join(REPO, 'soc-configs', 'scenarios', 'default.json');
const NIC_LAZY = path.join(REPO, 'soc-configs', 'scenarios', 'server-io-nic-lazy.json');

interface Ev {
  name: string; ph: string; cat?: string; ts?: number; dur?: number; pid: number; tid?: number; s?: string;
  args?: Record<string, any>;
}

/** A sink that notes how much was written before close, to check the output streams. */
class CountingSink extends MemoryChromeSink {
  writesBeforeClose = -1;
  override close(): void {
    this.writesBeforeClose = this.chunks.length;
    super.close();
  }
}

function chromeRun(file: string, until: number, opts: ChromeTraceOptions = {}) {
  const sink = new CountingSink();
  const out = run(file, { traceWriter: new ChromeTraceWriter(sink, opts), until });
  const text = sink.text();
  const json = JSON.parse(text) as { traceEvents: Ev[]; otherData: Record<string, unknown> };
  return { sink, out, text, json, events: json.traceEvents };
}

function jsonlRun(file: string, until: number) {
  const w = new MemoryTraceWriter();
  const out = run(file, { traceWriter: w, until });
  return { out, text: w.text(), records: w.lines.slice(1).map((l) => JSON.parse(l) as Record<string, any>) };
}

const ns = (us: number) => Math.round(us * 1000);

/** Every 'X' slice on one tid either nests in or follows the slices before it (Perfetto's rule). */
function expectProperNesting(events: Ev[]): void {
  const byTid = new Map<number, Ev[]>();
  events.filter((e) => e.ph === 'X').forEach((e) => {
    const l = byTid.get(e.tid!);
    if (l) l.push(e);
    else byTid.set(e.tid!, [e]);
  });
  for (const [tid, list] of byTid) {
    const sorted = list.map((e, i) => ({ s: ns(e.ts!), e: ns(e.ts!) + ns(e.dur!), i })).sort((a, b) => a.s - b.s || b.e - a.e || a.i - b.i);
    const stack: { s: number; e: number }[] = [];
    for (const x of sorted) {
      while (stack.length && stack[stack.length - 1].e <= x.s) stack.pop();
      const top = stack[stack.length - 1];
      if (top && x.e > top.e) throw new Error(`tid ${tid}: slice [${x.s}, ${x.e}] ns overlaps [${top.s}, ${top.e}] ns without nesting`);
      stack.push(x);
    }
  }
}

function expectWithinRun(events: Ev[], out: RunOutput): void {
  const endUs = out.endTick / 1e6;
  for (const e of events) {
    if (e.ph === 'M') continue;
    expect(e.ts).toBeGreaterThanOrEqual(0);
    expect(e.ts!).toBeLessThanOrEqual(endUs + 1e-9);
    if (e.ph === 'X') {
      expect(e.dur).toBeGreaterThanOrEqual(0);
      expect(e.ts! + e.dur!).toBeLessThanOrEqual(endUs + 1e-6);
    }
  }
}

function threadNames(events: Ev[]): string[] {
  return events.filter((e) => e.ph === 'M' && e.name === 'thread_name').map((e) => e.args!.name);
}

/** The components the JSON Lines records name, and the track name each must have. */
function expectTrackPerComponent(records: Record<string, any>[], events: Ev[]): void {
  const names = new Set(threadNames(events));
  const tids = events.filter((e) => e.ph === 'M' && e.name === 'thread_name').map((e) => e.tid);
  expect(new Set(tids).size).toBe(tids.length);
  for (const r of records) {
    if (r.cat === 'bus') expect([...names].some((n) => n.startsWith(`${r.bus} ← `))).toBe(true);
    else if (r.cat === 'walk') expect(names.has(r.walker)).toBe(true);
    else if (r.cat === 'dma') expect(names.has(r.dev)).toBe(true);
    else if (r.cat === 'map' || r.cat === 'unmap') expect(names.has('kernel')).toBe(true);
    else if (r.cat === 'end') expect(events.filter((e) => e.cat === 'end')).toEqual([{ name: `end: ${r.reason}`, cat: 'end', ph: 'i', s: 'g', ts: r.t / 1e6, pid: 1, args: { t_ps: r.t, reason: r.reason, records: r.records, events: r.events } }]);
    else expect(names.has(r.unit)).toBe(true);
  }
}

describe('ChromeTraceWriter on a run', () => {
  test('default scenario, 2 µs: bus slices, copy slice, bandwidth counters, named tracks', () => {
    // Lanes uncapped here, so every bus record is drawn (the cap has its own tests).
    const a = chromeRun(DEFAULT, 2_000_000, { maxLanes: 999 });
    const j = jsonlRun(DEFAULT, 2_000_000);
    const phases = new Set(a.events.map((e) => e.ph));
    expect([...phases].sort()).toEqual(['C', 'M', 'X', 'i']); // the one instant: the end record
    expect(a.json.otherData.end).toEqual({ t_ps: 2_000_000, reason: 'until', records: j.records.length - 1, events: a.out.events });
    expect(a.events.filter((e) => e.name === 'process_name')).toEqual([
      { name: 'process_name', ph: 'M', pid: 1, args: { name: 'minimal: default' } },
      { name: 'process_name', ph: 'M', pid: 2, args: { name: 'soc.dma0' } },
      { name: 'process_name', ph: 'M', pid: 3, args: { name: 'soc.xbar' } },
    ]);
    // A process per top-level unit: the copy on the DMA engine's, bus slices and bandwidth on the crossbar's.
    expect(new Set(a.events.filter((e) => e.cat === 'dma').map((e) => e.pid))).toEqual(new Set([2]));
    expect(new Set(a.events.filter((e) => e.cat === 'bus' || e.name === 'soc.xbar bandwidth').map((e) => e.pid))).toEqual(new Set([3]));
    expect(a.json.otherData).toMatchObject({ format: 'socsim-trace', version: 1, seed: a.out.seed, config_hash: a.out.configHash });

    const busRecords = j.records.filter((r) => r.cat === 'bus');
    const busSlices = a.events.filter((e) => e.ph === 'X' && e.cat === 'bus');
    expect(busRecords.length).toBeGreaterThan(100);
    expect(busSlices).toHaveLength(busRecords.length);
    // Each slice is [t - lat, t] of its record, in µs rounded to ns.
    for (let i = 0; i < busRecords.length; i++) {
      const r = busRecords[i];
      const s = busSlices[i];
      expect(s.args).toMatchObject({ t_ps: r.t, addr: r.addr, lat_ps: r.lat_ps, master: r.master });
      expect(ns(s.ts!)).toBe(Math.round((r.t - r.lat_ps) / 1000));
      expect(ns(s.ts!) + ns(s.dur!)).toBe(Math.round(r.t / 1000));
    }
    // The copy has not finished at 2 µs: one slice to the end of the trace, marked so.
    const copies = a.events.filter((e) => e.cat === 'dma');
    expect(copies).toHaveLength(1);
    expect(copies[0]).toMatchObject({ ph: 'X', name: 'copy', ts: 0, args: { incomplete: true, bytes: 16 * 1024 * 1024 } });
    const bw = a.events.filter((e) => e.ph === 'C' && e.name === 'soc.xbar bandwidth');
    expect(bw.length).toBeGreaterThan(10);
    expect(bw.some((e) => e.args!['GB/s'] > 1)).toBe(true);

    // The DMA engine's master id is learned from its first read; lanes are named after the track.
    expect(threadNames(a.events)).toContain('soc.xbar ← soc.dma0');
    expect(threadNames(a.events)).toContain('soc.xbar ← soc.dma0 [2]');
    expectTrackPerComponent(j.records, a.events);
    expectWithinRun(a.events, a.out);
    expectProperNesting(a.events);
    // Streamed: chunks went out before close.
    expect(a.sink.writesBeforeClose).toBeGreaterThan(1);
  });

  test('server-io-nic-lazy, 50 µs: walks, TLB/map/unmap/inval instants, counters', () => {
    const a = chromeRun(NIC_LAZY, 50_000_000);
    const j = jsonlRun(NIC_LAZY, 50_000_000);
    expect([...new Set(a.events.map((e) => e.ph))].sort()).toEqual(['C', 'M', 'X', 'i']);
    const count = (cat: string) => j.records.filter((r) => r.cat === cat).length;

    expect(a.events.filter((e) => e.ph === 'X' && e.cat === 'bus')).toHaveLength(count('bus'));
    for (const cat of ['tlb', 'map', 'unmap', 'inval', 'fault']) {
      expect(a.events.filter((e) => e.ph === 'i' && e.cat === cat)).toHaveLength(count(cat));
    }
    expect(count('walk')).toBeGreaterThan(0);
    expect(count('tlb')).toBeGreaterThan(0);
    expect(count('inval')).toBeGreaterThan(0);

    // One read slice per walk record, each inside a walk slice on the walker's track.
    const walkEvents = a.events.filter((e) => e.cat === 'walk');
    const walks = walkEvents.filter((e) => e.name === 'walk');
    const reads = walkEvents.filter((e) => e.name !== 'walk');
    expect(walkEvents.every((e) => e.ph === 'X')).toBe(true);
    // Walk records: one per table read, and one `ev:'done'` per walk (its start and latency).
    const readRecs = j.records.filter((r) => r.cat === 'walk' && r.ev === undefined);
    const doneRecs = j.records.filter((r) => r.cat === 'walk' && r.ev === 'done');
    expect(reads).toHaveLength(readRecs.length);
    expect(walks).toHaveLength(doneRecs.length);
    expect(walks.map((w) => [w.args!.start_ps, w.args!.end_ps - w.args!.start_ps])).toEqual(doneRecs.map((r) => [r.start, r.lat_ps]));
    expect(walks.reduce((n, w) => n + w.args!.reads, 0)).toBe(reads.length);
    const walkerTids = new Set(a.events.filter((e) => e.name === 'thread_name' && e.args!.name.startsWith('soc.iommu.walker')).map((e) => e.tid));
    for (const rd of reads) {
      expect(walkerTids.has(rd.tid)).toBe(true);
      const parent = walks.find((w) => w.tid === rd.tid && ns(w.ts!) <= ns(rd.ts!) && ns(rd.ts!) + ns(rd.dur!) <= ns(w.ts!) + ns(w.dur!));
      expect(parent).toBeDefined();
      expect(rd.args!.va).toBe(parent!.args!.va);
    }
    // Each read lasts as long as the walker's bus read of that address (same issue tick).
    const walkRecs = readRecs;
    for (const rd of reads.filter((r) => !r.args!.incomplete)) {
      const bus = j.records.find((r) => r.cat === 'bus' && r.addr === rd.args!.read && r.t - r.lat_ps === rd.args!.issue_ps);
      expect(bus).toBeDefined();
      expect(rd.args!.done_ps).toBe(bus!.t);
    }
    expect(walkRecs.every((r) => reads.some((rd) => rd.args!.issue_ps === r.t && rd.args!.read === r.read))).toBe(true);

    // TLB misses and faults sit on the IOMMU's track; map/unmap on the kernel track.
    const tidOf = (name: string) => a.events.find((e) => e.name === 'thread_name' && e.args!.name === name)!.tid;
    expect(a.events.filter((e) => e.cat === 'tlb').every((e) => e.tid === tidOf('soc.iommu'))).toBe(true);
    expect(a.events.filter((e) => e.cat === 'map' && e.ph === 'i').every((e) => e.tid === tidOf('kernel'))).toBe(true);
    // Counters: crossbar bandwidth, queue depths per master (the bus records' q_out/q_in),
    // TLB misses per µs, and bytes mapped per unit (map - unmap).
    const counterNames = new Set(a.events.filter((e) => e.ph === 'C').map((e) => e.name));
    expect(counterNames).toEqual(new Set([
      'soc.xbar bandwidth', 'soc.xbar ← soc.iommu queue', 'soc.xbar ← soc.nic queue', 'soc.iommu tlb misses', 'soc.iommu mapped', 'soc.cpu_mmu mapped',
    ]));
    const queue = a.events.filter((e) => e.name === 'soc.xbar ← soc.nic queue');
    expect(queue.every((e) => typeof e.args!.q_out === 'number' && typeof e.args!.q_in === 'number')).toBe(true);
    const mappedEnd = a.events.filter((e) => e.name === 'soc.iommu mapped').pop()!.args!.bytes;
    const mapRecs = j.records.filter((r) => r.unit === 'soc.iommu');
    const expected = mapRecs.reduce((v, r) => v + (r.cat === 'map' ? r.size : r.cat === 'unmap' ? -r.unmapped : 0), 0);
    expect(mappedEnd).toBe(expected);

    expectTrackPerComponent(j.records, a.events);
    expectWithinRun(a.events, a.out);
    expectProperNesting(a.events);
  });

  test('two runs give byte-identical output', () => {
    expect(chromeRun(NIC_LAZY, 20_000_000).text).toBe(chromeRun(NIC_LAZY, 20_000_000).text);
    expect(chromeRun(DEFAULT, 1_000_000).text).toBe(chromeRun(DEFAULT, 1_000_000).text);
  });

  test('socMasterNames names every master track; learned names agree with it', () => {
    const learned = chromeRun(NIC_LAZY, 20_000_000);
    const names = socMasterNames(learned.out.soc);
    expect(names.get(learned.out.soc.iommu('iommu').walker.masterId)).toBe('soc.iommu');
    const named = chromeRun(NIC_LAZY, 20_000_000, { masterNames: names });
    const busTracks = threadNames(named.events).filter((n) => n.startsWith('soc.xbar ← '));
    expect(busTracks).toContain('soc.xbar ← soc.nic');
    expect(busTracks.some((n) => n.includes('master '))).toBe(false);
    // Learning only fills in names: tracks it named carry the same names.
    for (const n of threadNames(learned.events).filter((x) => x.startsWith('soc.xbar ← ') && !x.includes('master '))) {
      expect(busTracks).toContain(n);
    }
    // Apart from track names, the events are the same.
    const strip = (evs: Ev[]) => evs.filter((e) => e.ph !== 'M');
    expect(strip(named.events)).toEqual(strip(learned.events));
  });

  test('chromeTraceFromJsonl converts a JSON Lines trace file to the same bytes', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socsim-chrome-'));
    const jsonl = path.join(dir, 'run.jsonl');
    const chrome = path.join(dir, 'run.json');
    const traced = run(NIC_LAZY, { tracePath: jsonl, until: 20_000_000 });
    // A run names the bus masters from its SoC (cli/run.ts); a conversion is told them.
    const res = chromeTraceFromJsonl(jsonl, chrome, { masterNames: socMasterNames(traced.soc) });
    const direct = chromeRun(NIC_LAZY, 20_000_000);
    expect(fs.readFileSync(chrome, 'utf8')).toBe(direct.text);
    expect(res.events).toBe(direct.events.length);
    // Records: every line but the header and the end record.
    expect(res.records).toBe(fs.readFileSync(jsonl, 'utf8').trim().split('\n').length - 2);
    // createTraceWriter picks the format.
    const viaFactory = path.join(dir, 'factory.json');
    run(NIC_LAZY, { traceWriter: createTraceWriter(viaFactory, 'chrome'), until: 20_000_000 });
    expect(fs.readFileSync(viaFactory, 'utf8')).toBe(direct.text);
    const jsonlWriter = createTraceWriter(path.join(dir, 'x.jsonl'));
    expect(jsonlWriter).toBeInstanceOf(FileTraceWriter);
    jsonlWriter.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('chromeTraceFromJsonl rejects a file that is not a socsim trace', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socsim-chrome-'));
    const bad = path.join(dir, 'bad.jsonl');
    fs.writeFileSync(bad, '{"t":0,"cat":"bus"}\n');
    expect(() => chromeTraceFromJsonl(bad, path.join(dir, 'out.json'))).toThrow(/bad\.jsonl:1: .*not a socsim-trace header/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('ChromeTraceWriter on records', () => {
  const HEADER = { format: 'socsim-trace', version: 1, config_hash: 'abc', seed: 1, categories: ['map', 'unmap', 'tlb', 'walk', 'fault', 'inval', 'dma', 'bus'], soc: 's', scenario: 'x' };

  function convert(records: object[], opts: ChromeTraceOptions = {}, header: object = HEADER): Ev[] {
    const sink = new MemoryChromeSink();
    const w = new ChromeTraceWriter(sink, opts);
    for (const r of [header, ...records]) w.writeLine(JSON.stringify(r));
    w.close();
    expect(sink.closed).toBe(true);
    return (JSON.parse(sink.text()) as { traceEvents: Ev[] }).traceEvents;
  }
  const bus = (t: number, lat: number, extra: object = {}) => ({ t, cat: 'bus', xbar: 'soc.xbar', master: 3, op: 'R', addr: '0x1000', size: 64, status: 'ok', lat_ps: lat, ...extra });

  test('overlapping bus transactions of one master go on separate lanes; ps resolution on request', () => {
    const ev = convert([bus(10_000, 8_000), bus(12_500, 6_000), bus(20_000, 5_000, { op: 'W', status: 'decode_error' })], { resolution: 'ps', masterNames: { 3: 'soc.gpu' } });
    const x = ev.filter((e) => e.ph === 'X');
    expect(x.map((e) => [e.name, e.ts, e.dur])).toEqual([['read', 0.002, 0.008], ['read', 0.0065, 0.006], ['write decode_error', 0.015, 0.005]]);
    expect(x[0].tid).not.toBe(x[1].tid);
    expect(x[2].tid).toBe(x[0].tid);
    expect(threadNames(ev)).toEqual(['soc.xbar ← soc.gpu', 'soc.xbar ← soc.gpu [2]']);
    // ns resolution (the default) rounds both ends to whole ns.
    const r = convert([bus(10_400, 8_800)]).find((e) => e.ph === 'X')!;
    expect([r.ts, r.dur]).toEqual([0.002, 0.008]);
  });

  test('lanes per track are capped: slices that find no free lane are counted in an overflow counter and otherData', () => {
    // Ten reads of one master all in flight together; 3 lanes.
    const recs = Array.from({ length: 10 }, (_, i) => bus(100_000 + i * 1_000, 50_000 + i * 1_000));
    const sink = new MemoryChromeSink();
    const w = new ChromeTraceWriter(sink, { maxLanes: 3, masterNames: { 3: 'soc.gpu' } });
    for (const r of [HEADER, ...recs]) w.writeLine(JSON.stringify(r));
    w.close();
    const json = JSON.parse(sink.text()) as { traceEvents: Ev[]; otherData: Record<string, unknown> };
    const ev = json.traceEvents;
    expect(ev.filter((e) => e.ph === 'X')).toHaveLength(3);
    expect(threadNames(ev)).toEqual(['soc.xbar ← soc.gpu', 'soc.xbar ← soc.gpu [2]', 'soc.xbar ← soc.gpu [3]']);
    expect(json.otherData.overflow).toEqual({ 'soc.xbar ← soc.gpu': 7 });
    const ovf = ev.filter((e) => e.ph === 'C' && e.name === 'soc.xbar ← soc.gpu overflow');
    expect(ovf.reduce((n, e) => n + e.args!['slices not drawn'], 0)).toBe(7);
    // The counter sits in the crossbar's process, with the lanes.
    const pid = ev.find((e) => e.name === 'process_name' && e.args!.name === 'soc.xbar')!.pid;
    expect(ovf.every((e) => e.pid === pid)).toBe(true);
    expect(() => new ChromeTraceWriter(new MemoryChromeSink(), { maxLanes: 0 })).toThrow(/maxLanes must be an integer from 1/);
  });

  test('the master_name of a bus record names its track; masterNames given by the caller win', () => {
    expect(threadNames(convert([bus(10_000, 1_000, { master_name: 'soc.dma0' })]))).toEqual(['soc.xbar ← soc.dma0']);
    expect(threadNames(convert([bus(10_000, 1_000, { master_name: 'soc.dma0' })], { masterNames: { 3: 'soc.gpu' } }))).toEqual(['soc.xbar ← soc.gpu']);
    // Traces written before records carried names: the id.
    expect(threadNames(convert([bus(10_000, 1_000)]))).toEqual(['soc.xbar ← master 3']);
  });

  test('table reads end at their bus read; consecutive reads of one VA form one walk', () => {
    const walk = (t: number, level: string, read: string, extra: object = {}) => ({ t, cat: 'walk', walker: 'soc.smmu.walker', asid: 1, va: '0x4000', level, read, ...extra });
    const ev = convert([
      walk(1000, 'L0', '0x100'),
      walk(1000, 'L0', '0x100', { va: '0x8000' }), // a second walk issuing the same read at the same tick
      { t: 5000, cat: 'bus', xbar: 'soc.xbar', master: 7, op: 'R', addr: '0x100', size: 8, status: 'ok', lat_ps: 4000 },
      { t: 5500, cat: 'bus', xbar: 'soc.xbar', master: 7, op: 'R', addr: '0x100', size: 8, status: 'ok', lat_ps: 4500 },
      walk(6000, 'L1', '0x208'),
      { t: 9000, cat: 'bus', xbar: 'soc.xbar', master: 7, op: 'R', addr: '0x208', size: 8, status: 'ok', lat_ps: 3000 },
      walk(9000, 'L0', '0x100'), // L0 again: a new walk of the same VA
      { t: 3_000_000, cat: 'tlb', unit: 'soc.smmu', dev: 'd', asid: 1, va: '0x9000', ev: 'miss' },
    ], { resolution: 'ps' });
    const x = ev.filter((e) => e.ph === 'X' && e.cat === 'walk').map((e) => [e.name, e.ts, e.dur, e.args!.va]);
    expect(x).toEqual([
      // Walks are written when they end, in the order they began (0x4000's first read came first).
      ['walk', 0.001, 0.008, '0x4000'], ['L0', 0.001, 0.004, '0x4000'], ['L1', 0.006, 0.003, '0x4000'],
      ['walk', 0.001, 0.0045, '0x8000'], ['L0', 0.001, 0.0045, '0x8000'],
      // Still reading at the end of the trace.
      ['walk', 0.009, 2.991, '0x4000'], ['L0', 0.009, 2.991, '0x4000'],
    ]);
    expect(ev.find((e) => e.name === 'walk' && e.ts === 0.009)!.args).toMatchObject({ incomplete: true, levels: 'L0' });
    expect(ev.find((e) => e.name === 'walk' && e.args!.va === '0x4000')!.args).toMatchObject({ levels: 'L0 → L1', reads: 2 });
    // The walker's master id is learned from the match.
    expect(threadNames(ev)).toContain('soc.xbar ← soc.smmu');
    expectProperNesting(ev);
  });

  test('an explicit walk end record (ev done, start) closes the walk exactly', () => {
    const ev = convert([
      { t: 2000, cat: 'walk', walker: 'w', asid: 1, va: '0x4000', level: 'L3', read: '0x100', start: 1000 },
      { t: 5000, cat: 'bus', xbar: 'x', master: 1, op: 'R', addr: '0x100', size: 8, status: 'ok', lat_ps: 3000 },
      { t: 5600, cat: 'walk', walker: 'w', asid: 1, va: '0x4000', ev: 'done', start: 1000, q_active: 0 },
    ], { resolution: 'ps' });
    expect(ev.filter((e) => e.ph === 'X' && e.cat === 'walk').map((e) => [e.name, e.ts, e.dur])).toEqual([['walk', 0.001, 0.0046], ['L3', 0.002, 0.003]]);
  });

  test('copies, faults, invalidations (instants, or slices with a start), q_ counters, map counters', () => {
    const ev = convert([
      { t: 0, cat: 'map', unit: 'soc.smmu', asid: 1, iova: '0x1000', pa: '0x2000', size: 8192 },
      { t: 100, cat: 'dma', dev: 'soc.dma0', ev: 'start', src: '0x1000', dst: '0x9000', bytes: 4096 },
      { t: 3000, cat: 'fault', unit: 'soc.smmu', dev: 'dma0', stream: 3, va: '0x1000', access: 'read', reason: 'not_present', level: 'L3', q_faults: 1 },
      { t: 4000, cat: 'dma', dev: 'soc.dma0', ev: 'done', status: 'translation_fault', bytes: 0, fault: '0x1000' },
      { t: 5000, cat: 'inval', unit: 'soc.smmu', op: 'invalidate-range', asid: 1, va: '0x1000', size: 4096 },
      { t: 7000, cat: 'inval', unit: 'soc.smmu', op: 'invalidate-all', asid: null, va: null, size: null, start: 6000 },
      { t: 8000, cat: 'unmap', unit: 'soc.smmu', asid: 1, iova: '0x1000', size: 8192, unmapped: 4096 },
    ], { resolution: 'ps' });
    const copy = ev.find((e) => e.cat === 'dma')!;
    expect(copy).toMatchObject({ ph: 'X', name: 'copy translation_fault', ts: 0.0001, dur: 0.0039, args: { src: '0x1000', bytes: 4096, written: 0, fault: '0x1000' } });
    expect(ev.find((e) => e.cat === 'fault')).toMatchObject({ ph: 'i', s: 't', name: 'fault not_present', ts: 0.003 });
    expect(ev.filter((e) => e.cat === 'inval').map((e) => [e.ph, e.name, e.ts, e.dur])).toEqual([
      ['i', 'invalidate-range', 0.005, undefined], ['X', 'invalidate-all', 0.006, 0.001],
    ]);
    expect(ev.filter((e) => e.ph === 'C').map((e) => [e.name, e.ts, e.args])).toEqual([
      ['soc.smmu mapped', 0, { bytes: 8192 }],
      ['soc.smmu queue', 0.003, { q_faults: 1 }],
      ['soc.smmu mapped', 0.008, { bytes: 4096 }],
    ]);
    expect(threadNames(ev)).toEqual(['kernel', 'soc.dma0', 'soc.smmu']);
  });

  test('bandwidth bins, with zeros across idle gaps and at the end', () => {
    const ev = convert([bus(50_000, 10_000), bus(60_000, 10_000), bus(350_000, 10_000)], { counterBinPs: 100_000, resolution: 'ps' });
    expect(ev.filter((e) => e.ph === 'C').map((e) => [e.ts, e.args!['GB/s']])).toEqual([
      [0, 1.28], [0.1, 0], [0.3, 0.64], [0.35, 0],
    ]);
  });

  test('walk records without bus records become instants', () => {
    const ev = convert([{ t: 10, cat: 'walk', walker: 'w', asid: 1, va: '0x0', level: 'L0', read: '0x10' }], {}, { ...HEADER, categories: ['walk'] });
    expect(ev.filter((e) => e.cat === 'walk').map((e) => [e.ph, e.name])).toEqual([['i', 'L0']]);
  });

  test('a Tracer drives it like any writer; records before the header are refused', () => {
    const sink = new MemoryChromeSink();
    const tracer = new Tracer(new ChromeTraceWriter(sink));
    tracer.start({ configHash: 'h', seed: 2 });
    tracer.emit('tlb', 5, { unit: 'u', dev: 'd', asid: 0, va: '0x0', ev: 'miss' });
    tracer.close();
    const out = JSON.parse(sink.text());
    expect(out.otherData).toMatchObject({ config_hash: 'h', seed: 2 });
    expect(out.traceEvents.filter((e: Ev) => e.ph === 'i')).toHaveLength(1);
    expect(() => new ChromeTraceWriter(new MemoryChromeSink()).writeLine('{"t":0,"cat":"bus"}')).toThrow(/not a socsim-trace header/);
    expect(() => new ChromeTraceWriter(new MemoryChromeSink()).writeLine('{"format":"socsim-trace","version":2}')).toThrow(/version 2/);
  });

  test('an empty trace is still valid JSON', () => {
    const sink = new MemoryChromeSink();
    new ChromeTraceWriter(sink).close();
    expect(JSON.parse(sink.text())).toEqual({ traceEvents: [] });
  });
});
