/**
 * Every bundled scenario's short run matches its golden trace (regenerate deliberately
 * with `npm run golden:update`). A mismatch fails with the trace diff's first divergence.
 */
import * as path from 'path';
import { bundledScenarios, checkGolden } from '../../cli/golden';

describe('golden traces of the bundled scenarios', () => {
  test.each(bundledScenarios().map((f) => path.basename(f, '.json')))('%s', (name) => {
    const file = bundledScenarios().find((f) => path.basename(f, '.json') === name)!;
    const r = checkGolden(file);
    if (!r.ok) throw new Error(r.report);
  });
});
