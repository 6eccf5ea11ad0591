/**
 * Issue 15 item 2: an sg-copy larger than the platform can ever give is refused at
 * validation with the field's path; one that passes validation but does not fit next to
 * the kernel's own reservations fails at boot with the kernel's ENOMEM, at the job's path,
 * before any page is filled.
 */
import { runCli } from '../helpers/cliInProcess';

describe('sg-copy sizes', () => {
  test('source + destination larger than DRAM: validate refuses scenario.jobs[0].bytes', async () => {
    const r = await runCli(['validate', 'server-io-storage-sg', '--set', 'scenario.jobs[0].bytes=4GiB', '--set', 'soc.memories[0].size=4GiB']);
    expect(r.code).toBe(1);
    expect(r.err).toContain("scenario.jobs[0].bytes: source and destination pages (2 × 4294967296 bytes) must fit in the page allocator's DRAM \"dram\" (4294967296 bytes)");
  });

  test('just below DRAM but above what the kernel left: ENOMEM at boot, exit 1', async () => {
    const r = await runCli(['run', 'server-io-storage-sg', '--until', '2us', '--no-progress', '--set', 'soc.memories[0].size=1GiB', '--set', 'scenario.jobs[0].bytes=500MiB']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/scenario\.jobs\[0\]: the kernel ran out of resources for job "copies": alloc_pages: ENOMEM/);
  });
});
