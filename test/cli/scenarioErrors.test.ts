/** Bad scenario files fail with a ConfigError naming the JSON path and the reason. */
import * as path from 'path';
import { loadScenario } from '../../scenario/load';
import { ConfigError } from '../../sim/engine/errors';
import { readConfig, REPO, writeTemp } from '../helpers/configFiles';

const MOBILE = path.join(REPO, 'soc-configs', 'mobile.json');
const SERVER = path.join(REPO, 'soc-configs', 'server-io.json');

function base(over: Record<string, unknown>): Record<string, unknown> {
  return {
    name: 'bad', soc: MOBILE, seed: 1,
    buffers: [{ name: 'fb', device: 'display', size: '8100KiB', via: 'dma-alloc-coherent' }],
    jobs: [{ kind: 'display', name: 'scan', device: 'display', buffer: 'fb', width: 1920, height: 1080, bytesPerPixel: 4, refreshHz: 60, frames: 1 }],
    ...over,
  };
}

function errorOf(obj: unknown): ConfigError {
  try {
    loadScenario(writeTemp(obj));
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('scenario errors name the JSON path', () => {
  test.each([
    ['an unknown device', { jobs: [{ kind: 'display', name: 'scan', device: 'lcd', buffer: 'fb', width: 8, height: 8, bytesPerPixel: 4, refreshHz: 60, frames: 1 }] },
      'scenario.jobs[0].device', /no device "lcd"/],
    ['a job on a device of another kind', { jobs: [{ kind: 'gpu', name: 'g', device: 'display', buffer: 'fb', streams: 1, widthBytes: 4096, height: 16, tileWidthBytes: 256, tileHeight: 16, accessBytes: 64 }] },
      'scenario.jobs[0].device', /is a display, a "gpu" job needs a gpu/],
    ['nvkm for a device that is not behind a GPU MMU', { buffers: [{ name: 'fb', device: 'display', size: 4096, via: 'nvkm' }] },
      'scenario.buffers[0].via', /needs a device behind an nv-format GPU MMU/],
    ['a DMA API buffer for a GPU behind an nv MMU', { buffers: [{ name: 't', device: 'gpu', size: 4096, via: 'dma-alloc-coherent' }], jobs: [{ kind: 'dma-copy', name: 'c', device: 'dma0', src: '0x8000_0000', dst: '0x8010_0000', bytes: 64 }] },
      'scenario.buffers[0].via', /its buffers come from the nvkm VMM/],
    ['a frame larger than its buffer', { buffers: [{ name: 'fb', device: 'display', size: '1MiB', via: 'dma-alloc-coherent' }] },
      'scenario.jobs[0].height', /needs 8294400 bytes, buffer "fb" has 1048576/],
    ['a buffer of another device', { buffers: [{ name: 'fb', device: 'camera', size: '8100KiB', via: 'dma-alloc-coherent' }] },
      'scenario.jobs[0].buffer', /mapped for device "camera", not "display"/],
    ['an endless display without a stop time', { jobs: [{ kind: 'display', name: 'scan', device: 'display', buffer: 'fb', width: 1920, height: 1080, bytesPerPixel: 4, refreshHz: 60 }] },
      'scenario.jobs[0].frames', /give frames, or an "until"/],
    ['a page size on a non-nvkm buffer', { buffers: [{ name: 'fb', device: 'display', size: '8100KiB', via: 'dma-alloc-coherent', pageSize: '64KiB' }] },
      'scenario.buffers[0].pageSize', /only nvkm buffers/],
    ['an unknown CPU core', { jobs: [{ kind: 'cpu-trace', name: 't', core: 'cpu9', trace: 'x' }] },
      'scenario.jobs[0].core', /no CPU core "cpu9"/],
    ['a missing trace file', { jobs: [{ kind: 'cpu-trace', name: 't', core: 'cpu0', trace: 'missing.lackey' }] },
      'scenario.jobs[0].trace', /no such file/],
    ['a workload beyond its buffer', { buffers: [{ name: 'r', device: 'codec', size: 4096, via: 'vcm' }], jobs: [{ kind: 'traffic', name: 't', device: 'codec', buffer: 'r', streams: [{ kind: 'sequential', accessBytes: 64, offset: 2048, footprint: 4096 }] }] },
      'scenario.jobs[0].streams[0]', /needs 6144 bytes/],
    ['a schema violation inside a workload', { buffers: [{ name: 'r', device: 'codec', size: 4096, via: 'vcm' }], jobs: [{ kind: 'traffic', name: 't', device: 'codec', buffer: 'r', streams: [{ kind: 'zipf', accessBytes: 64, theta: 1.5 }] }] },
      'scenario.jobs[0].streams[0].theta', /./],
  ])('%s', (_what, over, jsonPath, reason) => {
    const e = errorOf(base(over));
    expect(e.message).toContain(jsonPath);
    expect(e.message).toMatch(reason as RegExp);
  });

  test('a NIC packet larger than its receive buffer', () => {
    const e = errorOf({ name: 'bad', soc: SERVER, jobs: [{ kind: 'nic', name: 'rx', device: 'nic', rx: { packetBytes: 4000, packetsPerSecond: 1000, packets: 1 } }] });
    expect(e.message).toContain('scenario.jobs[0].rx.packetBytes');
    expect(e.message).toMatch(/must fit in a receive buffer \(2048 bytes\)/);
  });

  test('a NIC job with neither rx nor tx', () => {
    const e = errorOf({ name: 'bad', soc: SERVER, jobs: [{ kind: 'nic', name: 'rx', device: 'nic' }] });
    expect(e.message).toContain('scenario.jobs[0]');
    expect(e.message).toMatch(/needs rx, tx or both/);
  });

  test('a buffer the kernel cannot provide is a ConfigError naming the buffer', async () => {
    const { run } = await import('../../scenario/run');
    const file = writeTemp(base({ buffers: [{ name: 'fb', device: 'display', size: '200MiB', via: 'dma-alloc-coherent' }], jobs: [{ kind: 'display', name: 'scan', device: 'display', buffer: 'fb', width: 8, height: 8, bytesPerPixel: 4, refreshHz: 60, frames: 1 }] }));
    expect(() => run(file)).toThrow(/scenario\.buffers\[0\].*could not provide buffer "fb"/);
  });

  describe('the kernel must fit in the DRAM it boots on', () => {
    const smallDram = () => {
      const soc = readConfig(SERVER);
      soc.memories[0].size = '32MiB';
      return writeTemp(soc);
    };
    const nicJob = { kind: 'nic', name: 'rx', device: 'nic', rx: { packetBytes: 64, packetsPerSecond: 1000, packets: 1 } };

    test('the default 64 MiB CMA region in a 32 MiB DRAM is refused at the kernel section', () => {
      const e = errorOf({ name: 'small', soc: smallDram(), jobs: [nicJob] });
      expect(e.jsonPath).toBe('scenario.kernel');
      expect(e.message).toMatch(/CMA region \(67108864 bytes, the default\) must be smaller than DRAM "dram" \(33554432 bytes\)/);
    });

    test('a CMA size that fits runs; one that is not whole pages is refused at kernel.cmaSize', async () => {
      const { run } = await import('../../scenario/run');
      const ok = writeTemp({ name: 'small', soc: smallDram(), kernel: { cmaSize: '8MiB', swiotlbSize: '1MiB' }, jobs: [nicJob] });
      expect(run(ok, { until: 1_000_000 }).soc.config.memories[0].size).toBe(32 * 2 ** 20);
      const e = errorOf({ name: 'small', soc: smallDram(), kernel: { cmaSize: 5000 }, jobs: [nicJob] });
      expect(e.jsonPath).toBe('scenario.kernel.cmaSize');
      expect(e.message).toMatch(/whole number of 4 KiB pages/);
    });
  });

  test('a job whose kernel calls run out of memory is a ConfigError at the job, not an internal error', async () => {
    const { run } = await import('../../scenario/run');
    // 2 × 64 MiB fits the 160 MiB of DRAM (validation passes), not what CMA and swiotlb leave of it.
    const soc = readConfig(SERVER);
    soc.memories[0].size = '160MiB';
    const file = writeTemp({ name: 'huge', soc: writeTemp(soc), jobs: [{ kind: 'sg-copy', name: 'copies', device: 'storage', bytes: '64MiB', transfers: 1 }] });
    expect(() => run(file, { until: 1_000_000 })).toThrow(ConfigError);
    expect(() => run(file, { until: 1_000_000 })).toThrow(/scenario\.jobs\[0\]: the kernel ran out of resources for job "copies": alloc_pages: ENOMEM/);
  });
});

