/**
 * Issue 15 item 2: an sg-copy larger than the platform can ever give is refused at
 * validation with the field's path; one that passes validation but does not fit next to
 * the kernel's own reservations fails at boot with the kernel's ENOMEM, at the job's path,
 * before any page is filled.
 */
import { runCli } from '../helpers/cliInProcess';

describe('sg-copy sizes', () => {
  test('more than 64 MiB per transfer: validate refuses scenario.jobs[0].bytes', async () => {
    const r = await runCli(['validate', 'server-io-storage-sg', '--set', 'scenario.jobs[0].bytes=2GiB']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('scenario.jobs[0].bytes: must be a positive multiple of 4096, at most 64 MiB, got 2147483648');
  });

  test('source + destination larger than DRAM: validate refuses scenario.jobs[0].bytes', async () => {
    const r = await runCli(['validate', 'server-io-storage-sg', '--set', 'scenario.jobs[0].bytes=64MiB', '--set', 'soc.memories[0].size=96MiB']);
    expect(r.code).toBe(1);
    expect(r.err).toContain("scenario.jobs[0].bytes: source and destination pages (2 × 67108864 bytes) must fit in the page allocator's DRAM \"dram\" (100663296 bytes)");
  });

  test('buffers and init fills larger than 1 GiB are refused at validation', async () => {
    const r = await runCli(['validate', 'mobile-gpu-texture-4k', '--set', 'scenario.buffers[0].size=2GiB']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('scenario.buffers[0].size: must be at most 1GiB (written before time zero), got 2147483648');
    const f = await runCli(['validate', 'default', '--set', 'scenario.init[0].bytes=2GiB']);
    expect(f.code).toBe(1);
    expect(f.err).toContain('scenario.init[0].bytes: must be at most 1GiB');
  });

  test('just below DRAM but above what the kernel left: ENOMEM at boot, exit 1', async () => {
    const r = await runCli(['run', 'server-io-storage-sg', '--until', '2us', '--no-progress', '--set', 'soc.memories[0].size=160MiB', '--set', 'scenario.jobs[0].bytes=64MiB']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/scenario\.jobs\[0\]: the kernel ran out of resources for job "copies": alloc_pages: ENOMEM/);
  });
});
