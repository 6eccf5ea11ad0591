/** `--set path=value` overrides: parsing, addressing by name, validation blamed on the override, inline SoCs. */
import * as fs from 'fs';
import * as path from 'path';
import { MemoryTraceWriter } from '../../sim/engine/trace';
import { parseOverride, applyOverrides } from '../../scenario/overrides';
import { nearest } from '../../sim/engine/editDistance';
import { resolveScenario, scenarioFileOf } from '../../scenario/resolve';
import { runLoaded } from '../../scenario/run';
import { configErrorOf, readConfig, REPO, writeTemp, DEFAULT_SCENARIO } from '../helpers/configFiles';

const NIC = 'server-io-nic-strict';

const errorOf = configErrorOf;

describe('parseOverride', () => {
  it('splits the path into names and indices and reads the value as JSON when it is JSON', () => {
    expect(parseOverride('soc.iommus.iommu.l2Tlb.entries=128')).toMatchObject({ root: 'soc', segments: ['iommus', 'iommu', 'l2Tlb', 'entries'], value: 128 });
    expect(parseOverride('scenario.init[0].bytes=4KiB')).toMatchObject({ root: 'scenario', segments: ['init', 0, 'bytes'], value: '4KiB' });
    expect(parseOverride('scenario.kernel.iommuStrict=false').value).toBe(false);
    expect(parseOverride('soc.name="12"').value).toBe('12');
    expect(parseOverride('soc.x=[1, 2]').value).toEqual([1, 2]);
  });
  it.each([
    ['entries=128', /must start with "soc." or "scenario."/],
    ['soc.iommus.iommu.l2Tlb.entries', /expected path=value/],
    ['soc.x=', /no value after "="/],
    ['soc=1', /name a field under "soc"/],
    ['soc..x=1', /bad path segment ""/],
  ])('refuses %s, naming the override', (text, reason) => {
    const e = errorOf(() => parseOverride(text));
    expect(e.file).toBe(`--set ${text}`);
    expect(e.reason).toMatch(reason);
  });
});

describe('applyOverrides', () => {
  const raw = { iommus: [{ name: 'a', l2Tlb: { entries: 64 } }, { name: 'b' }], init: [{ bytes: 1 }] };
  it('addresses list elements by name, creates missing objects, leaves the input alone', () => {
    const { data, paths } = applyOverrides(raw, ['soc.iommus.b.l2Tlb.entries=32', 'soc.iommus.a.l2Tlb.entries=16'].map(parseOverride));
    expect(data).toEqual({ iommus: [{ name: 'a', l2Tlb: { entries: 16 } }, { name: 'b', l2Tlb: { entries: 32 } }], init: [{ bytes: 1 }] });
    expect(paths).toEqual(['soc.iommus[1].l2Tlb.entries', 'soc.iommus[0].l2Tlb.entries']);
    expect(raw.iommus[0].l2Tlb!.entries).toBe(64);
  });
  it('names what is there when a name or index does not match', () => {
    expect(errorOf(() => applyOverrides(raw, [parseOverride('soc.iommus.c.x=1')])).message).toBe('--set soc.iommus.c.x=1: soc.iommus: no element named "c" (names: a, b)');
    expect(errorOf(() => applyOverrides(raw, [parseOverride('soc.init.x.bytes=1')])).reason).toMatch(/no names: address them by index, e.g. \[0\]/);
    expect(errorOf(() => applyOverrides(raw, [parseOverride('soc.init[3].bytes=1')])).reason).toMatch(/index \[3\] is past the end \(the list has 1 element\)/);
    expect(errorOf(() => applyOverrides(raw, [parseOverride('soc.iommus.a.l2Tlb.entries.x=1')])).reason).toMatch(/is 64, which has no field "x"/);
  });
  it('nearest ranks by edit distance', () => {
    expect(nearest('soc.a.entriess', ['soc.a.entries', 'soc.b.ways', 'soc.a.ways'], 2)).toEqual(['soc.a.entries', 'soc.a.ways']);
  });
});

describe('resolveScenario', () => {
  it('finds a bundled scenario by name, and suggests close names for a typo', () => {
    expect(scenarioFileOf(NIC)).toBe(path.join(REPO, 'soc-configs', 'scenarios', `${NIC}.json`));
    expect(errorOf(() => scenarioFileOf('server-io-nic-strct')).reason).toMatch(/closest bundled: server-io-nic-strict/);
  });

  it('applies soc and scenario overrides before defaults and records them', () => {
    const l = resolveScenario(NIC, ['soc.iommus.iommu.l2Tlb.entries=256', 'scenario.jobs.rx.rx.packets=5000', 'scenario.kernel.iommuStrict=false']);
    expect(l.soc.iommus[0].l2Tlb.entries).toBe(256);
    expect((l.scenario.jobs[0] as any).rx.packets).toBe(5000);
    expect(l.scenario.kernel.iommuStrict).toBe(false);
    expect(l.overrides).toEqual(['soc.iommus.iommu.l2Tlb.entries=256', 'scenario.jobs.rx.rx.packets=5000', 'scenario.kernel.iommuStrict=false']);
  });

  it('an invalid value is blamed on its override, with the file it applies to', () => {
    const e = errorOf(() => resolveScenario(NIC, ['scenario.seed=1', 'soc.iommus.iommu.l2Tlb.entries=100']));
    expect(e.file).toBe('--set soc.iommus.iommu.l2Tlb.entries=100');
    expect(e.jsonPath).toBe('soc.iommus[0].l2Tlb.ways');
    expect(e.reason).toMatch(/must divide entries \(100\), got 64 \(in .*server-io\.json\)/);
  });

  it('an unknown field lists the nearest valid paths', () => {
    const e = errorOf(() => resolveScenario(NIC, ['soc.iommus.iommu.l2Tlb.entriess=128']));
    expect(e.jsonPath).toBe('soc.iommus[0].l2Tlb.entriess');
    expect(e.reason).toMatch(/unknown field "entriess" .*nearest valid paths: soc\.iommus\.iommu\.l2Tlb\.entries, /);
  });

  it('a cross-check against the SoC names the override (job on a device the SoC lacks)', () => {
    const e = errorOf(() => resolveScenario(NIC, ['scenario.jobs.rx.device=nic9']));
    expect(e.file).toBe('--set scenario.jobs.rx.device=nic9');
    expect(e.message).toMatch(/scenario\.jobs\[0\]\.device: SoC "server_io" has no device "nic9"/);
  });

  it('a file that is broken without the override keeps its own error', () => {
    const bad = readConfig(DEFAULT_SCENARIO);
    bad.soc = path.join(REPO, 'soc-configs', 'minimal.json');
    bad.seed = -1;
    const file = writeTemp(bad);
    const e = errorOf(() => resolveScenario(file, ['scenario.jobs.copy16m.bytes=4096']));
    expect(e.file).toBe(file);
    expect(e.jsonPath).toBe('scenario.seed');
  });

  it('a scenario may hold its SoC inline; it runs exactly as the same SoC from a file', () => {
    const s = readConfig(DEFAULT_SCENARIO);
    const socFile = path.resolve(path.dirname(DEFAULT_SCENARIO), s.soc);
    const inline = writeTemp({ ...s, soc: JSON.parse(fs.readFileSync(socFile, 'utf8')) });
    const fromFile = runLoaded(resolveScenario(DEFAULT_SCENARIO), { until: 20_000_000 }).stats;
    const l = resolveScenario(inline, ['soc.buses.xbar.widthBytes=16']);
    expect(l.socFile).toBe(inline);
    expect(l.soc.buses.find((b) => b.name === "xbar")?.widthBytes).toBe(16);
    expect(runLoaded(resolveScenario(inline), { until: 20_000_000 }).stats).toEqual(fromFile);
    expect(errorOf(() => resolveScenario(inline, ['soc.memories.nosuch.size=1'])).reason).toMatch(/no element named "nosuch"/);
  });

  it('an override changes what runs, and the trace header records it', () => {
    const w = new MemoryTraceWriter();
    const big = runLoaded(resolveScenario(NIC, ['soc.iommus.iommu.l2Tlb.entries=1024', 'scenario.until=2ms']), { traceWriter: w, traceCategories: [] });
    const base = runLoaded(resolveScenario(NIC, ['scenario.until=2ms']));
    expect(big.stats['soc.iommu.l2tlb.misses']).toBeLessThan(base.stats['soc.iommu.l2tlb.misses'] as number);
    expect(JSON.parse(w.lines[0]).overrides).toEqual(['soc.iommus.iommu.l2Tlb.entries=1024', 'scenario.until=2ms']);
  });
});
