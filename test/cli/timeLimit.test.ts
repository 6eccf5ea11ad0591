/**
 * Issue 15 item 3: simulated time is an integer count of ps below 2^53. Config values
 * that become periods or delays are bounded at validation (each period or delay at most
 * 2^40 ps, at least 1 ps), so none gives an infinite or overflowing tick; a run that
 * would still pass 2^53 ps (a long job) stops with a ConfigError naming the component
 * that scheduled too late (exit 1), never an internal error (exit 2).
 */
import { Engine } from '../../sim/engine/engine';
import { SimTimeLimitError } from '../../sim/engine/errors';
import { registerHandlerOwners } from '../../sim/engine/handlerOwners';
import { TIME_LIMIT_PS } from '../../sim/engine/time';
import { runCli } from '../helpers/cliInProcess';

describe('time bounds at validation', () => {
  // [scenario, override, JSON path named in the error]
  const cases: Array<[string, string, string]> = [
    ['mobile-camera-codec', 'scenario.jobs[0].fps=1e-300', 'scenario.jobs[0].fps'],
    ['mobile-camera-codec', 'scenario.jobs[0].fps=5e-324', 'scenario.jobs[0].fps'],
    ['mobile-camera-codec', 'scenario.jobs[1].ratePerUs=1e-300', 'scenario.jobs[1].ratePerUs'],
    ['mobile-display', 'scenario.jobs[0].refreshHz=0.001', 'scenario.jobs[0].refreshHz'],
    ['server-io-nic-tx', 'scenario.jobs[0].rx.packetsPerSecond=1e-300', 'scenario.jobs[0].rx.packetsPerSecond'],
    ['server-io-nic-tx', 'scenario.jobs[0].tx.packetsPerSecond=0.5', 'scenario.jobs[0].tx.packetsPerSecond'],
    ['server-io-nic-tx', 'scenario.jobs[0].interruptDelay=9007199254740991', 'scenario.jobs[0].interruptDelay'],
    ['server-io-nic-tx', 'soc.devices[0].lineRateGbps=1e-300', 'soc.devices[0].lineRateGbps'],
    ['server-io-nic-tx', 'soc.iommus[0].walker.stepCycles=1000000000', 'soc.iommus[0].walker.stepCycles'],
    ['server-io-nic-tx', 'soc.buses[0].latencyCycles=4294967296', 'soc.buses[0].latencyCycles'],
    ['default', 'soc.clocks.sys=1e-300', 'soc.clocks.sys'],
    ['default', 'soc.clocks.sys=1000', 'soc.clocks.sys'],
    ['default', 'soc.devices[0].snoopLatencyCycles=9007199254740991', 'soc.devices[0].snoopLatencyCycles'],
  ];
  test.each(cases)('%s --set %s is refused at %s', async (scenario, set, jsonPath) => {
    const r = await runCli(['validate', scenario, '--set', set]);
    expect(r.err).toContain(`${jsonPath}: must be`);
    expect(r.code).toBe(1);
  });

  test('the slowest values the bounds allow validate and run', async () => {
    const r = await runCli(['run', 'mobile-camera-codec', '--until', '2us', '--no-progress', '--set', 'scenario.jobs[0].fps=1', '--set', 'soc.clocks.sys=1MHz',
      '--set', 'soc.iommus[0].walker.stepCycles=1048576']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
  });
});

describe('a run that would pass 2^53 ps', () => {
  test('stops with a ConfigError naming the component, exit 1', async () => {
    // The copy starts 2000 ps before the end of time; the crossbar's first arbitration lands past it.
    const r = await runCli(['run', 'default', '--no-progress', '--set', `scenario.jobs[0].at=${TIME_LIMIT_PS - 2000}`]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^error: \S+default\.json: scenario: the run would pass the end of simulated time: soc\.xbar scheduled an event at 9007199254741\d{3} ps/);
    expect(r.err).toContain('2^53 ps');
  });

  test('the engine refuses ticks at or past 2^53 (and Infinity) with the owner it was told', () => {
    const e = new Engine();
    const component = { path: 'soc.walker', onStep: (): void => {} };
    registerHandlerOwners({ parts: [component] });
    expect(() => e.schedule(TIME_LIMIT_PS, component.onStep)).toThrow(SimTimeLimitError);
    expect(() => e.schedule(Infinity, component.onStep)).toThrow(/^soc\.walker scheduled an event at Infinity ps/);
    // An unregistered handler is named by its function name.
    function onFrame(): void {}
    expect(() => e.schedule(2 ** 60, onFrame)).toThrow(/^event handler onFrame scheduled/);
    // The last representable tick is still fine.
    e.schedule(TIME_LIMIT_PS - 1, onFrame);
    expect(e.pending).toBe(1);
  });
});
