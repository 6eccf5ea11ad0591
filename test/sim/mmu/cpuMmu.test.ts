import { ClockDomain } from '../../../sim/engine/clock';
import { createSimContext } from '../../../sim/engine/context';
import { Crossbar } from '../../../sim/bus/crossbar';
import { connectPorts } from '../../../sim/bus/port';
import { Cmd, Status } from '../../../sim/bus/transaction';
import { PhysicalMemory } from '../../../sim/mem/physmem';
import { SimpleMemory } from '../../../sim/mem/sram';
import { CpuMmu } from '../../../sim/mmu/cpuMmu';
import { getFormat } from '../../../sim/mmu/format';
import { MEM_BASE, MEM_SIZE, TABLE_ARENA, iommuParams } from '../../helpers/mmuRig';
import { PageTableBuilder } from '../../../sim/mmu/pageTableBuilder';
import { TrafficMaster, type TrafficRequest } from '../../helpers/trafficMaster';

const lpae = getFormat('arm-lpae-4k');

function cpuRig() {
  const ctx = createSimContext(3);
  const clock = new ClockDomain('cpu', 2e9);
  const mem = new PhysicalMemory();
  const xbar = new Crossbar(ctx, 'soc.xbar', clock, { widthBytes: 32, latencyCycles: 1, arbitration: 'round-robin', inputQueueDepth: 16, maxOutstandingPerMaster: 0 });
  const ram = new SimpleMemory(ctx, 'soc.mem', clock, { base: MEM_BASE, size: MEM_SIZE }, mem, { latencyCycles: 30, bytesPerCycle: 32, queueDepth: 64 });
  connectPorts(xbar.addOutput('mem', [{ base: MEM_BASE, size: MEM_SIZE }]), ram.port);
  const p = iommuParams();
  const mmu = new CpuMmu(ctx, 'soc.cpu_mmu', clock, lpae, 50, { l1Tlb: p.l1Tlb, l2Tlb: p.l2Tlb, walker: p.walker, inputQueueDepth: 8 });
  connectPorts(mmu.memSidePort, xbar.addInput('cpu_mmu'));
  connectPorts(mmu.walker.port, xbar.addInput('cpu_mmu_walker'));
  /** Runs `reqs` from a fresh CPU master connected to the MMU... one port, so one master per rig. */
  const cpu = (reqs: TrafficRequest[]) => {
    const m = new TrafficMaster(ctx, 'cpu', 0, reqs, 2);
    connectPorts(m.port, mmu.cpuSidePort);
    return m;
  };
  return { ctx, mem, mmu, cpu };
}

describe('CPU MMU', () => {
  test('ASIDs keep two address spaces apart in the TLBs without a flush', () => {
    const { ctx, mem, mmu, cpu } = cpuRig();
    const procA = new PageTableBuilder(mem, lpae, TABLE_ARENA);
    const procB = new PageTableBuilder(mem, lpae, TABLE_ARENA + 0x100_0000);
    procA.map(0x40_0000, MEM_BASE + 0x1000, 12);
    procB.map(0x40_0000, MEM_BASE + 0x2000, 12);
    mem.write8(MEM_BASE + 0x1000, 0xaa);
    mem.write8(MEM_BASE + 0x2000, 0xbb);

    const script: TrafficRequest[] = [];
    const master = cpu(script);
    const readAs = (root: number, asid: number) => {
      mmu.setContext(root, asid);
      script.push({ cmd: Cmd.Read, addr: 0x40_0000, size: 1 });
      master.start();
      ctx.engine.runUntilIdle();
      return master.completed[master.completed.length - 1].data[0];
    };
    expect(readAs(procA.root, 1)).toBe(0xaa);
    expect(readAs(procB.root, 2)).toBe(0xbb);
    expect(readAs(procA.root, 1)).toBe(0xaa); // A's entry survived B's run: an L1 hit
    expect(ctx.stats.value('soc.cpu_mmu.walker.walks')).toBe(2);
    expect(ctx.stats.value('soc.cpu_mmu.cpu.l1tlb.hits')).toBe(1);
  });

  test('TLBI by ASID forces a new walk for that ASID only', () => {
    const { ctx, mem, mmu, cpu } = cpuRig();
    const t = new PageTableBuilder(mem, lpae, TABLE_ARENA);
    t.map(0x1000, MEM_BASE, 12);
    mmu.setContext(t.root, 7);
    const reqs: TrafficRequest[] = [{ cmd: Cmd.Read, addr: 0x1000, size: 8 }];
    const m = cpu(reqs);
    m.start();
    ctx.engine.runUntilIdle();
    mmu.tlbiAsid(8); // another ASID: no effect
    reqs.push({ cmd: Cmd.Read, addr: 0x1000, size: 8 });
    m.start();
    ctx.engine.runUntilIdle();
    expect(ctx.stats.value('soc.cpu_mmu.walker.walks')).toBe(1);
    mmu.tlbiAsid(7);
    reqs.push({ cmd: Cmd.Read, addr: 0x1000, size: 8 });
    m.start();
    ctx.engine.runUntilIdle();
    expect(ctx.stats.value('soc.cpu_mmu.walker.walks')).toBe(2);
  });

  test('user mode cannot touch kernel pages; the fault is recorded for the kernel', () => {
    const { ctx, mem, mmu, cpu } = cpuRig();
    const t = new PageTableBuilder(mem, lpae, TABLE_ARENA);
    t.map(0xffff_0000_0000 % 2 ** 48, MEM_BASE, 12, { privileged: true });
    mmu.setContext(t.root, 1, false);
    const m = cpu([{ cmd: Cmd.Read, addr: 0xffff_0000_0000 % 2 ** 48, size: 8 }]);
    m.start();
    ctx.engine.runUntilIdle();
    expect(m.completed[0].status).toBe(Status.TranslationFault);
    expect(mmu.faults[0]).toMatchObject({ reason: 'permission', access: 'read', device: 'cpu' });
  });

  test('with the MMU disabled, addresses are physical', () => {
    const { ctx, mem, cpu } = cpuRig();
    mem.write8(MEM_BASE + 0x123, 0x77);
    const m = cpu([{ cmd: Cmd.Read, addr: MEM_BASE + 0x123, size: 1 }]);
    m.start();
    ctx.engine.runUntilIdle();
    expect(m.completed[0].data[0]).toBe(0x77);
  });
});
