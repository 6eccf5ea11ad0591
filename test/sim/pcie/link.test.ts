import { createSimContext } from '../../../sim/engine/context';
import { connectPorts } from '../../../sim/bus/port';
import { Cmd } from '../../../sim/bus/transaction';
import { PcieLink } from '../../../sim/pcie/link';
import type { PcieLinkParamsInput } from '../../../sim/pcie/linkSpec';
import { FixedSlave } from '../../helpers/fixedSlave';
import { TrafficMaster, type TrafficRequest } from '../../helpers/trafficMaster';
import { readConfig, socConfigError } from '../../helpers/configFiles';

const HIGH = 2 ** 32; // 64-bit addresses: 4-DW (16-byte) request headers
const NS = 1000;

/** A master → link → fixed-latency slave rig. */
function rig(params: PcieLinkParamsInput, reqs: TrafficRequest[], opts: { outstanding?: number; slaveNs?: number; queueLimit?: number } = {}) {
  const ctx = createSimContext(1);
  const link = new PcieLink(ctx, 'soc.dev.pcie', params);
  const slave = new FixedSlave(ctx, 'mem', { latency: (opts.slaveNs ?? 10) * NS, queueLimit: opts.queueLimit });
  const master = new TrafficMaster(ctx, 'dev', 1, reqs, opts.outstanding ?? 1);
  connectPorts(master.port, link.cpuSidePort);
  connectPorts(link.memSidePort, slave.port);
  master.start(0);
  ctx.engine.runUntilIdle();
  expect(master.done).toBe(true);
  return { ctx, link, slave, master, stat: (n: string) => ctx.stats.value(`soc.dev.pcie.${n}`) };
}

const reqs = (cmd: Cmd, n: number, size: number, base = HIGH): TrafficRequest[] =>
  Array.from({ length: n }, (_, i) => ({ cmd, addr: base + i * size, size }));

/** ps per byte of a Gen4 x16 link: 16 GT/s x 16 lanes x 128/130. */
const G4X16 = 8000 / (16 * 16 * 128 / 130);

describe('PCIe link', () => {
  test('one 64-byte read: request serialization + latency, the slave, completion serialization + latency', () => {
    const { master, stat } = rig({ gen: 4, lanes: 16, latencyNs: 70 }, reqs(Cmd.Read, 1, 64), { slaveNs: 100 });
    // MRd: 8 (framing, seq, LCRC) + 16 (4-DW header) = 24 B up; CplD: 8 + 12 + 64 = 84 B down.
    const up = Math.ceil(24 * G4X16);
    const down = Math.ceil(up + 70 * NS + 100 * NS + 84 * G4X16) - (up + 70 * NS + 100 * NS);
    expect(master.completed[0].doneTick).toBe(up + 70 * NS + 100 * NS + down + 70 * NS);
    expect(stat('up.bytes')).toBe(24);
    expect(stat('down.bytes')).toBe(84);
    expect(stat('up.tlps')).toBe(1);
    expect(stat('down.tlps')).toBe(1);
  });

  test('a 3-DW header below 4 GiB, and ECRC adds 4 bytes a TLP', () => {
    expect(rig({ gen: 3, lanes: 8 }, reqs(Cmd.Write, 1, 64, 0x8000_0000)).stat('up.bytes')).toBe(8 + 12 + 64);
    expect(rig({ gen: 3, lanes: 8, ecrc: true }, reqs(Cmd.Write, 1, 64)).stat('up.bytes')).toBe(8 + 16 + 4 + 64);
  });

  test('writes split at Max Payload Size boundaries', () => {
    // 1024 bytes starting 128 bytes into a 256-byte chunk: 128 + 3 x 256 + 128 = 5 TLPs.
    const { stat, slave } = rig({ gen: 3, lanes: 8, maxPayloadBytes: 256 }, [{ cmd: Cmd.Write, addr: HIGH + 128, size: 1024 }]);
    expect(stat('up.tlps')).toBe(5);
    expect(stat('up.payload_bytes')).toBe(1024);
    expect(stat('up.bytes')).toBe(5 * 24 + 1024);
    expect(stat('down.tlps')).toBe(0);
    expect(slave.accepted).toHaveLength(1); // the root complex sees the whole request
  });

  test('reads split at Max Read Request Size; completions at the Read Completion Boundary', () => {
    const read = [{ cmd: Cmd.Read, addr: HIGH + 128, size: 1024 }];
    const rcb = rig({ gen: 3, lanes: 8, maxReadRequestBytes: 512, readCompletionBoundaryBytes: 64 }, read);
    expect(rcb.stat('up.tlps')).toBe(3); // [0x80,0x200) [0x200,0x400) [0x400,0x480)
    expect(rcb.stat('down.tlps')).toBe(16); // 1024 / 64
    expect(rcb.stat('down.bytes')).toBe(16 * 20 + 1024);
    const r128 = rig({ gen: 3, lanes: 8, readCompletionBoundaryBytes: 128 }, read);
    expect(r128.stat('down.tlps')).toBe(8);
    // "mps": completions up to 256 bytes ending on 64-byte boundaries: 0x80-0x180-0x280-0x380-0x480.
    const mps = rig({ gen: 3, lanes: 8, maxPayloadBytes: 256, completionSplit: 'mps' }, read);
    expect(mps.stat('down.tlps')).toBe(4);
  });

  test('write bandwidth: one TLP header per MPS chunk at the link data rate', () => {
    const n = 400;
    const { master, stat } = rig({ gen: 4, lanes: 16, maxPayloadBytes: 256 }, reqs(Cmd.Write, n, 4096), { outstanding: 64 });
    const span = master.completed[n - 1].doneTick;
    const gbps = (n * 4096) / (span / NS); // bytes per ns = GB/s
    const expected = 4096 / ((16 * 24 + 4096) * G4X16 / NS);
    expect(Math.abs(gbps - expected) / expected).toBeLessThan(0.01);
    expect(stat('up.util')).toBeGreaterThan(0.98);
    expect(stat('credit_stalls')).toBe(0);
  });

  test('Gen1 x1 is 2 Gb/s of data: 8b/10b on 2.5 GT/s', () => {
    const { master } = rig({ gen: 1, lanes: 1, latencyNs: 0 }, reqs(Cmd.Write, 1, 128), { slaveNs: 0 });
    // 8 + 16 + 128 = 152 bytes at 4 ns a byte.
    expect(master.completed[0].doneTick).toBe(152 * 4 * NS);
  });

  test('credit back-pressure: a slow receiver stalls the link, then the endpoint refuses the device', () => {
    const { ctx, stat, master, slave } = rig(
      { gen: 3, lanes: 8, postedHeaderCredits: 2, postedDataCredits: 16, txQueueDepth: 1 },
      reqs(Cmd.Write, 8, 64), { outstanding: 8, slaveNs: 1000, queueLimit: 1 },
    );
    expect(stat('credit_stalls')).toBeGreaterThan(0);
    expect(stat('credit_stall_ns')).toBeGreaterThan(1000);
    expect(stat('refused')).toBeGreaterThan(0);
    expect(master.refusals).toBeGreaterThan(0);
    expect(slave.maxPending).toBe(1);
    // The slave is the bottleneck: 8 writes, one at a time, 1 us each. Writes are posted:
    // the device's last write is answered when its TLP leaves, which waits for a header
    // credit the root port frees when the slave takes write 6 (after write 5, ~5 us).
    expect(master.completed[7].doneTick).toBeGreaterThan(5 * 1000 * NS);
    expect(master.completed[7].doneTick).toBeLessThan(6 * 1000 * NS);
    expect(ctx.engine.now).toBeGreaterThan(8 * 1000 * NS);
    expect(stat('up.tlps')).toBe(8);
  });

  test('tags bound the reads in flight', () => {
    const { stat, slave } = rig({ gen: 3, lanes: 8, tags: 2 }, reqs(Cmd.Read, 6, 64), { outstanding: 6, slaveNs: 500 });
    expect(stat('tag_stalls')).toBeGreaterThan(0);
    expect(slave.maxPending).toBe(2);
  });

  test('atomic access returns the idle-link latency plus the slave\'s', () => {
    const ctx = createSimContext(1);
    const link = new PcieLink(ctx, 'soc.dev.pcie', { gen: 4, lanes: 16, latencyNs: 70 });
    const slave = new FixedSlave(ctx, 'mem', { latency: 100 * NS });
    const master = new TrafficMaster(ctx, 'dev', 1, []);
    connectPorts(master.port, link.cpuSidePort);
    connectPorts(link.memSidePort, slave.port);
    const r = master.atomic({ cmd: Cmd.Read, addr: HIGH, size: 64 });
    expect(r.latency).toBe(100 * NS + 140 * NS + Math.ceil((24 + 84) * G4X16));
  });
});

describe('PCIe config errors name the field', () => {
  const withPcie = (pcie: Record<string, unknown>) => {
    const c = readConfig();
    c.rootComplexes = [{ name: 'rc', clock: c.devices[0].clock, latencyCycles: 10 }];
    c.devices[0].pcie = { rootComplex: 'rc', gen: 3, lanes: 8, ...pcie };
    return socConfigError(c).message;
  };
  test.each([
    [{ gen: 6 }, 'pcie.gen', 'PCIe generation from 1 to 5'],
    [{ lanes: 3 }, 'pcie.lanes', 'link width of 1, 2, 4, 8, 12, 16 lanes'],
    [{ maxPayloadBytes: 100 }, 'pcie.maxPayloadBytes', 'a power of two from 128 to 4096'],
    [{ maxReadRequestBytes: 8192 }, 'pcie.maxReadRequestBytes', 'a power of two from 128 to 4096'],
    [{ readCompletionBoundaryBytes: 32 }, 'pcie.readCompletionBoundaryBytes', '64 or 128 bytes'],
    [{ maxPayloadBytes: 512, postedDataCredits: 16 }, 'pcie.postedDataCredits', 'must cover one Max Payload Size TLP'],
    [{ rootComplex: 'nope' }, 'pcie.rootComplex', 'unknown root complex "nope"'],
  ])('%j', (pcie, field, reason) => {
    const msg = withPcie(pcie);
    expect(msg).toContain(`soc.devices[0].${field}`);
    expect(msg).toContain(reason);
  });
});
