import * as fs from 'fs';
import * as path from 'path';
import { run } from '../../scenario/run';
import { MemoryTraceWriter } from '../../sim/engine/trace';
import { copyScenario, MINIMAL, readConfig, writeTemp } from '../helpers/configFiles';

const GOLDEN = path.join(__dirname, '..', 'golden', 'minimal-copy-4k.trace.jsonl');

function traced(file: string, seed?: number) {
  const writer = new MemoryTraceWriter();
  const out = run(file, { traceWriter: writer, seed });
  return { stats: JSON.stringify(out.stats), trace: writer.text(), out };
}

describe('determinism', () => {
  test('two runs give identical stats JSON and identical trace bytes', () => {
    // Two masters contending, so arbitration order matters.
    const cfg = readConfig();
    cfg.devices.push({ ...cfg.devices[0], name: 'dma1' });
    const soc = writeTemp(cfg);
    const s = copyScenario(soc, { bytes: 32 * 1024 });
    s.init.push({ kind: 'fill', addr: 0x8200_0000, bytes: 32 * 1024, pattern: 'random' });
    s.jobs.push({ kind: 'dma-copy', name: 'copy2', device: 'dma1', src: 0x8200_0000, dst: 0x8300_4000, bytes: 32 * 1024 });
    const file = writeTemp(s);
    const a = traced(file);
    const b = traced(file);
    expect(a.trace.length).toBeGreaterThan(1000);
    expect(a.stats).toBe(b.stats);
    expect(a.trace).toBe(b.trace);
    expect(a.out.jobs.every((j) => j.status === 'ok' && j.verified)).toBe(true);
  });

  test('the trace starts with a versioned header naming config hash and seed', () => {
    const { trace, out } = traced(writeTemp(copyScenario(MINIMAL, { bytes: 256 })), 42);
    const header = JSON.parse(trace.split('\n')[0]);
    expect(header).toMatchObject({ format: 'socsim-trace', version: 1, seed: 42, config_hash: out.configHash });
    expect(out.configHash).toMatch(/^[0-9a-f]{16}$/);
  });

  test('a 4 KiB copy on the minimal SoC matches the golden trace', () => {
    // Regenerate deliberately with UPDATE_GOLDEN=1 when a model change is meant to alter timing.
    const { trace } = traced(path.join(__dirname, '..', 'golden', 'minimal-copy-4k.scenario.json'));
    if (process.env.UPDATE_GOLDEN === '1') fs.writeFileSync(GOLDEN, trace);
    expect(trace).toBe(fs.readFileSync(GOLDEN, 'utf8'));
  });
});
