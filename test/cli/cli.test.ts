import { main, type CliIO } from '../../cli/main';
import { copyScenario, DEFAULT_SCENARIO, MINIMAL, readConfig, writeTemp } from '../helpers/configFiles';

function collect(): CliIO & { stdout: string; stderr: string } {
  const io = { stdout: '', stderr: '', out: (t: string) => { io.stdout += t; }, err: (t: string) => { io.stderr += t; } };
  return io;
}

describe('socsim CLI', () => {
  test('the default scenario runs and prints its stats as a table', async () => {
    const io = collect();
    const code = await main(['run', DEFAULT_SCENARIO, '--no-progress'], io);
    expect(io.stderr).toBe('');
    expect(code).toBe(0);
    expect(io.stdout).toMatch(/job copy16m \(dma-copy\): ok, verified/);
    const bytesLine = io.stdout.split('\n').find((l) => l.startsWith('soc.dma0.bytes_written '));
    expect(bytesLine).toMatch(/\s16777216\s/);
    expect(io.stdout).toMatch(/^soc\.dram\.row_hits\s+\d+/m);
  });

  test('--stats json prints one parseable flat object', async () => {
    const io = collect();
    const code = await main(['run', writeTemp(copyScenario(MINIMAL, { bytes: 4096 })), '--stats', 'json'], io);
    expect(code).toBe(0);
    const stats = JSON.parse(io.stdout);
    expect(stats['soc.dma0.bytes_written']).toBe(4096);
    expect(stats['scenario.copy.ok']).toBe(1);
    expect(stats['scenario.copy.verified']).toBe(1);
    expect(Object.keys(stats)).toEqual([...Object.keys(stats)].sort());
    for (const v of Object.values(stats)) expect(typeof v === 'number' || v === null || Array.isArray(v)).toBe(true);
  });

  test('--seed changes the data but not the timing of a copy', async () => {
    const file = writeTemp(copyScenario(MINIMAL, { bytes: 8192 }));
    const a = collect(); const b = collect();
    await main(['run', file, '--stats', 'json', '--seed', '1'], a);
    await main(['run', file, '--stats', 'json', '--seed', '2'], b);
    expect(JSON.parse(a.stdout)['scenario.copy.duration_ps']).toBe(JSON.parse(b.stdout)['scenario.copy.duration_ps']);
  });

  test('--until stops the run at that simulated time', async () => {
    const io = collect();
    const code = await main(['run', writeTemp(copyScenario(MINIMAL, { bytes: 1 << 20 })), '--stats', 'json', '--until', '2us'], io);
    expect(code).toBe(0);
    const stats = JSON.parse(io.stdout);
    expect(stats['sim.time_ns']).toBe(2000);
    expect(stats['scenario.copy.done']).toBe(0);
    expect(stats['soc.dma0.bytes_written']).toBeGreaterThan(0);
    expect(stats['soc.dma0.bytes_written']).toBeLessThan(1 << 20);
  });

  test('warmup resets the stats at that simulated time', async () => {
    const s = copyScenario(MINIMAL, { bytes: 256 * 1024 });
    const full = collect();
    await main(['run', writeTemp(s), '--stats', 'json'], full);
    s.warmup = '3us';
    const warm = collect();
    await main(['run', writeTemp(s), '--stats', 'json'], warm);
    const a = JSON.parse(full.stdout); const b = JSON.parse(warm.stdout);
    expect(a['soc.dram.bytes_read']).toBe(256 * 1024);
    // Bytes read before 3 us are no longer counted; the run itself is unchanged.
    expect(b['soc.dram.bytes_read']).toBeGreaterThan(0);
    expect(b['soc.dram.bytes_read']).toBeLessThan(256 * 1024);
    expect(b['sim.time_ns']).toBe(a['sim.time_ns']);
  });

  test('validate accepts the bundled files', async () => {
    for (const f of [MINIMAL, DEFAULT_SCENARIO]) {
      const io = collect();
      expect(await main(['validate', f], io)).toBe(0);
      expect(io.stdout).toMatch(/^ok: /);
    }
  });

  test('validate on a broken config exits non-zero and prints the JSON path', async () => {
    const cfg = readConfig();
    cfg.buses[0].arbitration = 'lottery';
    const io = collect();
    const code = await main(['validate', writeTemp(cfg)], io);
    expect(code).toBe(1);
    expect(io.stderr).toMatch(/soc\.buses\[0\]\.arbitration/);
    expect(io.stdout).toBe('');
  });

  test('run on a broken scenario exits 1 with the path', async () => {
    const s = copyScenario(MINIMAL);
    s.jobs[0].bytes = '12 apples';
    const io = collect();
    expect(await main(['run', writeTemp(s)], io)).toBe(1);
    expect(io.stderr).toMatch(/scenario\.jobs\[0\]\.bytes/);
  });

  test('bad options are usage errors', async () => {
    const io = collect();
    expect(await main(['run', DEFAULT_SCENARIO, '--until', 'soon'], io)).toBe(1);
    expect(io.stderr).toMatch(/--until/);
    const io2 = collect();
    expect(await main(['run', DEFAULT_SCENARIO, '--trace', '/dev/null', '--trace-filter', 'bus,nope'], io2)).toBe(1);
    expect(io2.stderr).toMatch(/unknown trace category "nope"/);
    const io3 = collect();
    expect(await main(['frobnicate'], io3)).toBe(1);
    const io4 = collect();
    expect(await main(['run', '/nonexistent/scenario.json'], io4)).toBe(1);
    expect(io4.stderr).toMatch(/cannot read file/);
  });
});

describe('socsim list', () => {
  test('lists every bundled SoC config and scenario with its description', async () => {
    const fs = await import('fs');
    const path = await import('path');
    const io = collect();
    expect(await main(['list'], io)).toBe(0);
    const dir = path.join(__dirname, '..', '..', 'soc-configs');
    const socs = fs.readdirSync(dir).filter((f) => f.endsWith('.json') && !f.endsWith('schema.json'));
    const scenarios = fs.readdirSync(path.join(dir, 'scenarios')).filter((f) => f.endsWith('.json'));
    expect(socs.length).toBeGreaterThanOrEqual(4);
    for (const f of socs) expect(io.stdout).toMatch(new RegExp(`^  ${f.replace('.', '\\.')}\\s+\\S`, 'm'));
    for (const f of scenarios) expect(io.stdout).toMatch(new RegExp(`^  scenarios/${f.replace('.', '\\.')}\\s+\\[[a-z0-9-]+\\] \\S`, 'm'));
    expect(io.stdout).toMatch(/scenarios\/mobile-display\.json\s+\[mobile\] The display controller scans/);
  });
});

describe('socsim run --trace-format chrome', () => {
  test('writes Chrome trace-event JSON with named tracks, slices, instants and counters', async () => {
    const fs = await import('fs');
    const path = await import('path');
    const out = writeTemp('', 'timeline.json');
    const io = collect();
    const scenario = path.join(__dirname, '..', '..', 'soc-configs', 'scenarios', 'server-io-nic-lazy.json');
    expect(await main(['run', scenario, '--until', '20us', '--trace', out, '--trace-format', 'chrome', '--stats', 'json'], io)).toBe(0);
    const t = JSON.parse(fs.readFileSync(out, 'utf8'));
    const phases = new Set(t.traceEvents.map((e: { ph: string }) => e.ph));
    for (const ph of ['M', 'X', 'i', 'C']) expect(phases.has(ph)).toBe(true);
    const tracks = t.traceEvents.filter((e: { ph: string; name: string }) => e.ph === 'M' && e.name === 'thread_name').map((e: { args: { name: string } }) => e.args.name);
    expect(tracks).toEqual(expect.arrayContaining(['kernel', 'soc.iommu.walker', 'soc.xbar ← soc.nic']));
    for (const e of t.traceEvents.filter((x: { ph: string }) => x.ph === 'X')) {
      expect(e.dur).toBeGreaterThanOrEqual(0);
      expect(e.ts + e.dur).toBeLessThanOrEqual(20 + 1e-9);
    }
  });
});
