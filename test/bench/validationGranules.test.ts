import { GRANULE_INPUT_SIZES, lpaeLevels, validateGranuleWalks } from '../../bench/validation/granules';
import { formatValidation, type ValidationResult } from '../../bench/validation';

describe('validation: reads per walk for each LPAE granule and input size', () => {
  let results: ValidationResult[];
  beforeAll(() => {
    results = validateGranuleWalks();
  });

  test('the closed form gives the Arm ARM level counts', () => {
    // granule → levels for 32, 36, 40, 42, 44, 48 input bits
    expect(GRANULE_INPUT_SIZES.map((ias) => lpaeLevels(0x1000, ias))).toEqual([3, 3, 4, 4, 4, 4]);
    expect(GRANULE_INPUT_SIZES.map((ias) => lpaeLevels(0x4000, ias))).toEqual([2, 2, 3, 3, 3, 4]);
    expect(GRANULE_INPUT_SIZES.map((ias) => lpaeLevels(0x1_0000, ias))).toEqual([2, 2, 2, 2, 3, 3]);
  });

  test('one empty and one warm row per granule and input size, each exact', () => {
    expect(results).toHaveLength(3 * 6 * 2);
    expect(results.slice(0, 2).map((r) => r.name)).toEqual(['walk.granule.4k.va32.empty', 'walk.granule.4k.va32.warm']);
    for (const r of results) {
      expect(r.error).toBe(0);
      expect(formatValidation(r)).toMatch(/: expected [0-9.]+, socsim [0-9.]+, error 0\.000%/);
    }
    expect(results.filter((r) => r.name.endsWith('.empty')).map((r) => r.actual)).toEqual([3, 3, 4, 4, 4, 4, 2, 2, 3, 3, 3, 4, 2, 2, 2, 2, 3, 3]);
    expect(results.filter((r) => r.name.endsWith('.warm')).every((r) => r.actual === 1)).toBe(true);
  });
});
