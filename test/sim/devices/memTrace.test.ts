import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  COMPACT_MAGIC,
  CompactTraceWriter,
  TraceOp,
  TraceParseError,
  convertLackeyFile,
  fileLines,
  formatCompactRecord,
  lackeyToCompact,
  newParseCounts,
  parseCompact,
  parseLackey,
  readTraceFile,
  textLines,
  type TraceRecord,
} from '../../../sim/devices/memTrace';

/**
 * test/fixtures/lackey-sample.txt is real lackey output:
 *   valgrind --tool=lackey --trace-mem=yes /bin/true > full.txt 2>&1
 *   (head -2500 full.txt; tail -19 full.txt) > test/fixtures/lackey-sample.txt
 * i.e. the first 2500 lines (valgrind's "==" header and the first records) followed by
 * valgrind's "==" summary from the end of the run, so both kinds of skipped lines occur.
 * Counts below were taken with grep -c on the file:
 *   '^==' 24, '^I  ' 1940, '^ L ' 365, '^ S ' 170, '^ M ' 20, total lines 2519.
 * The test also recounts them with regular expressions, independently of the parser.
 */
const SAMPLE = path.join(__dirname, '../../fixtures/lackey-sample.txt');
const GREP = { header: 24, I: 1940, L: 365, S: 170, M: 20, lines: 2519 };

/** An independent reading of the sample: regexes over the raw text. */
function regexRecords(includeFetches: boolean): TraceRecord[] {
  const out: TraceRecord[] = [];
  const ops: Record<string, TraceOp> = { I: TraceOp.Fetch, L: TraceOp.Load, S: TraceOp.Store, M: TraceOp.Modify };
  for (const m of fs.readFileSync(SAMPLE, 'utf8').matchAll(/^(?:I |\s([LSM]))\s+([0-9a-f]+),(\d+)$/gm)) {
    const op = ops[m[1] ?? 'I'];
    if (op === TraceOp.Fetch && !includeFetches) continue;
    out.push({ op, addr: parseInt(m[2], 16), size: Number(m[3]), gap: 0 });
  }
  return out;
}

function errorOf(fn: () => unknown): TraceParseError {
  try {
    fn();
  } catch (e) {
    if (e instanceof TraceParseError) return e;
    throw e;
  }
  throw new Error('no error thrown');
}

const tmpDirs: string[] = [];
function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'socsim-trace-'));
  tmpDirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

describe('lackey parser on real valgrind output', () => {
  const text = fs.readFileSync(SAMPLE, 'utf8');

  test('the regex recount agrees with the grep counts', () => {
    expect(text.split('\n').filter((l) => l.length > 0).length).toBe(GREP.lines);
    expect((text.match(/^==/gm) ?? []).length).toBe(GREP.header);
    expect((text.match(/^I  /gm) ?? []).length).toBe(GREP.I);
    expect((text.match(/^ L /gm) ?? []).length).toBe(GREP.L);
    expect((text.match(/^ S /gm) ?? []).length).toBe(GREP.S);
    expect((text.match(/^ M /gm) ?? []).length).toBe(GREP.M);
  });

  test('default: data accesses only; fetches and "==" lines skipped and counted', () => {
    const counts = newParseCounts();
    const recs = [...parseLackey(fileLines(SAMPLE), { counts })];
    const byOp = [0, 0, 0, 0];
    for (const r of recs) byOp[r.op]++;
    expect(byOp).toEqual([GREP.L, GREP.S, GREP.M, 0]);
    expect(counts).toEqual({ lines: GREP.lines, records: GREP.L + GREP.S + GREP.M, skippedLines: GREP.header, skippedFetches: GREP.I });
    expect(recs).toEqual(regexRecords(false));
    // The first data record is the store to the stack above 4 GiB: " S 1fff000778,8".
    expect(recs[0]).toEqual({ op: TraceOp.Store, addr: 0x1f_ff00_0778, size: 8, gap: 0 });
  });

  test('includeFetches yields the I lines as fetches, in file order', () => {
    const recs = [...parseLackey(fileLines(SAMPLE), { includeFetches: true })];
    expect(recs.length).toBe(GREP.I + GREP.L + GREP.S + GREP.M);
    expect(recs.filter((r) => r.op === TraceOp.Fetch).length).toBe(GREP.I);
    expect(recs).toEqual(regexRecords(true));
    expect(recs[0]).toEqual({ op: TraceOp.Fetch, addr: 0x401ab70, size: 3, gap: 0 });
  });

  test('fileLines gives the same lines whatever the chunk size (chunk boundaries, CRLF)', () => {
    const want = text.split('\n');
    if (want[want.length - 1] === '') want.pop();
    for (const chunk of [1, 7, 64, 4096]) expect([...fileLines(SAMPLE, chunk)]).toEqual(want);
    const dir = tmpDir();
    const crlf = path.join(dir, 'crlf.txt');
    fs.writeFileSync(crlf, 'a\r\n\r\nbc\r\nlast');
    expect([...fileLines(crlf, 3)]).toEqual(['a', '', 'bc', 'last']);
    expect([...textLines('a\r\n\nbc\n')]).toEqual(['a', '', 'bc']);
  });

  test('reuseRecord yields one object, overwritten', () => {
    const it = parseLackey(textLines(' L 10,4\n S 20,8\n'), { reuseRecord: true });
    const a = it.next().value as TraceRecord;
    expect(a).toEqual({ op: TraceOp.Load, addr: 0x10, size: 4, gap: 0 });
    const b = it.next().value as TraceRecord;
    expect(b).toBe(a);
    expect(a).toEqual({ op: TraceOp.Store, addr: 0x20, size: 8, gap: 0 });
  });
});

describe('addresses above 2^32 and the 2^53 limit', () => {
  test('13- and 14-digit addresses parse exactly; 2^53 and beyond are errors naming the line', () => {
    const ok = [...parseLackey(textLines(' L fffffffffffff,1\n L 1fffffffffffff,1\n L 0x7ff000398,2\n'))];
    expect(ok.map((r) => r.addr)).toEqual([2 ** 52 - 1, 2 ** 53 - 1, 0x7ff000398]);
    const e = errorOf(() => [...parseLackey(textLines('==1== x\n L 10,4\n L 20000000000000,8\n'), { source: 'big.txt' })]);
    expect(e.line).toBe(3);
    expect(e.message).toBe('big.txt:3: address "20000000000000" does not fit below 2^53 (0x20000000000000)');
    const e2 = errorOf(() => [...parseCompact(textLines(`${COMPACT_MAGIC}\nR ffffffffffffffff 8\n`))]);
    expect(e2.line).toBe(2);
    expect(e2.message).toContain('"ffffffffffffffff" does not fit below 2^53');
  });
});

describe('lackey errors name the line and the problem', () => {
  const cases: [string, number, string][] = [
    ['==9== hdr\nI  0400,3\n X 0400,4\n', 3, 'unknown lackey record " X 0400,4"'],
    [' L 0400\n', 1, 'expected ",<size>" right after the address'],
    ['\n\n L 04zz,4\n', 3, 'bad address "04zz"'],
    [' L ,4\n', 1, 'missing address in " L ,4"'],
    [' L  \n', 1, 'missing address'],
    [' S 0400,x\n', 1, 'bad size "x"'],
    [' S 0400,0\n', 1, 'size 0 outside 1..4096'],
    [' S 0400,5000\n', 1, 'size 5000 outside 1..4096'],
    [' M 0400,4 junk\n', 1, 'unexpected "junk" after the size'],
    [' L0400,4\n', 1, 'expected a blank after the record type'],
    ['hello world\n', 1, 'unknown lackey record "hello world"'],
  ];
  test.each(cases)('%j', (input, line, reason) => {
    const e = errorOf(() => [...parseLackey(textLines(input), { source: 'in.txt' })]);
    expect(e.line).toBe(line);
    expect(e.message.startsWith(`in.txt:${line}: `)).toBe(true);
    expect(e.message).toContain(reason);
  });

  test('a bad line is reported only when reached: earlier records come out first', () => {
    const it = parseLackey(textLines(' L 10,4\n L 20,4\n bad\n'));
    expect(it.next().value).toMatchObject({ addr: 0x10 });
    expect(it.next().value).toMatchObject({ addr: 0x20 });
    expect(() => it.next()).toThrow('trace:3:');
  });
});

describe('compact format', () => {
  test('records format as documented, with gaps', () => {
    expect(formatCompactRecord({ op: TraceOp.Load, addr: 0x7ff000398, size: 8, gap: 0 })).toBe('R 7ff000398 8');
    expect(formatCompactRecord({ op: TraceOp.Store, addr: 0x4e1a320, size: 4, gap: 12 })).toBe('W 4e1a320 4 +12');
    expect(formatCompactRecord({ op: TraceOp.Modify, addr: 0, size: 1, gap: 0 })).toBe('M 0 1');
    expect(formatCompactRecord({ op: TraceOp.Fetch, addr: 2 ** 53 - 1, size: 16, gap: 3 })).toBe('I 1fffffffffffff 16 +3');
  });

  test('writer → reader round trip, with gaps, comments and small chunks', () => {
    const recs: TraceRecord[] = [];
    for (let i = 0; i < 500; i++) recs.push({ op: (i % 4) as TraceOp, addr: i * 0x1_0000_0037, size: 1 + (i % 64), gap: i % 3 === 0 ? i : 0 });
    const chunks: string[] = [];
    const w = new CompactTraceWriter((c) => chunks.push(c), 100);
    w.comment('synthetic');
    for (const r of recs) w.write(r);
    w.close();
    expect(w.records).toBe(500);
    expect(chunks.length).toBeGreaterThan(50); // it streamed
    const text = chunks.join('');
    expect(text.split('\n').slice(0, 3)).toEqual([COMPACT_MAGIC, '# synthetic', 'R 0 1']);
    const counts = newParseCounts();
    expect([...parseCompact(textLines(text), { counts })]).toEqual(recs);
    expect(counts).toEqual({ lines: 502, records: 500, skippedLines: 2, skippedFetches: 0 });
  });

  test('an empty trace is just the header', () => {
    const chunks: string[] = [];
    new CompactTraceWriter((c) => chunks.push(c)).close();
    expect(chunks.join('')).toBe(`${COMPACT_MAGIC}\n`);
    expect([...parseCompact(textLines(chunks.join('')))]).toEqual([]);
  });

  test('the writer refuses records the reader would reject', () => {
    const w = new CompactTraceWriter(() => undefined);
    expect(() => w.write({ op: TraceOp.Load, addr: 0, size: 0, gap: 0 })).toThrow('record 1: size: must be in 1..4096, got 0');
    expect(() => w.write({ op: TraceOp.Load, addr: 2 ** 53, size: 4, gap: 0 })).toThrow('addr: must be an integer in [0, 2^53)');
    expect(() => w.write({ op: TraceOp.Load, addr: 4, size: 4, gap: -1 })).toThrow('gap: must be a non-negative integer');
    expect(() => w.write({ op: 7 as TraceOp, addr: 4, size: 4, gap: 0 })).toThrow('op: unknown 7');
  });

  const cases: [string, number, string][] = [
    ['R 10 4\n', 1, 'missing header "socsim-memtrace 1"'],
    ['socsim-memtrace 2\nR 10 4\n', 1, 'unsupported version "socsim-memtrace 2"'],
    [`${COMPACT_MAGIC}\n# c\n\nR 10 4\nX 10 4\n`, 5, 'unknown op "X" (expected R, W, M or I)'],
    [`${COMPACT_MAGIC}\nR 10\n`, 2, 'missing size'],
    [`${COMPACT_MAGIC}\nR 1g0 4\n`, 2, 'bad address "1g0"'],
    [`${COMPACT_MAGIC}\nW 10 4 +x\n`, 2, 'bad gap "+x"'],
    [`${COMPACT_MAGIC}\nW 10 4 7\n`, 2, 'unexpected "7" after the size'],
    [`${COMPACT_MAGIC}\nW 10 4 +7 z\n`, 2, 'unexpected "z" after the gap'],
    [`${COMPACT_MAGIC}\nW 10 0\n`, 2, 'size 0 outside 1..4096'],
    ['', 1, 'empty file'],
  ];
  test.each(cases)('error %j', (input, line, reason) => {
    const e = errorOf(() => [...parseCompact(textLines(input), { source: 'c.trace' })]);
    expect(e.line).toBe(line);
    expect(e.message.startsWith(`c.trace:${line}: `)).toBe(true);
    expect(e.message).toContain(reason);
  });
});

describe('lackey → compact conversion', () => {
  test('the converted sample reads back as the same records (file to file)', () => {
    const dir = tmpDir();
    const out = path.join(dir, 'sample.trace');
    const counts = convertLackeyFile(SAMPLE, out);
    expect(counts.records).toBe(GREP.L + GREP.S + GREP.M);
    const lines = fs.readFileSync(out, 'utf8').split('\n');
    expect(lines[0]).toBe(COMPACT_MAGIC);
    expect(lines[1]).toBe(`# converted from lackey output ${SAMPLE}`);
    expect(lines.length).toBe(2 + counts.records + 1); // header, comment, records, final ''
    const back = [...parseCompact(fileLines(out), { source: out })];
    expect(back).toEqual([...parseLackey(fileLines(SAMPLE))]);
    // readTraceFile tells the formats apart by line 1.
    expect([...readTraceFile(out)]).toEqual(back);
    expect([...readTraceFile(SAMPLE)]).toEqual(back);
  });

  test('with fetches and a fixed gap (in memory)', () => {
    let text = '';
    const counts = lackeyToCompact(fileLines(SAMPLE), (c) => (text += c), { includeFetches: true, gapCycles: 2 });
    expect(counts.records).toBe(GREP.I + GREP.L + GREP.S + GREP.M);
    const back = [...parseCompact(textLines(text))];
    expect(back).toEqual(regexRecords(true).map((r) => ({ ...r, gap: 2 })));
    expect(text.split('\n')[1]).toBe('I 401ab70 3 +2');
  });

  test('a lackey error during conversion names the input line', () => {
    expect(() => lackeyToCompact(textLines('==1==\n L 10,4\n ? 10,4\n'), () => undefined, { source: 'x.lackey' })).toThrow('x.lackey:3: unknown lackey record');
  });
});
