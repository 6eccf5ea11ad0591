import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { traceDiffCommand } from '../../cli/traceDiff';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socsim-trace-diff-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

let fileNo = 0;
function write(text: string): string {
  const f = path.join(dir, `t${++fileNo}.jsonl`);
  fs.writeFileSync(f, text);
  return f;
}

type Rec = Record<string, unknown>;

function header(extra: Rec = {}): Rec {
  return {
    format: 'socsim-trace', version: 1, config_hash: '0bcb911a69596e83', seed: 3,
    categories: ['map', 'unmap', 'tlb', 'walk', 'fault', 'inval', 'dma', 'bus'],
    scenario: 'golden_copy_4k', soc: 'minimal', mode: 'timing', ...extra,
  };
}

/** n records in the Tracer's key order: a dma start, then bus reads, a walk every 10th. */
function records(n: number): Rec[] {
  const out: Rec[] = [];
  for (let i = 1; i <= n; i++) {
    const t = i * 1000;
    if (i === 1) out.push({ t: 0, cat: 'dma', dev: 'soc.dma0', ev: 'start', src: '0x80000000', dst: '0x81002000', bytes: 4096 });
    else if (i % 10 === 0) out.push({ t, cat: 'walk', mmu: 'soc.iommu', level: 1, addr: `0x${(0x9000_0000 + i * 8).toString(16)}` });
    else out.push({ t, cat: 'bus', xbar: 'soc.xbar', master: 0, op: 'R', addr: `0x${(0x8000_0000 + i * 64).toString(16)}`, size: 64, status: 'ok' });
  }
  return out;
}

/** The end record a run writes last (issue 15). */
function end(recs: Rec[], reason = 'until', extra: Rec = {}): Rec {
  return { t: 5_000_000, cat: 'end', reason, records: recs.length, events: 3 * recs.length, ...extra };
}

/** A trace as a run writes it: header, records, end record (`endRec` null: cut off, no end record). */
function trace(recs: Rec[], h: Rec = header(), endRec: Rec | null = end(recs)): string {
  return [h, ...recs, ...(endRec ? [endRec] : [])].map((r) => JSON.stringify(r)).join('\n') + '\n';
}

function diff(a: string, b: string, opts?: { context?: number }): { code: number; lines: string[]; text: string } {
  const lines: string[] = [];
  const code = traceDiffCommand(a, b, (l) => lines.push(l), opts);
  return { code, lines, text: lines.join('\n') };
}

describe('trace diff', () => {
  test('identical files: exit 0 and one line', () => {
    const text = trace(records(100));
    const r = diff(write(text), write(text));
    expect(r.code).toBe(0);
    expect(r.lines).toEqual(['identical: 100 records']);
  });

  test('a changed field in record 57 of 100: names the record, the fields, both values and the 3 records before', () => {
    const recs = records(100);
    const a = write(trace(recs));
    const changed = recs.map((r) => ({ ...r }));
    changed[56].t = 57500;
    changed[56].addr = '0x80000e80';
    const b = write(trace(changed));
    const r = diff(a, b);
    expect(r.code).toBe(1);
    const j = (x: Rec) => JSON.stringify(x);
    const start = r.lines.indexOf('first divergence at record 57 (line 58)');
    expect(start).toBeGreaterThan(0);
    expect(r.lines.slice(start, start + 17)).toEqual([
      'first divergence at record 57 (line 58)',
      '3 records before it, the same in both:',
      `  record 54 (line 55): ${j(recs[53])}`,
      `  record 55 (line 56): ${j(recs[54])}`,
      `  record 56 (line 57): ${j(recs[55])}`,
      `a record 57 (line 58): ${j(recs[56])}`,
      `b record 57 (line 58): ${j(changed[56])}`,
      'differing fields:',
      '  t: 57000 vs 57500',
      '  addr: "0x80000e40" vs "0x80000e80"',
      'then in a:',
      `  record 58 (line 59): ${j(recs[57])}`,
      `  record 59 (line 60): ${j(recs[58])}`,
      `  record 60 (line 61): ${j(recs[59])}`,
      '  … 40 more records',
      'then in b:',
      `  record 58 (line 59): ${j(recs[57])}`,
    ]);
    expect(r.text).not.toContain('header differs');
    // Same counts on both sides.
    expect(r.text).toContain('  total     100  100      0');
  });

  test('the context option sets how many records are shown around the divergence', () => {
    const recs = records(20);
    const changed = recs.map((r) => ({ ...r }));
    changed[9].level = 2;
    const r = diff(write(trace(recs)), write(trace(changed)), { context: 1 });
    expect(r.text).toContain('1 record before it, the same in both:\n  record 9 (line 10)');
    expect(r.text).toContain('  level: 1 vs 2');
    expect(r.text).toContain('then in a:\n  record 11 (line 12)');
    expect(r.text).not.toContain('record 8 ');
    expect(r.text).not.toContain('record 12 ');
  });

  test('a divergence at record 1 has no records before it', () => {
    const recs = records(5);
    const changed = recs.map((r) => ({ ...r }));
    changed[0].bytes = 8192;
    const r = diff(write(trace(recs)), write(trace(changed)));
    expect(r.text).toContain('first divergence at record 1 (line 2)\nno records before it\n');
    expect(r.text).toContain('  bytes: 4096 vs 8192');
  });

  test('a field present on one side only is shown as absent', () => {
    const recs = records(5);
    const changed = recs.map((r) => ({ ...r }));
    changed[2].retry = true;
    delete changed[2].status;
    const r = diff(write(trace(recs)), write(trace(changed)));
    expect(r.text).toContain('differing fields:\n  status: "ok" vs (absent)\n  retry: (absent) vs true');
  });

  test('a missing record: the first divergence is where it was dropped, and the counts show it', () => {
    const recs = records(100);
    const missing = recs.filter((_, i) => i !== 29); // record 30, a walk
    const r = diff(write(trace(recs)), write(trace(missing)));
    expect(r.code).toBe(1);
    expect(r.text).toContain('first divergence at record 30 (line 31)');
    expect(r.text).toContain(`a record 30 (line 31): ${JSON.stringify(recs[29])}`);
    expect(r.text).toContain(`b record 30 (line 31): ${JSON.stringify(recs[30])}`);
    expect(r.text).toContain('  cat: "walk" vs "bus"');
    expect(r.text).toContain("a's record 30 is not in b: b's record 30 is a's record 31");
    expect(r.lines.slice(-6)).toEqual([
      'records per category (b - a):',
      '  category    a   b  delta',
      '  bus        89  89      0',
      '  dma         1   1      0',
      '  walk       10   9     -1',
      '  total     100  99     -1',
    ]);
    // And the other way round: an inserted record.
    const r2 = diff(write(trace(missing)), write(trace(recs)));
    expect(r2.text).toContain("b's record 30 is not in a: a's record 30 is b's record 31");
  });

  test('a different config hash is reported as a header difference with its usual cause', () => {
    const recs = records(10);
    const r = diff(write(trace(recs)), write(trace(recs, header({ config_hash: 'ffffffffffffffff' }))));
    expect(r.code).toBe(1);
    expect(r.lines.slice(0, 6)).toEqual([
      `a: ${path.join(dir, `t${fileNo - 1}.jsonl`)}`,
      `b: ${path.join(dir, `t${fileNo}.jsonl`)}`,
      '',
      'header differs:',
      '  config_hash: "0bcb911a69596e83" vs "ffffffffffffffff"',
      '    the runs used different configs (the config hash covers the SoC config and the scenario);',
    ]);
    expect(r.text).toContain('usual cause of a golden trace failure');
    expect(r.text).toContain('records: identical (10 records)');
  });

  test('seed, categories and extra header fields are compared too', () => {
    const recs = records(3);
    const h = header({ seed: 4, categories: ['dma', 'bus'], mode: 'atomic', note: 'x' });
    delete h.soc;
    const r = diff(write(trace(recs)), write(trace(recs, h)));
    expect(r.code).toBe(1);
    const i = r.lines.indexOf('header differs:');
    expect(r.lines.slice(i, i + 7)).toEqual([
      'header differs:',
      '  seed: 3 vs 4',
      '  categories: ["map","unmap","tlb","walk","fault","inval","dma","bus"] vs ["dma","bus"]',
      '    only in a: map, unmap, tlb, walk, fault, inval; only in b: -',
      '  soc: "minimal" vs (absent)',
      '  mode: "timing" vs "atomic"',
      '  note: (absent) vs "x"',
    ]);
  });

  test('a truncated file: one side ends early', () => {
    const recs = records(100);
    const r = diff(write(trace(recs)), write(trace(recs.slice(0, 80))));
    expect(r.code).toBe(1);
    expect(r.text).toContain('first divergence at record 81: b ends after 80 records, a continues with 20 more records');
    expect(r.text).toContain('3 records before it, the same in both:\n  record 78 (line 79)');
    expect(r.text).toContain(`a record 81 (line 82): ${JSON.stringify(recs[80])}`);
    expect(r.text).toContain('b: end of file after 80 records');
    expect(r.text).toContain(`then in a:\n  record 82 (line 83): ${JSON.stringify(recs[81])}`);
    expect(r.text).toContain('  … 16 more records');
    expect(r.text).not.toContain('then in b:');
    // a shorter
    const r2 = diff(write(trace(recs.slice(0, 1))), write(trace(recs.slice(0, 2))));
    expect(r2.text).toContain('first divergence at record 2: a ends after 1 record, b continues with 1 more record');
    expect(r2.text).toContain('a: end of file after 1 record');
  });

  test('a file cut off in the middle of a line', () => {
    const recs = records(10);
    const full = trace(recs);
    const noEnd = trace(recs, header(), null);
    const cutText = noEnd.slice(0, noEnd.length - 20);
    const r = diff(write(full), write(cutText));
    expect(r.code).toBe(1);
    expect(r.text).toContain('first divergence at record 10 (line 11)');
    expect(r.text).toContain('  b: not a JSON object (a cut-off line?)');
    expect(r.text).toContain('b has no end record: the trace was cut off after 10 records (the run was killed, or is still running)');
    expect(r.text).toContain('a ended with reason "until": {"t":5000000,"cat":"end","reason":"until","records":10,"events":30}');
    expect(r.text).toContain('b: the last line has no newline: the file was cut off');
  });

  test('a missing end record (a truncated trace) is a difference even when every record matches', () => {
    const recs = records(10);
    const r = diff(write(trace(recs)), write(trace(recs, header(), null)));
    expect(r.code).toBe(1);
    expect(r.lines).toContain('records: identical (10 records)');
    expect(r.lines).toContain('b has no end record: the trace was cut off after 10 records (the run was killed, or is still running)');
    expect(r.lines).not.toContain('a has no end record: the trace was cut off after 10 records (the run was killed, or is still running)');
    const r2 = diff(write(trace(recs, header(), null)), write(trace(recs)));
    expect(r2.lines).toContain('a has no end record: the trace was cut off after 10 records (the run was killed, or is still running)');
    // Both cut off at the same place: the same bytes, identical, with a note.
    const both = diff(write(trace(recs, header(), null)), write(trace(recs, header(), null)));
    expect(both.code).toBe(0);
    expect(both.lines).toEqual(['identical: 10 records (neither trace has an end record: both were cut off, or written by a socsim older than end records)']);
  });

  test('a different end reason is a difference, with the end records and their differing fields', () => {
    const recs = records(10);
    const r = diff(write(trace(recs)), write(trace(recs, header(), end(recs, 'interrupted', { signal: 'SIGINT' }))));
    expect(r.code).toBe(1);
    expect(r.text).toContain('records: identical (10 records)\n\nthe runs ended differently: "until" vs "interrupted"\n');
    expect(r.text).toContain('  reason: "until" vs "interrupted"\n  signal: (absent) vs "SIGINT"');
    // The same reason with other fields (e.g. another event count) still differs.
    const r2 = diff(write(trace(recs)), write(trace(recs, header(), end(recs, 'until', { events: 31 }))));
    expect(r2.code).toBe(1);
    expect(r2.text).toContain('the runs ended differently (both "until"):');
    expect(r2.text).toContain('  events: 30 vs 31');
    // The end record is not counted as a record.
    expect(r2.text).toContain('  total     10  10      0');
  });

  test('per-category counts over the whole of both files, as an aligned table sorted by category', () => {
    const a = records(1000);
    const b = [...records(1000).slice(0, 500), ...Array.from({ length: 12 }, (_, i) => ({ t: 2_000_000 + i, cat: 'tlb', tlb: 'soc.iommu.l2tlb', va: '0x1000' }))];
    const r = diff(write(trace(a)), write(trace(b)));
    const i = r.lines.indexOf('records per category (b - a):');
    expect(r.lines.slice(i)).toEqual([
      'records per category (b - a):',
      '  category     a    b  delta',
      '  bus        899  449   -450',
      '  dma          1    1      0',
      '  tlb          0   12    +12',
      '  walk       100   50    -50',
      '  total     1000  512   -488',
    ]);
  });

  test('the output is deterministic and blank lines are skipped but counted as lines', () => {
    const recs = records(12);
    const a = write(trace(recs));
    const changed = recs.map((r) => ({ ...r }));
    changed[5].op = 'W';
    const lines = trace(changed).split('\n');
    lines.splice(3, 0, ''); // a blank line after record 2
    const b = write(lines.join('\n'));
    const r1 = diff(a, b);
    const r2 = diff(a, b);
    expect(r1.text).toBe(r2.text);
    expect(r1.text).toContain('first divergence at record 6 (line 7 in a, line 8 in b)');
    expect(r1.text).toContain('  op: "R" vs "W"');
  });

  test('traces larger than one read chunk are streamed correctly', () => {
    const recs = records(20000);
    const text = trace(recs);
    expect(text.length).toBeGreaterThan(1 << 20);
    const changed = recs.map((r) => ({ ...r }));
    changed[17000].status = 'retry';
    const r = diff(write(text), write(trace(changed)));
    expect(r.text).toContain('first divergence at record 17001 (line 17002)');
    expect(r.text).toContain('  status: "ok" vs "retry"');
    expect(r.text).toContain('  total     20000  20000      0');
    expect(diff(write(text), write(text)).lines).toEqual(['identical: 20000 records']);
  });

  test('multi-byte UTF-8 characters split across read chunks are decoded intact', () => {
    const recs = records(3000).map((r, i) => ({ ...r, note: `ünïcödé ${'€'.repeat(i % 7)}` }));
    const changed = recs.map((r) => ({ ...r }));
    changed[2999].note = 'changed';
    const r = diff(write(trace(recs)), write(trace(changed)));
    for (const k of [2997, 2998, 2999]) expect(r.text).toContain(`record ${k} (line ${k + 1}): ${JSON.stringify(recs[k - 1])}`);
    expect(r.text).toContain(`  note: ${JSON.stringify(recs[2999].note)} vs "changed"`);
  });

  test('CRLF line endings compare equal to LF', () => {
    const text = trace(records(5));
    const r = diff(write(text), write(text.replace(/\n/g, '\r\n')));
    expect(r.lines).toEqual(['identical: 5 records']);
  });

  test('a non-trace file throws an Error naming the file', () => {
    const good = write(trace(records(3)));
    const notJson = write('hello world\n');
    expect(() => diff(notJson, good)).toThrow(`${notJson}: not a socsim trace: line 1 is not a JSON header`);
    const otherJson = write('{"t":0,"cat":"bus"}\n');
    expect(() => diff(good, otherJson)).toThrow(`${otherJson}: not a socsim trace: line 1 has no "format":"socsim-trace" header`);
    const empty = write('');
    expect(() => diff(good, empty)).toThrow(`${empty}: empty file, not a socsim trace`);
    const v2 = write(trace(records(3), header({ version: 2 })));
    expect(() => diff(good, v2)).toThrow(`${v2}: trace format version 2 is not supported (this socsim reads version 1)`);
    const missing = path.join(dir, 'does-not-exist.jsonl');
    expect(() => diff(good, missing)).toThrow(`cannot read trace ${missing}: no such file`);
    expect(() => diff(dir, good)).toThrow(`cannot read trace ${dir}`);
  });

  test('the golden trace compared with itself is identical', () => {
    const golden = path.join(__dirname, '..', 'golden', 'minimal-copy-4k.trace.jsonl');
    const n = fs.readFileSync(golden, 'utf8').trimEnd().split('\n').length - 2; // not the header, not the end record
    expect(diff(golden, golden).lines).toEqual([`identical: ${n} records`]);
  });
});
