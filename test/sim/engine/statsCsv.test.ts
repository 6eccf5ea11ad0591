import { csvCell, statsToCsv } from '../../../sim/engine/statsCsv';

describe('statsToCsv', () => {
  it('writes one row per scalar stat at full precision, nulls empty, arrays left out', () => {
    const csv = statsToCsv({ 'a.count': 3, 'a.lat.mean': 1 / 3, 'a.lat.p50': null, 'a.lat.buckets': [1, 2] });
    expect(csv).toBe(`stat,value\na.count,3\na.lat.mean,${String(1 / 3)}\na.lat.p50,\n`);
  });
  it('quotes cells that hold commas, quotes or line breaks', () => {
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('x\ny')).toBe('"x\ny"');
  });
});
