import { formatResult, median } from '../../bench/result';

describe('bench result helpers', () => {
  test('median: the middle value of an odd count, the mean of the middle two of an even count; the input is left as it was', () => {
    const times = [0.35, 0.31, 0.33];
    expect(median(times)).toBe(0.33);
    expect(times).toEqual([0.35, 0.31, 0.33]);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
  });

  test('formatResult prints name, value, unit and note', () => {
    expect(formatResult({ name: 'scenario.default.median_bus_txn_per_s', value: 1.6543, unit: 'M txn/s', note: 'median of 11' }))
      .toBe('scenario.default.median_bus_txn_per_s: 1.654 M txn/s (median of 11)');
  });
});
