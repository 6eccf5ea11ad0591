import { z } from 'zod';
import { Delay, rateHz } from '../../sim/engine/timeSpec';
import { Nic } from '../../sim/devices/nic';
import { ceilRatio, PS_PER_S } from '../../sim/engine/time';
import { Name, Size } from '../../sim/soc/schemaTypes';
import { NicDriver } from '../../drivers/devices/nicDriver';
import { defineJobKind, jobFields, jobPlatform, runningJob, withRules, type JobIssue } from '../jobSpec';

export const NicRxSchema = z.strictObject({
  ringEntries: z.number().int().positive().multipleOf(8).max(4096).default(256).describe('receive descriptors: a multiple of 8, at most 4096 (e1000 E1000_MAX_RXD)'),
  bufferBytes: Size.default(2048).describe('bytes per receive buffer (e1000: 2048)'),
  mapping: z.enum(['per-packet', 'reuse']).default('per-packet')
    .describe('per-packet: dma_unmap_single + dma_map_single for every packet (e1000); reuse: buffers stay mapped and are synced (ixgbe page reuse)'),
  packetBytes: z.number().int().positive().max(65535),
  packetsPerSecond: rateHz().describe('offered load on the wire'),
  packets: z.number().int().positive().describe('packets the wire delivers'),
  rogueLagPackets: z.number().int().positive().max(4096).optional()
    .describe('a malicious NIC (Thunderclap): after each packet it also writes to the buffer it used this many packets earlier, which its driver has unmapped'),
}).describe('receive: packets arrive from the wire at a fixed rate');

export const NicTxSchema = z.strictObject({
  ringEntries: z.number().int().positive().multipleOf(8).max(4096).default(256).describe('transmit descriptors: a multiple of 8, at most 4096 (e1000 E1000_MAX_TXD)'),
  packetBytes: z.number().int().positive().max(4096).describe('bytes per packet (one page at most)'),
  packetsPerSecond: rateHz().describe('rate at which the stack hands packets to the driver'),
  packets: z.number().int().positive(),
}).describe('transmit: the driver maps each packet, the NIC sends it at line rate');

/** `nic`: packets received (and/or sent) through the e1000-style driver (drivers/devices/nicDriver.ts). */
export const nicJobKind = defineJobKind({
  spec: withRules(jobFields('nic', {
    device: Name.describe('a device of kind "nic"; its driver allocates its rings and buffers itself'),
    rx: NicRxSchema.optional(),
    tx: NicTxSchema.optional(),
    interruptEvery: z.number().int().positive().default(1).describe('interrupt moderation: completions per interrupt'),
    interruptDelay: Delay.default(10_000_000).describe('moderation timer (e1000 RADV/TADV): an interrupt this long after the first completion not yet signalled; default 10us'),
    verify: z.boolean().default(true).describe('the driver checks each received payload through the CPU'),
  }), (j): JobIssue[] => {
    if (!j.rx && !j.tx) return [[[], 'a NIC job needs rx, tx or both']];
    if (j.rx && j.rx.packetBytes > j.rx.bufferBytes) return [[['rx', 'packetBytes'], `a packet (${j.rx.packetBytes} bytes) must fit in a receive buffer (${j.rx.bufferBytes} bytes)`]];
    if (j.rx && PS_PER_S / j.rx.packetsPerSecond < 1) return [[['rx', 'packetsPerSecond'], `packets must be at least 1 ps apart, got ${j.rx.packetsPerSecond} per second`]];
    if (j.interruptDelay < 1) return [[['interruptDelay'], 'must be at least 1 ps']];
    return [];
  }),
  target: { field: 'device', kinds: ['nic'], exclusive: true },
  // The NIC model runs in timing mode only (its wire, FIFO and interrupt timers are events).
  atomic: false,
  fastForward: 'the NIC model has no atomic path (its wire, FIFO and interrupt timers are events)',
  check: (j, c): JobIssue[] => {
    if (!c.deviceUsesDmaApi) return [[['device'], `the NIC driver uses the DMA API; "${j.device}" is behind a GPU MMU`]];
    const dev = c.device!;
    const lineRateGbps = dev.lineRateGbps as number;
    const rxFifoBytes = dev.rxFifoBytes as number;
    if (j.rx) {
      const gbps = (j.rx.packetsPerSecond * j.rx.packetBytes * 8) / 1e9;
      if (gbps > lineRateGbps) {
        return [[['rx', 'packetsPerSecond'], `offered load ${gbps} Gbit/s (packetsPerSecond × packetBytes × 8) exceeds the line rate of "${j.device}" (${lineRateGbps} Gbit/s)`]];
      }
      if (j.rx.packetBytes > rxFifoBytes) return [[['rx', 'packetBytes'], `a packet must fit in the receive FIFO of "${j.device}" (rxFifoBytes ${rxFifoBytes}), got ${j.rx.packetBytes}`]];
    }
    return [];
  },
  start: (env, job) => {
    const { ctx } = env;
    const platform = jobPlatform(env, job);
    const { rx, tx } = job;
    const nic = env.soc.model(job.device, Nic);
    nic.configure({
      rx: rx ? { packetBytes: rx.packetBytes, packetsPerSecond: rx.packetsPerSecond, packets: rx.packets } : null,
      interruptEvery: job.interruptEvery, interruptTimerNs: job.interruptDelay / 1000,
      ...(rx?.rogueLagPackets !== undefined ? { rogue: { lagPackets: rx.rogueLagPackets } } : {}),
    });
    const driver = new NicDriver(platform, job.device, nic, {
      rxRingEntries: rx?.ringEntries ?? 0, rxBufferBytes: rx?.bufferBytes ?? 2048, mapping: rx?.mapping ?? 'per-packet',
      txRingEntries: tx?.ringEntries ?? 0, verify: job.verify,
    });
    env.atExit.push(() => driver.remove());
    const missed = () => (rx ? ctx.stats.value(`soc.${job.device}.rx_missed`) : 0);
    const finished = () => (!rx || driver.rxPackets + missed() >= rx.packets) && (!tx || driver.txPackets + driver.txBusy >= tx.packets);
    return runningJob(job, ctx, (done) => {
      let signalled = false;
      driver.onCleaned = () => {
        if (!signalled && finished()) {
          signalled = true;
          done();
        }
      };
      driver.probe();
      if (tx) {
        // The stack hands the driver a packet every 1/rate seconds (e1000_xmit_frame per packet).
        let sent = 0;
        const t0 = ctx.engine.now;
        const next = () => {
          driver.xmit(tx.packetBytes);
          sent++;
          if (sent < tx.packets) ctx.engine.schedule(t0 + ceilRatio(sent, tx.packetsPerSecond), next);
        };
        next();
      }
    }, () => ({ rx_packets: driver.rxPackets, rx_missed: missed(), tx_packets: driver.txPackets, tx_busy: driver.txBusy }), finished);
  },
});
