import * as fs from 'fs';
import { specFromArgs } from '../../cli/sweep';
import { loadSweepSpec } from '../../scenario/sweepSpec';
import { resolveScenario } from '../../scenario/resolve';
import { loadSocConfig } from '../../sim/soc/builder';
import { configErrorOf, MINIMAL, writeTemp } from '../helpers/configFiles';

/**
 * zod leaves a "__proto__" key out of its output without an issue, so before this check a
 * sweep axis `--grid __proto__=1,2` ran one point instead of two and a clock named
 * "__proto__" vanished from the config. Every route into validation refuses it, naming
 * the path.
 */
describe('a "__proto__" key is refused, not dropped', () => {
  const reason = /"__proto__" is not allowed/;

  test('in a SoC config file', () => {
    // JSON.parse makes "__proto__" an own key, as a user's file would.
    const text = fs.readFileSync(MINIMAL, 'utf8').replace('"clocks": {', '"clocks": { "__proto__": "1GHz",');
    expect(text).toContain('"__proto__"');
    const e = configErrorOf(() => loadSocConfig(writeTemp(text)));
    expect(e.jsonPath).toBe('soc.clocks.__proto__');
    expect(e.reason).toMatch(reason);
  });

  test('set by an override', () => {
    const e = configErrorOf(() => resolveScenario('default', ['soc.clocks.__proto__=1GHz']));
    expect(e.jsonPath).toBe('soc.clocks.__proto__');
    expect(e.reason).toMatch(reason);
  });

  test('as a sweep axis, from flags and from a spec file', () => {
    const flags = configErrorOf(() => specFromArgs({ scenario: ['default'], out: 'x', progress: false, grid: ['__proto__=1,2'] }));
    expect(flags.jsonPath).toBe('sweep.grid.__proto__');
    expect(flags.reason).toMatch(reason);
    const file = writeTemp('{ "scenarios": ["default"], "zip": [{ "soc.a": [1], "__proto__": [2] }] }');
    const spec = configErrorOf(() => loadSweepSpec(file));
    expect(spec.jsonPath).toBe('sweep.zip[0].__proto__');
  });

  test('other prototype names stay ordinary keys (refused as unknown fields, or fine as names)', () => {
    const e = configErrorOf(() => resolveScenario('default', ['soc.constructor=1']));
    expect(e.reason).toMatch(/unknown field "constructor"/);
  });
});
