import { ConfigError } from '../../../sim/engine/errors';
import { loadSocConfig } from '../../../sim/soc/builder';
import { loadScenario } from '../../../scenario/load';
import { copyScenario, MINIMAL, readConfig, writeTemp } from '../../helpers/configFiles';
import { resolveDramParams } from '../../../sim/mem/dramSpec';

/** Loads a mutated minimal config and returns the ConfigError it must raise. */
function errorFor(mutate: (cfg: any) => void): ConfigError {
  const cfg = readConfig();
  mutate(cfg);
  const file = writeTemp(cfg);
  try {
    loadSocConfig(file);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).file).toBe(file);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('SoC config validation', () => {
  test('the bundled minimal config is valid and converts units', () => {
    const cfg = loadSocConfig(MINIMAL);
    const dram = cfg.memories.find((m) => m.name === 'dram')!;
    expect(dram.base).toBe(0x8000_0000);
    expect(dram.size).toBe(2 ** 30);
    expect(cfg.clocks.dram).toBe(1.6e9);
    // The organisation comes from the DDR4-3200 preset (8 KiB rows per bank).
    if (dram.kind !== 'dram') throw new Error('minimal.json: memory "dram" is not a DRAM');
    expect(dram.preset).toBe('DDR4-3200');
    expect(resolveDramParams(dram).rowBytes).toBe(8192);
  });

  test('unknown component in a link names the field and the known buses', () => {
    const e = errorFor((c) => { c.memories[0].bus = 'nobus'; });
    expect(e.jsonPath).toBe('soc.memories[0].bus');
    expect(e.reason).toMatch(/unknown bus "nobus".*xbar/);
  });

  test('unknown clock', () => {
    const e = errorFor((c) => { c.devices[0].clock = 'fast'; });
    expect(e.jsonPath).toBe('soc.devices[0].clock');
    expect(e.reason).toMatch(/unknown clock "fast"/);
  });

  test('overlapping regions', () => {
    const e = errorFor((c) => { c.memories[1].base = '0x8000_1000'; });
    expect(e.jsonPath).toBe('soc.memories[1].base');
    expect(e.reason).toMatch(/sram .* overlaps dram/);
  });

  test('bad size string', () => {
    const e = errorFor((c) => { c.memories[0].size = '1 parsec'; });
    expect(e.jsonPath).toBe('soc.memories[0].size');
    expect(e.reason).toMatch(/size/);
  });

  test('bad size unit names the unit', () => {
    const e = errorFor((c) => { c.memories[1].size = '256KB'; c.memories[0].size = '1GiBB'; });
    expect(e.jsonPath).toBe('soc.memories[0].size');
    expect(e.reason).toMatch(/unknown size unit/);
  });

  test('bad address string', () => {
    const e = errorFor((c) => { c.memories[0].base = '0x8000_zzzz'; });
    expect(e.jsonPath).toBe('soc.memories[0].base');
    expect(e.reason).toMatch(/address/);
  });

  test('unknown field is reported with its path', () => {
    const e = errorFor((c) => { c.buses[0].widht = 8; });
    expect(e.jsonPath).toBe('soc.buses[0].widht');
    expect(e.reason).toMatch(/unknown field/);
  });

  test('wrong type', () => {
    const e = errorFor((c) => { c.buses[0].widthBytes = '32'; });
    expect(e.jsonPath).toBe('soc.buses[0].widthBytes');
  });

  test('model parameter rules surface with the field path', () => {
    const e = errorFor((c) => { c.memories[0].banks = 6; });
    expect(e.jsonPath).toBe('soc.memories[0].banks');
    expect(e.reason).toMatch(/power of two/);
  });

  test('bus width must be a power of two', () => {
    const e = errorFor((c) => { c.buses[0].widthBytes = 24; });
    expect(e.jsonPath).toBe('soc.buses[0].widthBytes');
  });

  test('duplicate names', () => {
    const e = errorFor((c) => { c.devices[0].name = 'sram'; });
    expect(e.jsonPath).toBe('soc.devices[0].name');
    expect(e.reason).toMatch(/already used by soc.memories\[1\]/);
  });

  test('a cycle in the bus graph', () => {
    const e = errorFor((c) => {
      c.buses.push({ name: 'periph', clock: 'sys', widthBytes: 8, latencyCycles: 1 });
      c.bridges = [
        { name: 'down', from: 'xbar', to: 'periph', clock: 'sys', latencyCycles: 2 },
        { name: 'up', from: 'periph', to: 'xbar', clock: 'sys', latencyCycles: 2 },
      ];
    });
    expect(e.jsonPath).toMatch(/^soc\.bridges\[\d\]\.to$/);
    expect(e.reason).toMatch(/cycle: (xbar → periph → xbar|periph → xbar → periph)/);
  });

  test('a device with no route to memory', () => {
    const e = errorFor((c) => {
      c.buses.push({ name: 'periph', clock: 'sys', widthBytes: 8, latencyCycles: 1 });
      c.bridges = [{ name: 'up', from: 'xbar', to: 'periph', clock: 'sys', latencyCycles: 2 }];
      c.devices[0].bus = 'periph';
    });
    expect(e.jsonPath).toBe('soc.devices[0].bus');
    expect(e.reason).toMatch(/no route to memory from bus "periph"/);
  });

  test('a device behind a bridge towards memory is fine', () => {
    const cfg = readConfig();
    cfg.buses.push({ name: 'periph', clock: 'sys', widthBytes: 8, latencyCycles: 1 });
    cfg.bridges = [{ name: 'up', from: 'periph', to: 'xbar', clock: 'sys', latencyCycles: 2 }];
    cfg.devices[0].bus = 'periph';
    expect(() => loadSocConfig(writeTemp(cfg))).not.toThrow();
  });

  test('invalid JSON names the file', () => {
    const file = writeTemp('{ "name": ');
    expect(() => loadSocConfig(file)).toThrow(ConfigError);
    expect(() => loadSocConfig(file)).toThrow(/not valid JSON/);
  });

  test('all problems are listed, the first is the error path', () => {
    const e = errorFor((c) => { c.memories[0].size = 'x'; c.buses[0].latencyCycles = -1; });
    expect(e.jsonPath).toBe('soc.memories[0].size');
    expect(e.message).toMatch(/soc\.buses\[0\]\.latencyCycles/);
  });
});

describe('scenario validation', () => {
  function scenarioError(mutate: (s: any) => void): ConfigError {
    const s = copyScenario(MINIMAL);
    mutate(s);
    try {
      loadScenario(writeTemp(s));
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      return e as ConfigError;
    }
    throw new Error('expected a ConfigError');
  }

  test('unknown device', () => {
    const e = scenarioError((s) => { s.jobs[0].device = 'dma9'; });
    expect(e.jsonPath).toBe('scenario.jobs[0].device');
    expect(e.reason).toMatch(/no device "dma9"/);
  });

  test('overlapping copy ranges', () => {
    const e = scenarioError((s) => { s.jobs[0].dst = s.jobs[0].src + 64; });
    expect(e.jsonPath).toBe('scenario.jobs[0].dst');
  });

  test('fill outside memory', () => {
    const e = scenarioError((s) => { s.init[0].addr = '0x4000_0000'; });
    expect(e.jsonPath).toBe('scenario.init[0]');
  });

  test('bad time string', () => {
    const e = scenarioError((s) => { s.until = '10 fortnights'; });
    expect(e.jsonPath).toBe('scenario.until');
  });

  test('errors in the referenced SoC name the SoC file', () => {
    const cfg = readConfig();
    cfg.memories[0].channels = 0;
    const socFile = writeTemp(cfg);
    try {
      loadScenario(writeTemp(copyScenario(socFile)));
      throw new Error('expected a ConfigError');
    } catch (e) {
      expect((e as ConfigError).file).toBe(socFile);
      expect((e as ConfigError).jsonPath).toBe('soc.memories[0].channels');
    }
  });
});
