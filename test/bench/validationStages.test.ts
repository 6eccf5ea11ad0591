import { nestedReads, validateStageWalks } from '../../bench/validation/stages';
import type { ValidationResult } from '../../bench/validation/types';
import { formatValidation } from '../../bench/validation';

describe('validation: reads per walk for stage 1, stage 2 and nested walks', () => {
  let rows: ValidationResult[];
  let by: Record<string, number>;
  beforeAll(() => {
    rows = validateStageWalks();
    by = Object.fromEntries(rows.map((r) => [r.name, r.actual]));
  });

  test('the closed form: (n + 1)(m + 1) - 1', () => {
    expect(nestedReads(4, 4)).toBe(24);
    expect(nestedReads(4, 3)).toBe(19);
    expect(nestedReads(1, 1)).toBe(3);
    expect(nestedReads(4, 0)).toBe(4);
    expect(nestedReads(0, 3)).toBe(3);
  });

  test('every row exact', () => {
    for (const r of rows) {
      expect([r.name, r.error]).toEqual([r.name, 0]);
      expect(formatValidation(r)).toMatch(/: expected [0-9.]+, socsim [0-9.]+, error 0\.000%/);
    }
  });

  test('the numbers: 24 for 4 + 4 levels with empty caches, 3 with both stages warm, fewer levels with larger stage-2 pages', () => {
    expect(by['walk.stage.s1.4k.empty']).toBe(4);
    expect(by['walk.stage.s1.4k.warm']).toBe(1);
    expect(by['walk.stage.s2.4k.s2pg4k.empty']).toBe(4);
    expect(by['walk.stage.s2.4k.s2pg2m.empty']).toBe(3);
    expect(by['walk.stage.nested.4k.s2pg4k.empty']).toBe(24);
    expect(by['walk.stage.nested.4k.s2pg4k.warm']).toBe(3);
    expect(by['walk.stage.nested.4k.s2pg4k.warm-s1']).toBe(9); // stage 1 reads its leaf; 2 four-level stage-2 walks
    expect(by['walk.stage.nested.4k.s2pg4k.warm-s2']).toBe(9); // 4 stage-1 levels, each stage-2 walk one read
    expect(by['walk.stage.nested.4k.s2pg2m.empty']).toBe(19);
    expect(by['walk.stage.nested.16k.s2pg16k.empty']).toBe(19); // 4-level stage 1, 3-level (concatenated L1) stage 2
    expect(by['walk.stage.nested.16k.s2pg32m.empty']).toBe(14);
    expect(by['walk.stage.nested.64k.s2pg64k.empty']).toBe(15);
  });
});
