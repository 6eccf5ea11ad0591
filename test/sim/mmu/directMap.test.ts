import { ClockDomain } from '../../../sim/engine/clock';
import { createSimContext } from '../../../sim/engine/context';
import { connectPorts } from '../../../sim/bus/port';
import { Cmd, Status } from '../../../sim/bus/transaction';
import { PhysicalMemory } from '../../../sim/mem/physmem';
import { SimpleMemory } from '../../../sim/mem/sram';
import { DirectMap, type DirectMapParams } from '../../../sim/mmu/directMap';
import { TrafficMaster, type TrafficRequest } from '../../helpers/trafficMaster';

const HIGH = 0x1_0000_0000; // 4 GiB: just above a 32-bit mask

/** Rejected accesses complete at once, before earlier ones that went to memory. */
const statusInRequestOrder = (m: TrafficMaster) => [...m.completed].sort((a, b) => a.id - b.id).map((c) => c.status);

function rig(params: DirectMapParams, reqs: TrafficRequest[]) {
  const ctx = createSimContext(1);
  const mem = new PhysicalMemory();
  const clock = new ClockDomain('c', 1e9);
  const low = new SimpleMemory(ctx, 'soc.low', clock, { base: 0, size: HIGH * 2 }, mem, { latencyCycles: 5, bytesPerCycle: 16, queueDepth: 8 });
  const dm = new DirectMap(ctx, 'soc.dev.direct', params);
  connectPorts(dm.memSidePort, low.port);
  const m = new TrafficMaster(ctx, 'dev', 0, reqs, 4);
  connectPorts(m.port, dm.cpuSidePort);
  m.start();
  ctx.engine.runUntilIdle();
  return { ctx, mem, m };
}

describe('direct-mapped devices', () => {
  test('an access above the DMA mask fails with an access error, is counted, and never reaches memory', () => {
    const { ctx, mem, m } = rig({ dmaMaskBits: 32, window: null }, [
      { cmd: Cmd.Write, addr: HIGH - 64, size: 64, data: new Uint8Array(64).fill(1) },
      { cmd: Cmd.Write, addr: HIGH, size: 64, data: new Uint8Array(64).fill(2) },
      { cmd: Cmd.Write, addr: HIGH - 32, size: 64, data: new Uint8Array(64).fill(3) }, // straddles the mask
    ]);
    expect(statusInRequestOrder(m)).toEqual([Status.Ok, Status.AccessError, Status.AccessError]);
    expect(ctx.stats.value('soc.dev.direct.dma_mask_errors')).toBe(2);
    expect(ctx.stats.value('soc.low.writes')).toBe(1);
    expect(mem.read8(HIGH)).toBe(0);
    expect(mem.read8(HIGH - 32)).toBe(1);
  });

  test('an access outside the bus window fails the same way', () => {
    const { ctx, m } = rig({ dmaMaskBits: 64, window: { base: 0x1000, size: 0x1000 } }, [
      { cmd: Cmd.Read, addr: 0x1000, size: 64 },
      { cmd: Cmd.Read, addr: 0x1fc0, size: 128 },
      { cmd: Cmd.Read, addr: 0x0, size: 4 },
    ]);
    expect(statusInRequestOrder(m)).toEqual([Status.Ok, Status.AccessError, Status.AccessError]);
    expect(ctx.stats.value('soc.dev.direct.window_errors')).toBe(2);
  });

  test('atomic and functional paths apply the same limits', () => {
    const ctx = createSimContext(1);
    const mem = new PhysicalMemory();
    const low = new SimpleMemory(ctx, 'soc.low', new ClockDomain('c', 1e9), { base: 0, size: HIGH * 2 }, mem, { latencyCycles: 5, bytesPerCycle: 16, queueDepth: 8 });
    const dm = new DirectMap(ctx, 'soc.dev.direct', { dmaMaskBits: 32, window: null });
    connectPorts(dm.memSidePort, low.port);
    const m = new TrafficMaster(ctx, 'dev', 0, [], 1);
    connectPorts(m.port, dm.cpuSidePort);
    expect(m.atomic({ cmd: Cmd.Read, addr: HIGH, size: 4 }).status).toBe(Status.AccessError);
    expect(m.functional({ cmd: Cmd.Read, addr: HIGH, size: 4 }).status).toBe(Status.AccessError);
    expect(m.functional({ cmd: Cmd.Read, addr: 0x100, size: 4 }).status).toBe(Status.Ok);
    expect(ctx.stats.value('soc.dev.direct.dma_mask_errors')).toBe(1); // functional counts nothing
  });
});
