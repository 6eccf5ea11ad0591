import * as path from 'path';
import { main, type CliIO } from '../../cli/main';
import { evaluate, formatHeadlineValue, headline, headlineOf, type HeadlineRow } from '../../scenario/headline';
import { run, type RunOutput } from '../../scenario/run';
import { REPO } from '../helpers/configFiles';

const scenario = (name: string): string => path.join(REPO, 'soc-configs', 'scenarios', `${name}.json`);

const runs = new Map<string, RunOutput>();
function runOf(name: string): RunOutput {
  if (!runs.has(name)) runs.set(name, run(scenario(name), { until: 40_000_000 }));
  return runs.get(name)!;
}

const num = (r: RunOutput, k: string): number => {
  const v = r.stats[k];
  if (typeof v !== 'number') throw new Error(`${k} is ${JSON.stringify(v)}`);
  return v;
};

function row(rows: HeadlineRow[], label: string): HeadlineRow {
  const r = rows.find((x) => x.label === label);
  if (!r) throw new Error(`no headline row "${label}" in ${rows.map((x) => x.label).join(', ')}`);
  return r;
}

describe('headline figures come from the stats snapshot', () => {
  test.each(['server-io-nic-strict', 'mobile-camera-codec', 'minimal-cpu-trace', 'dgpu-gf100-texture-4k'])('%s: every figure is its stated stat or ratio', (name) => {
    const r = runOf(name);
    const rows = headlineOf(r);
    expect(rows.length).toBeGreaterThanOrEqual(4);
    for (const h of rows) {
      for (const k of [...h.source.num, ...h.source.den]) expect(typeof r.stats[k]).toBe('number');
      expect(h.value).toBe(evaluate(r.stats, h.source));
      // The written-out source names every stat it reads.
      for (const k of [...h.source.num, ...h.source.den]) expect(h.stat).toContain(k);
    }
  });

  test('NIC: bandwidth, latency, TLB hit rates, walks, commands and kernel invalidations, by hand', () => {
    const r = runOf('server-io-nic-strict');
    const rows = headlineOf(r);
    expect(rows.map((x) => x.label)).toEqual([
      'nic (job rx) bandwidth', 'nic (job rx) packet latency p50', 'nic (job rx) packet latency p99', 'dram bandwidth',
      'iommu nic L1 TLB hit rate', 'iommu L2 TLB hit rate', 'iommu walks per 1000 translations', 'iommu faults',
      'iommu commands (invalidations, syncs)', 'iommu kernel IOTLB invalidations',
    ]);
    // Bytes per ns is GB/s.
    expect(row(rows, 'nic (job rx) bandwidth').value).toBeCloseTo((num(r, 'soc.nic.rx_bytes') + num(r, 'soc.nic.tx_bytes')) / num(r, 'sim.time_ns'), 12);
    expect(row(rows, 'nic (job rx) bandwidth').value).toBeCloseTo(num(r, 'soc.nic.rx_throughput_gbps') / 8, 12); // the NIC's own Gbit/s
    expect(row(rows, 'nic (job rx) packet latency p99').value).toBe(num(r, 'soc.nic.packet_latency_ns.p99'));
    expect(row(rows, 'dram bandwidth').value).toBe(num(r, 'soc.dram.bandwidth_GBps'));
    expect(row(rows, 'iommu nic L1 TLB hit rate').value).toBeCloseTo(100 * num(r, 'soc.iommu.nic.l1tlb.hits') / num(r, 'soc.iommu.nic.l1tlb.lookups'), 10);
    expect(row(rows, 'iommu walks per 1000 translations').value).toBeCloseTo(1000 * num(r, 'soc.iommu.walker.walks') / num(r, 'soc.iommu.translations'), 10);
    expect(row(rows, 'iommu commands (invalidations, syncs)').value).toBe(num(r, 'soc.iommu.commands'));
    expect(row(rows, 'iommu kernel IOTLB invalidations').value).toBe(num(r, 'kernel.iommu.pgtable.inval_cmds'));
    expect(num(r, 'soc.iommu.commands')).toBeGreaterThan(0);
  });

  test('two jobs on two devices behind one SMMU: a row set per device, one per unit', () => {
    const r = runOf('mobile-camera-codec');
    const rows = headlineOf(r);
    expect(row(rows, 'codec (job decode) bandwidth').value).toBe(num(r, 'soc.codec.throughput_GBps'));
    expect(row(rows, 'camera (job capture) bandwidth').value).toBeCloseTo(num(r, 'soc.camera.bytes_written') / num(r, 'sim.time_ns'), 12);
    expect(row(rows, 'smmu camera L1 TLB hit rate').value).toBe(100 * num(r, 'soc.smmu.camera.l1tlb.hit_rate'));
    expect(row(rows, 'smmu codec L1 TLB hit rate').value).toBe(100 * num(r, 'soc.smmu.codec.l1tlb.hit_rate'));
    // Units no job uses are not in the headline.
    expect(rows.some((x) => x.label.startsWith('gpu') || x.label.startsWith('gpu_mmu') || x.label.startsWith('cpu_mmu'))).toBe(false);
  });

  test('a CPU trace: the core and the CPU MMU; a TLB with no lookups (null hit rate) is left out', () => {
    const r = runOf('minimal-cpu-trace');
    const rows = headlineOf(r);
    expect(row(rows, 'cpu0 (job true) bandwidth').value).toBeCloseTo(num(r, 'soc.cpu0.bytes') / num(r, 'sim.time_ns'), 12);
    expect(row(rows, 'cpu_mmu cpu0 L1 TLB hit rate').value).toBe(100 * num(r, 'soc.cpu_mmu.cpu0.l1tlb.hit_rate'));
    expect(row(rows, 'cpu_mmu kernel TLBI operations').value).toBe(num(r, 'kernel.cpu_mmu.pgtable.tlbi_ops'));
    expect(r.stats['soc.cpu_mmu.cpu.l1tlb.hit_rate']).toBeNull();
    expect(rows.some((x) => x.label.includes('cpu_mmu cpu L1'))).toBe(false);
  });

  test('rates are over the measured window: a warm-up is taken off the simulated time', () => {
    const r = runOf('server-io-nic-strict');
    const warm = { ...r.loaded, scenario: { ...r.loaded.scenario, warmup: 10_000_000 } };
    const bw = row(headline(r.stats, warm), 'nic (job rx) bandwidth');
    expect(bw.source.denOffset).toBe(10_000);
    expect(bw.value).toBeCloseTo(num(r, 'soc.nic.rx_bytes') / (num(r, 'sim.time_ns') - 10_000), 12);
  });

  test('values are shown to four significant digits', () => {
    expect(formatHeadlineValue(0.0624)).toBe('0.0624');
    expect(formatHeadlineValue(50.657894)).toBe('50.66');
    expect(formatHeadlineValue(16860.4)).toBe('16860');
    expect(formatHeadlineValue(78)).toBe('78');
  });
});

test('the table output starts with the headline, after the run summary', async () => {
  let out = '';
  const io: CliIO = { out: (t) => { out += t; }, err: () => {} };
  expect(await main(['run', scenario('server-io-nic-strict'), '--until', '40us', '--no-progress'], io)).toBe(0);
  const r = runOf('server-io-nic-strict');
  const head = out.slice(out.indexOf('headline'), out.indexOf('\nstat '));
  const p99 = num(r, 'soc.nic.packet_latency_ns.p99');
  expect(head).toMatch(new RegExp(`nic \\(job rx\\) packet latency p99\\s+${formatHeadlineValue(p99).replace('.', '\\.')} ns\\s+soc\\.nic\\.packet_latency_ns\\.p99`));
  expect(head).toContain('iommu walks per 1000 translations');
});
