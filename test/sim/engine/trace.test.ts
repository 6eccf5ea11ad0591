import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { SimInvariantError } from '../../../sim/engine/errors';
import {
  FileTraceWriter, MemoryTraceWriter, TRACE_CATEGORIES, TRACE_FORMAT, TRACE_VERSION, Tracer,
  type TraceCategory, type TraceWriter,
} from '../../../sim/engine/trace';

/** A small deterministic workload touching every category. */
function workload(tracer: Tracer): void {
  tracer.start({ configHash: 'abc123', seed: 42, scenario: 'unit' });
  for (let i = 0; i < 50; i++) {
    const cat = TRACE_CATEGORIES[i % TRACE_CATEGORIES.length];
    if (tracer.enabled(cat)) tracer.emit(cat, i * 1000, { addr: 0x8000_0000 + i * 4096, n: i, note: `é"${i}\n` });
  }
  tracer.close();
}

function linesOf(text: string): Record<string, unknown>[] {
  return text.trimEnd().split('\n').map((l) => JSON.parse(l));
}

describe('Tracer', () => {
  test('header record first with format, version, config_hash, seed, categories', () => {
    const w = new MemoryTraceWriter();
    const t = new Tracer(w, ['tlb', 'walk']);
    t.start({ configHash: 'deadbeef', seed: 7, scenario: 'x' });
    t.emit('tlb', 100, { va: 4096, hit: true });
    const recs = linesOf(w.text());
    expect(recs[0]).toEqual({
      format: TRACE_FORMAT, version: TRACE_VERSION, config_hash: 'deadbeef', seed: 7,
      categories: ['tlb', 'walk'], scenario: 'x',
    });
    expect(Object.keys(recs[0]).slice(0, 4)).toEqual(['format', 'version', 'config_hash', 'seed']);
    expect(recs[1]).toEqual({ t: 100, cat: 'tlb', va: 4096, hit: true });
    expect(Object.keys(recs[1]).slice(0, 2)).toEqual(['t', 'cat']);
    expect(t.records).toBe(1);
  });

  test('category filter: disabled categories write nothing', () => {
    const w = new MemoryTraceWriter();
    const t = new Tracer(w, Tracer.parseFilter('map, walk'));
    expect(t.map).toBe(true);
    expect(t.walk).toBe(true);
    expect(t.tlb).toBe(false);
    expect(t.bus).toBe(false);
    expect(t.enabled('unmap')).toBe(false);
    t.start({ configHash: 'h', seed: 1 });
    for (const c of TRACE_CATEGORIES) t.emit(c, 5, { c });
    const recs = linesOf(w.text());
    expect(recs.slice(1).map((r) => r.cat)).toEqual(['map', 'walk']);
    expect(t.records).toBe(2);
  });

  test('no writer: nothing is enabled and nothing is recorded', () => {
    const t = new Tracer();
    for (const c of TRACE_CATEGORIES) expect(t.enabled(c)).toBe(false);
    t.start({ configHash: 'h', seed: 1 });
    t.emit('bus', 0, {});
    expect(t.records).toBe(0);
  });

  test('default filter enables every category', () => {
    const t = new Tracer(new MemoryTraceWriter());
    for (const c of TRACE_CATEGORIES) expect(t.enabled(c)).toBe(true);
  });

  test('parseFilter accepts known categories and rejects unknown ones', () => {
    expect(Tracer.parseFilter('map,unmap,tlb,walk,fault,inval,dma,bus')).toEqual([...TRACE_CATEGORIES]);
    expect(Tracer.parseFilter(' tlb , walk ,')).toEqual(['tlb', 'walk']);
    expect(Tracer.parseFilter('')).toEqual([]);
    expect(() => Tracer.parseFilter('tlb,tbl')).toThrow(/unknown trace category "tbl"/);
    expect(() => Tracer.parseFilter('TLB')).toThrow(/unknown trace category/);
  });

  test('record before header throws; header twice throws', () => {
    const t = new Tracer(new MemoryTraceWriter(), ['dma']);
    expect(() => t.emit('dma', 0, {})).toThrow(SimInvariantError);
    t.start({ configHash: 'h', seed: 1 });
    expect(() => t.start({ configHash: 'h', seed: 1 })).toThrow(SimInvariantError);
    t.emit('dma', 0, {});
    expect(t.records).toBe(1);
  });

  test('extra header fields may not override reserved ones', () => {
    const t = new Tracer(new MemoryTraceWriter());
    expect(() => t.start({ configHash: 'h', seed: 1, format: 'other' })).toThrow(SimInvariantError);
    expect(() => t.start({ configHash: 'h', seed: 1, version: 9 })).toThrow(SimInvariantError);
  });

  test('two identical runs give identical text', () => {
    const a = new MemoryTraceWriter();
    const b = new MemoryTraceWriter();
    workload(new Tracer(a));
    workload(new Tracer(b));
    expect(a.text()).toBe(b.text());
    expect(a.lines.length).toBe(51);
    expect(a.text().endsWith('\n')).toBe(true);
  });

  test('FileTraceWriter writes the same bytes as MemoryTraceWriter (small and chunked)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socsim-trace-'));
    try {
      // Small: one flush at close.
      const file = path.join(dir, 'small.jsonl');
      const mem = new MemoryTraceWriter();
      workload(new Tracer(new FileTraceWriter(file)));
      workload(new Tracer(mem));
      expect(fs.readFileSync(file)).toEqual(Buffer.from(mem.text(), 'utf8'));

      // Large: many 64 KiB chunk flushes, non-ASCII text included.
      const big = path.join(dir, 'big.jsonl');
      const writers: TraceWriter[] = [new FileTraceWriter(big), new MemoryTraceWriter()];
      const tracers = writers.map((w) => new Tracer(w, ['bus'] as TraceCategory[]));
      for (const t of tracers) {
        t.start({ configHash: 'big', seed: 3 });
        for (let i = 0; i < 20_000; i++) t.emit('bus', i, { addr: i * 64, s: 'ü€'.repeat(i % 5) });
        t.close();
      }
      const memText = (writers[1] as MemoryTraceWriter).text();
      expect(fs.statSync(big).size).toBeGreaterThan(1 << 17);
      expect(fs.readFileSync(big).equals(Buffer.from(memText, 'utf8'))).toBe(true);

      // close() is idempotent.
      writers[0].close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('an empty trace (no header, nothing written) is an empty file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socsim-trace-'));
    try {
      const f = path.join(dir, 'empty.jsonl');
      const w = new FileTraceWriter(f);
      w.close();
      expect(fs.readFileSync(f, 'utf8')).toBe('');
      expect(new MemoryTraceWriter().text()).toBe('');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
