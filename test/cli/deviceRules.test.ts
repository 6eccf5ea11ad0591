/**
 * Hardware rules (device specs) and programming rules (job specs and checks) are
 * ConfigErrors with the JSON path from both `socsim validate` and `socsim run`, never a
 * SimInvariantError from a model at build or start time.
 */
import * as path from 'path';
import { main, type CliIO } from '../../cli/main';
import { readConfig, REPO, writeTemp } from '../helpers/configFiles';

const MOBILE = path.join(REPO, 'soc-configs', 'mobile.json');
const SERVER = path.join(REPO, 'soc-configs', 'server-io.json');
const scenarioFile = (name: string) => path.join(REPO, 'soc-configs', 'scenarios', `${name}.json`);

function collect(): CliIO & { stdout: string; stderr: string } {
  const io = { stdout: '', stderr: '', out: (t: string) => { io.stdout += t; }, err: (t: string) => { io.stderr += t; } };
  return io;
}

/** validate and run both exit 1 (bad input, not an internal error) with `message` on stderr. */
async function rejected(file: string, message: string, runIt = true): Promise<void> {
  const v = collect();
  expect(await main(['validate', file], v)).toBe(1);
  expect(v.stderr).toContain(message);
  if (!runIt) return;
  const r = collect();
  expect(await main(['run', file, '--no-progress'], r)).toBe(1);
  expect(r.stderr).toContain(message);
  expect(r.stderr).not.toMatch(/internal error/);
}

/** A bundled scenario on `socFile` with `edit` applied to its first job. */
function scenario(name: string, socFile: string, edit: (job: Record<string, any>) => void): string {
  const s = readConfig(scenarioFile(name));
  s.soc = socFile;
  edit(s.jobs[0]);
  return writeTemp(s);
}

describe('device rules are ConfigErrors at validate time', () => {
  test('mobile.json with a 32-byte display FIFO: the config and mobile-display fail with soc.devices[i].fifoBytes', async () => {
    const soc = readConfig(MOBILE);
    const i = soc.devices.findIndex((d: { name: string }) => d.name === 'display');
    soc.devices[i].fifoBytes = 32;
    const socFile = writeTemp(soc);
    const message = `soc.devices[${i}].fifoBytes: must be at least burstBytes (64), got 32`;
    await rejected(socFile, message, false);
    await rejected(scenario('mobile-display', socFile, () => {}), message);
  });

  test('an unknown device kind names the registered ones', async () => {
    const soc = readConfig(MOBILE);
    soc.devices[0].kind = 'fpga';
    const io = collect();
    expect(await main(['validate', writeTemp(soc)], io)).toBe(1);
    expect(io.stderr).toContain("soc.devices[0].kind: Invalid discriminator value. Expected 'dma' | 'traffic' | 'gpu' | 'display' | 'camera' | 'nic' | 'descdma'");
  });
});

describe('programming rules are ConfigErrors with the scenario path', () => {
  test('gpu: accessBytes must be a power of two', async () => {
    await rejected(scenario('mobile-gpu-texture-4k', MOBILE, (j) => { j.accessBytes = 96; }), 'scenario.jobs[0].accessBytes: must be a power of two, got 96');
  });

  test('gpu: slice sharing needs a tile row per stream', async () => {
    // 4096 rows of 16-row tiles: 256 tile rows.
    await rejected(scenario('mobile-gpu-texture-4k', MOBILE, (j) => { j.streams = 300; }), 'scenario.jobs[0].streams: slice sharing needs at most one stream per tile row (256 tile rows), got 300');
  });

  test('nic: the offered load must not exceed the line rate of the SoC\'s NIC', async () => {
    // 1500 B × 8 × 1e6/s = 12 Gbit/s on a 10 Gbit/s line.
    await rejected(scenario('server-io-nic-strict', SERVER, (j) => { j.rx.packetBytes = 1500; j.rx.packetsPerSecond = 1e6; }),
      'scenario.jobs[0].rx.packetsPerSecond: offered load 12 Gbit/s (packetsPerSecond × packetBytes × 8) exceeds the line rate of "nic" (10 Gbit/s)');
  });

  test('nic: a packet must fit in the NIC\'s receive FIFO', async () => {
    const soc = readConfig(SERVER);
    soc.devices.find((d: { name: string }) => d.name === 'nic').rxFifoBytes = 1024;
    await rejected(scenario('server-io-nic-strict', writeTemp(soc), (j) => { j.rx.packetBytes = 2000; j.rx.bufferBytes = 2048; j.rx.packetsPerSecond = 1e5; }),
      'scenario.jobs[0].rx.packetBytes: a packet must fit in the receive FIFO of "nic" (rxFifoBytes 1024), got 2000');
  });

  test('camera: a line must fit in the line buffer; a line must last at least 1 ps', async () => {
    // 32 KiB line buffer; 20000 px × 2 B = 40000 bytes.
    await rejected(scenario('mobile-camera-codec', MOBILE, (j) => { j.width = 20000; j.height = 100; }),
      'scenario.jobs[0].width: a line (width × bytesPerPixel = 40000 bytes) must fit in the receiver buffer of "camera" (lineBufferBytes 32768)');
    await rejected(scenario('mobile-camera-codec', MOBILE, (j) => { j.fps = 1e12; }), 'scenario.jobs[0].fps: a line must last at least 1 ps');
  });

  test('display: pitch below a line, and an active line shorter than 1 ps', async () => {
    await rejected(scenario('mobile-display', MOBILE, (j) => { j.pitchBytes = 100; }), 'scenario.jobs[0].pitchBytes: must be at least width × bytesPerPixel (7680), got 100');
    await rejected(scenario('mobile-display', MOBILE, (j) => { j.refreshHz = 1e12; }), 'scenario.jobs[0].refreshHz: an active line must last at least 1 ps');
  });
});
