import type { SimContext } from '../../../sim/engine/context';
import { createSimContext } from '../../../sim/engine/context';
import { connectPorts, ResponsePort, type RequestReceiver } from '../../../sim/bus/port';
import { Cmd, Status, type Transaction } from '../../../sim/bus/transaction';
import { SimInvariantError } from '../../../sim/engine/errors';
import { PcieLink } from '../../../sim/pcie/link';
import { TrafficMaster, type TrafficRequest } from '../../helpers/trafficMaster';

const NS = 1000;
const HIGH = 2 ** 32;
/** ps per byte of a Gen3 x8 link: 8 GT/s x 8 lanes x 128/130. */
const G3X8 = 8000 / (8 * 8 * 128 / 130);

interface Seen { tick: number; cmd: Cmd; addr: number; size: number; first: number; obj: Transaction }

/**
 * A slave whose latency depends on the command (so requests finish out of order, as
 * behind an IOMMU), that records what it saw (a copy: the object may be recycled later),
 * and can answer writes with an error or answer one write twice.
 */
class ScriptedSlave implements RequestReceiver {
  readonly port = new ResponsePort('mem.port', this);
  readonly seen: Seen[] = [];
  readonly mem = new Map<number, number>();
  constructor(private readonly ctx: SimContext, private readonly opts: { writeNs: number; readNs: number; writeStatus?: Status; doubleRespond?: boolean }) {}
  recvRequest(txn: Transaction): boolean {
    const e = this.ctx.engine;
    this.seen.push({ tick: e.now, cmd: txn.cmd, addr: txn.addr, size: txn.size, first: txn.data[0], obj: txn });
    const write = txn.cmd === Cmd.Write;
    e.schedule(e.now + (write ? this.opts.writeNs : this.opts.readNs) * NS, () => {
      if (write) this.mem.set(txn.addr, txn.data[0]);
      else txn.data[0] = this.mem.get(txn.addr) ?? 0;
      txn.status = write ? this.opts.writeStatus ?? Status.Ok : Status.Ok;
      this.port.sendResponse(txn);
      if (write && this.opts.doubleRespond) this.port.sendResponse(txn);
    });
    return true;
  }
  recvAtomic(): number { return 0; }
  recvFunctional(): void {}
}

function rig(reqs: TrafficRequest[], opts: ConstructorParameters<typeof ScriptedSlave>[1], outstanding = 1) {
  const ctx = createSimContext(1);
  const link = new PcieLink(ctx, 'soc.dev.pcie', { gen: 3, lanes: 8, latencyNs: 100 });
  const slave = new ScriptedSlave(ctx, opts);
  const master = new TrafficMaster(ctx, 'dev', 1, reqs, outstanding);
  connectPorts(master.port, link.cpuSidePort);
  connectPorts(link.memSidePort, slave.port);
  return { ctx, link, slave, master, stat: (n: string) => ctx.stats.value(`soc.dev.pcie.${n}`) };
}

const write = (addr: number, byte: number): TrafficRequest => ({ cmd: Cmd.Write, addr, size: 64, data: new Uint8Array(64).fill(byte) });

describe('PCIe posted writes', () => {
  test('the device is answered when the last TLP has left; the write reaches memory later', () => {
    const { ctx, master, slave } = rig([write(HIGH, 7)], { writeNs: 1000, readNs: 10 });
    master.start(0);
    ctx.engine.runUntilIdle();
    // MWr: 8 + 16 + 64 = 88 bytes on the wire; no link latency, no memory time.
    expect(master.completed[0].doneTick).toBe(Math.ceil(88 * G3X8));
    expect(master.completed[0].status).toBe(Status.Ok);
    expect(slave.seen[0].tick).toBe(Math.ceil(88 * G3X8) + 100 * NS);
    expect(ctx.engine.now).toBe(Math.ceil(88 * G3X8) + 100 * NS + 1000 * NS);
  });

  test('the device may recycle its transaction at once: memory still gets each write\'s own address and data', () => {
    // One outstanding: the TrafficMaster's pool hands the same Transaction object back for every write.
    const reqs = [write(HIGH, 1), write(HIGH + 64, 2), write(HIGH + 128, 3), write(HIGH + 192, 4)];
    const { ctx, master, slave } = rig(reqs, { writeNs: 2000, readNs: 10 });
    master.start(0);
    ctx.engine.runUntilIdle();
    expect(master.completed.map((c) => c.status)).toEqual([1, 1, 1, 1]);
    expect(slave.seen.map((s) => [s.addr - HIGH, s.first])).toEqual([[0, 1], [64, 2], [128, 3], [192, 4]]);
    expect([...slave.mem.entries()].map(([a, v]) => [a - HIGH, v])).toEqual([[0, 1], [64, 2], [128, 3], [192, 4]]);
    // All four were in memory's hands together: the device did not wait for them.
    expect(slave.seen[3].tick).toBeLessThan(slave.seen[0].tick + 2000 * NS);
  });

  test('a second response to one write is a simulator bug, not a second completion for the device', () => {
    const { ctx, master } = rig([write(HIGH, 1)], { writeNs: 100, readNs: 10, doubleRespond: true });
    master.start(0);
    expect(() => ctx.engine.runUntilIdle()).toThrow(SimInvariantError);
    expect(master.completed).toHaveLength(1);
  });

  test('an error past the root port is counted, and the device never hears of it (no completion for posted requests)', () => {
    const { ctx, master, stat } = rig([write(HIGH, 1), write(HIGH + 64, 2)], { writeNs: 100, readNs: 10, writeStatus: Status.TranslationFault }, 2);
    master.start(0);
    ctx.engine.runUntilIdle();
    expect(master.completed.map((c) => c.status)).toEqual([Status.Ok, Status.Ok]);
    expect(stat('posted_errors')).toBe(2);
  });

  test('a read does not pass an earlier posted write to the same bytes, even when memory would finish it first', () => {
    // Writes take 2 us in memory, reads 10 ns: without the hold the read would return the old byte.
    const reqs: TrafficRequest[] = [write(HIGH, 9), { cmd: Cmd.Read, addr: HIGH, size: 64 }, { cmd: Cmd.Read, addr: HIGH + 4096, size: 64 }];
    const { ctx, master, slave, stat } = rig(reqs, { writeNs: 2000, readNs: 10 }, 4);
    master.start(0);
    ctx.engine.runUntilIdle();
    expect(master.completed[1].data[0]).toBe(9);
    expect(stat('reads_held')).toBe(1);
    const readAt = slave.seen.find((s) => s.cmd === Cmd.Read)!.tick;
    expect(readAt).toBeGreaterThanOrEqual(slave.seen[0].tick + 2000 * NS);
    // In-order at the root port: the read that does not overlap waited behind the held one.
    expect(slave.seen.map((s) => s.addr - HIGH)).toEqual([0, 0, 4096]);
  });

  test('an interrupt (MSI) is delivered only after the writes before it reached memory', () => {
    const { ctx, link, master, slave } = rig([write(HIGH, 1), write(HIGH + 64, 2)], { writeNs: 3000, readNs: 10 }, 2);
    const fired: Array<[number, number]> = [];
    master.start(0);
    // Raise the interrupt once the device has its responses (both sent, neither in memory).
    ctx.engine.schedule(500 * NS, () => {
      expect(master.completed).toHaveLength(2);
      expect(slave.mem.size).toBe(0);
      link.afterPostedWrites((arg) => fired.push([arg, ctx.engine.now]), 42);
    });
    ctx.engine.runUntilIdle();
    expect(fired).toHaveLength(1);
    expect(fired[0][0]).toBe(42);
    expect(slave.mem.size).toBe(2);
    const lastWriteDone = slave.seen[1].tick + 3000 * NS;
    expect(fired[0][1]).toBe(lastWriteDone);
    // With no write in flight, the MSI costs its own crossing: a 4-byte MWr (8 + 12 + 4 bytes) and the link latency.
    const at = ctx.engine.now;
    link.afterPostedWrites((arg) => fired.push([arg, ctx.engine.now]), 7);
    ctx.engine.runUntilIdle();
    expect(fired[1]).toEqual([7, at + Math.ceil(24 * G3X8) + 100 * NS]);
  });
});
