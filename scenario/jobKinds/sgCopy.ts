import { z } from 'zod';
import { DescDma } from '../../sim/devices/descDma';
import { Name, Size } from '../../sim/soc/schemaTypes';
import { DescDmaDriver } from '../../drivers/devices/descDmaDriver';
import { sgInitTable, sgSetPage } from '../../drivers/dma/types';
import { asJob, defineJobKind, jobFields, jobPlatform, runningJob, withRules } from '../jobSpec';
import { KernelError } from '../../drivers/errno';

/**
 * `sg-copy`: scatter-gather copies on a descriptor DMA engine through its
 * dmaengine-style driver: each transfer copies `bytes` between two lists of single
 * pages taken from the page allocator in an interleaved order (so neither list is
 * physically contiguous), filled with random bytes through the CPU and compared through
 * the CPU afterwards.
 */
/**
 * Largest transfer: 64 MiB. Each transfer's source is written and its destination compared
 * through the simulated CPU and its cache before and after the copy, about 0.1 s of host
 * time per MiB, the first one before time zero (where --until cannot stop it).
 */
export const MAX_SG_COPY_BYTES = 64 * 1024 * 1024;

export const sgCopyJobKind = defineJobKind({
  spec: withRules(jobFields('sg-copy', {
    device: Name.describe('a device of kind "descdma"'),
    bytes: Size.describe('bytes per transfer: a multiple of 4 KiB, at most 64 MiB'),
    transfers: z.number().int().positive().default(1).describe('transfers, each between freshly allocated scattered pages'),
    verify: z.boolean().default(true).describe('compare destination with source through the CPU after each transfer'),
  }), (j) => (j.bytes === 0 || j.bytes % 4096 !== 0 || j.bytes > MAX_SG_COPY_BYTES
    ? [[['bytes'], `must be a positive multiple of 4096, at most 64 MiB, got ${j.bytes}`]] : [])),
  target: { field: 'device', kinds: ['descdma'], exclusive: true },
  fastForward: 'the descriptor DMA engine performs a whole descriptor per atomic event and cannot hand a descriptor over to timing mode',
  check: (j, c) => {
    // Source and destination pages both come from the page allocator, which manages the first DRAM.
    const dram = c.soc.memories.find((m) => m.kind === 'dram');
    if (dram && 2 * j.bytes > dram.size) {
      return [[['bytes'], `source and destination pages (2 × ${j.bytes} bytes) must fit in the page allocator's DRAM "${dram.name}" (${dram.size} bytes)`]];
    }
    return [];
  },
  start: (env, job) => {
    const { ctx, soc } = env;
    const platform = jobPlatform(env, job);
    const engine = soc.model(job.device, DescDma);
    const driver = new DescDmaDriver(platform, job.device, engine);
    // A run cut short by `until` may end mid-transfer: the driver then stays bound (its remove would refuse, EBUSY).
    env.atExit.push(() => {
      if (!driver.busy) driver.remove();
    });
    const scope = ctx.stats.scope(`scenario.${job.name}`);
    const sBytes = scope.counter('bytes', 'bytes copied');
    const sMismatches = scope.counter('mismatches', 'transfers whose destination differed from the source');
    const rng = ctx.rng.fork(`scenario.${job.name}`);
    const pages = job.bytes / 4096;
    const kcpu = platform.kcpu;
    let completed = 0;
    const transfer = (done: () => void) => {
      // Interleaved allocation: source and destination pages alternate, so each list is scattered.
      const src: number[] = [];
      const dst: number[] = [];
      for (let i = 0; i < 2 * pages; i++) {
        const pa = platform.pages.allocPages(0);
        if (pa === null) throw new KernelError('ENOMEM', 'alloc_pages', `${job.name}: ${2 * pages} pages for one transfer`);
        (i % 2 === 0 ? src : dst).push(pa);
      }
      const data = new Uint8Array(4096);
      for (const pa of src) {
        rng.fillBytes(data);
        kcpu.write(kcpu.physToVirt(pa), data);
      }
      const list = (ps: number[]) => {
        const sg = sgInitTable(ps.length);
        ps.forEach((pa, i) => sgSetPage(sg[i], pa, 4096, 0));
        return sg;
      };
      driver.memcpySg(list(src), pages, list(dst), pages, (r) => {
        sBytes.value += r.bytes;
        if (job.verify) {
          const x = new Uint8Array(4096);
          const y = new Uint8Array(4096);
          let same = r.error === null;
          for (let i = 0; same && i < pages; i++) {
            kcpu.read(kcpu.physToVirt(src[i]), x);
            kcpu.read(kcpu.physToVirt(dst[i]), y);
            for (let k = 0; k < 4096; k++) if (x[k] !== y[k]) { same = false; break; }
          }
          if (!same) sMismatches.value++;
        }
        for (const pa of [...src, ...dst]) platform.pages.freePages(pa, 0);
        if (++completed < job.transfers) asJob(job, () => transfer(done));
        else done();
      });
    };
    return runningJob(job, ctx, (done) => {
      driver.probe();
      transfer(done);
    }, () => ({ transfers: completed }));
  },
});
