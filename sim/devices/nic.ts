import type { InterruptFence } from '../bus/interruptFence';
import { z } from 'zod';
import type { ClockDomain } from '../engine/clock';
import type { SimContext } from '../engine/context';
import { EventHandle, Priority } from '../engine/engine';
import { SimInvariantError } from '../engine/errors';
import { mustBe } from '../engine/spec';
import { ADDR_LIMIT } from '../engine/addr';
import type { Counter } from '../engine/stats';
import { ceilRatio, type Tick } from '../engine/time';
import { BusMaster } from '../bus/busMaster';
import type { RequestPort, ResponseReceiver } from '../bus/port';
import { Cmd, Status, type Transaction, TransactionPool } from '../bus/transaction';
import {
  E1000_RX_DESC_BYTES, E1000_RXD_ADDR, E1000_RXD_LENGTH, E1000_RXD_STATUS, E1000_RXD_STAT_DD, E1000_RXD_STAT_EOP,
  E1000_TX_DESC_BYTES, E1000_TXD_ADDR, E1000_TXD_CMD, E1000_TXD_CMD_EOP, E1000_TXD_CMD_RS, E1000_TXD_LENGTH,
  E1000_TXD_STATUS, E1000_TXD_STAT_DD, readU16, readU64, writeU16, writeU64,
} from './descriptors';
import { defineDeviceKind, deviceFields, BurstBytes, DeviceBufferBytes, Outstanding } from '../soc/deviceSpec';
import { alignedBurstBytes, bytesToBusBoundary } from '../bus/boundary';

/** The link partner's offered load: packets of one size arriving at a fixed rate. */
export interface NicRxTraffic {
  /** Bytes per packet, as written to memory (1..65535: the descriptor's 16-bit length). */
  packetBytes: number;
  /** Arrival rate; packetsPerSecond × packetBytes × 8 must not exceed the line rate. */
  packetsPerSecond: number;
  /** Packets the wire delivers in all (across enables); absent = unlimited. */
  packets?: number;
}

/** The NIC's hardware (its SoC config entry). */
export interface NicParams {
  /** Largest DMA transaction; payload bursts never cross a burstBytes-aligned or 4 KiB boundary. */
  burstBytes: number;
  /** Payload bursts in flight at once within one packet (per direction). */
  maxOutstanding: number;
  /** Wire speed, Gbit/s: transmit time of a TX packet, and the cap on the RX offered load. */
  lineRateGbps: number;
  /** On-NIC receive packet buffer; a packet that does not fit when it arrives is dropped (rx_missed). */
  rxFifoBytes: number;
  /** Descriptors read per descriptor fetch (at most, 1..64); default 1. */
  descPrefetch?: number;
  /** Only 'timing' (the default): the NIC has no atomic fast-forward path. */
  mode?: 'timing';
}

/**
 * What is set before the NIC runs (`configure`): the link partner's traffic, the
 * interrupt moderation registers and, for a malicious NIC, its rogue behaviour. The
 * scenario's nic job checks it (scenario/jobs/nic.ts): the offered load within the line
 * rate, a packet within rxFifoBytes.
 */
export interface NicProgram {
  /** The RX wire's traffic; null = nothing arrives. */
  rx: NicRxTraffic | null;
  /** Interrupt moderation: raise an interrupt every this many completions per direction; default 1. */
  interruptEvery?: number;
  /**
   * Interrupt moderation timer, ns (>= 0.001): an interrupt is raised this long after
   * the first completion not yet signalled, if `interruptEvery` has not been reached by
   * then (like the e1000 absolute delay timers RADV/TADV). Absent = no timer.
   */
  interruptTimerNs?: number;
  /**
   * A malicious NIC (absent = an honest one): after finishing received packet k it also
   * writes into the buffer it used for packet k − lagPackets, the Thunderclap attack on
   * lazily invalidated IOMMU mappings. See `NicRogueParams` and the class comment.
   */
  rogue?: NicRogueParams;
}

/** The rogue-write behaviour of a malicious NIC (`NicParams.rogue`). */
export interface NicRogueParams {
  /** How many packets back the NIC reaches: an integer in [1, 4096]. */
  lagPackets: number;
  /** Bytes per rogue write, in [1, burstBytes]; default 64 (clipped as described on Nic). */
  bytes?: number;
}

/** Every byte of a rogue write (`NicParams.rogue`): easy to spot in a memory dump. */
export const ROGUE_BYTE = 0xee;
/** Largest `rogue.lagPackets`: the NIC's memory of old buffer addresses. */
export const ROGUE_MAX_LAG = 4096;

/**
 * Byte `i` of received packet `seq` (packets counted from 0 in arrival order, dropped
 * ones included). Bytes 0..3 carry `seq` as a little-endian u32 (mod 2^32), like a
 * sequence-number header, so a driver can tell which packet a buffer holds and detect
 * drops; byte i >= 4 is (37·seq + 13·i + floor(i / 256)) mod 256.
 */
export function packetByte(seq: number, i: number): number {
  if (i < 4) return Math.floor(seq / 2 ** (8 * i)) % 256;
  return ((seq % 256) * 37 + i * 13 + Math.floor(i / 256)) % 256;
}

export type NicInterruptCause = 'rx' | 'tx';

// Transaction kinds, in the low 3 bits of a tag (tag = offset × 8 + kind).
const K_RX_FETCH = 0;
const K_RX_DATA = 1;
const K_RX_WB = 2;
const K_TX_FETCH = 3;
const K_TX_DATA = 4;
const K_TX_WB = 5;
const K_ROGUE = 6;

// Per-direction engine phases.
const IDLE = 0;
const FETCH = 1;
const DATA = 2;
const WRITEBACK = 3;
/** A DMA failed: the direction is stopped until its ring is programmed again. */
const HALTED = 4;
/** TX only: waiting for the previous packet to start on the wire. */
const WAIT_WIRE = 5;

const RX = 0;
const TX = 1;

/**
 * A NIC with one receive and one transmit descriptor ring, modelled on the Intel 8254x
 * (e1000) legacy descriptors and ring protocol ("PCI/PCI-X Family of Gigabit Ethernet
 * Controllers Software Developer's Manual", Intel 317453: 3.2 receive, 3.3 transmit;
 * layouts in `descriptors.ts`). Everything the driver shares with the NIC lives in
 * simulated memory and is reached by DMA with DEVICE addresses (IOVAs behind an IOMMU;
 * the model does not care). Register writes are methods.
 *
 * Rings (RDBAL/RDLEN/RDH/RDT, TDBAL/TDLEN/TDH/TDT). `setRxRing(base, entries)` programs
 * the base (16-byte aligned) and size (a multiple of 8 descriptors: RDLEN is 128-byte
 * granular) and resets head and tail to 0, as the e1000 driver does at ring setup.
 * Hardware owns descriptors head .. tail−1; the driver hands them over by moving the tail
 * (`setRxTail`), hardware hands them back by advancing the head. head == tail means the
 * NIC owns none, so a driver keeps one descriptor back (tail = head − 1 when full).
 *
 * Receive. Packet k of the wire's stream (`configure`'s rx, counted from `setRxEnable(true)`)
 * has fully arrived at enable + ceil(k / packetsPerSecond), k = 1, 2, … (whole ps,
 * rounded up). It enters the receive FIFO if `rxFifoBytes` can still hold it; otherwise
 * it is dropped and counted in `rx_missed` (the e1000 MPC counter). An accepted packet
 * that finds no free descriptor (hardware owns no more descriptors than the packets
 * ahead of it in the NIC need) counts in `rx_no_descriptor` (like RNBC) and waits in the
 * FIFO. The NIC moves one packet at a time, in order:
 *   1. descriptor: if none is prefetched, read min(descPrefetch, owned and not yet
 *      fetched, up to the ring's end or a 4 KiB boundary) descriptors in ONE read of 16·n bytes (a
 *      `desc_fetches`), and keep them (the e1000 also fetches descriptors in bursts,
 *      governed by its RXDCTL/TXDCTL thresholds);
 *   2. payload: write the packet (bytes `packetByte(seq, i)`) to the descriptor's buffer
 *      in writes split at burstBytes-aligned addresses, at most `maxOutstanding` in
 *      flight; once all are acknowledged the packet leaves the FIFO;
 *   3. write-back: one 16-byte write of the descriptor (buffer address unchanged,
 *      length, checksum 0, status DD|EOP, errors 0, special 0); once acknowledged the
 *      head advances, the packet counts in `rx_packets`/`rx_bytes`, `packet_latency_ns`
 *      samples arrival → write-back acknowledged, and an interrupt may be raised.
 * Nothing is pipelined across packets, so the time per packet is the sum of these
 * memory round trips: per-packet latency (IOTLB misses and page walks behind an IOMMU)
 * bounds the receive rate, and an offered rate above it fills the FIFO and drops
 * packets. Each buffer must hold a whole packet (the driver's RCTL.BSIZE); packets that
 * span descriptors are not modelled.
 *
 * Transmit. A tail bump starts the engine if it is idle. Per descriptor, in order:
 * fetch (as for receive), read `length` bytes of its buffer (reads split at
 * burstBytes-aligned addresses, at most `maxOutstanding` in flight) into an on-NIC
 * packet buffer, then, if CMD.RS is set, write the descriptor back with STA.DD (16
 * bytes); then the head advances. A packet is the descriptors up to one with CMD.EOP;
 * once its last buffer is read it is handed to the wire, which sends it in
 * bytes × 8 / lineRateGbps ns, rounded up to a whole ps (preamble, inter-frame gap and
 * FCS are not modelled), back to back with the packet before. The NIC holds two packet
 * buffers: it starts reading a packet's buffers only once the previous packet has
 * started on the wire (its first descriptor may already be fetched), so a slow line
 * backs up the ring. When a packet's last bit has left, `onTransmit(cb)` receives its
 * bytes and it counts in `tx_packets`/`tx_bytes`.
 *
 * Interrupts. A completion is a received packet (cause 'rx') or a written-back TX
 * descriptor (CMD.RS, cause 'tx', the e1000 TXDW). Every `interruptEvery` completions of
 * a direction raise one interrupt; with `interruptTimerNs`, completions not yet signalled
 * are signalled that long after the first of them at the latest. The callback runs from
 * an engine event at the tick the interrupt is raised (after the NIC's own work of that
 * instant), so a driver may read memory and move tails from it. Without a timer and with
 * interruptEvery > 1, the last few completions may never be signalled.
 *
 * Errors are data. A DMA that completes with an error (decode, access or translation
 * fault), or a descriptor whose buffer address is 2^53 or more, counts in `dma_errors`
 * and HALTS that direction (`rxHalted` / `txHalted`), as a device stops its DMA after a
 * PCIe completer abort; the packet in progress is lost, transactions in flight drain,
 * and reprogramming the ring (`setRxRing` / `setTxRing`) restarts it. Received packets
 * keep arriving and, once the FIFO is full, are dropped (rx_missed).
 *
 * Register misuse is a driver bug and throws SimInvariantError: an index outside the
 * ring, a tail before the ring is programmed, reprogramming a ring while its DMA is in
 * flight. `clock` is the device's clock domain (the builder's uniform device signature);
 * the model's timing comes from memory latency, the wire and the arrival rate, and does
 * not round to its edges. Timing mode only: there is no atomic fast-forward path
 * (`mode: 'atomic'` fails validation).
 *
 * Rogue mode (`configure`'s rogue, off by default; with it off nothing below happens and the
 * rogue_* stats do not exist). A malicious peripheral as in Markettos et al.,
 * "Thunderclap: Exploring Vulnerabilities in Operating System IOMMU Protection via DMA
 * from Untrustworthy Peripherals" (NDSS 2019): it keeps writing to buffer addresses after
 * the driver has unmapped them. The NIC remembers the buffer addresses of its last
 * `lagPackets` received packets in a fixed ring (no allocation per packet). When the
 * write-back of received packet k is acknowledged (k counts completed packets from 0
 * since construction, across ring reprogramming), and k >= lagPackets, it issues one
 * write of `bytes` bytes, all ROGUE_BYTE, at the start of the buffer packet
 * k − lagPackets used, through its own port (so through an IOMMU if there is one). The
 * write is clipped at the next burstBytes-aligned boundary and 4 KiB boundary (as every
 * NIC burst is: bus/boundary.ts) and at 2^53; buffers aligned to burstBytes are never
 * clipped. It is issued before the NIC looks at the next packet and then not waited for (a posted
 * write: the NIC never needs its outcome), so it delays packet processing only by its own
 * place in the port's in-order send queue (a memory that refuses requests makes the next
 * descriptor fetch wait behind it). Its response is counted: `rogue_writes` (issued),
 * `rogue_writes_ok` (completed Ok), `rogue_writes_faulted` (completed with an error
 * status: an IOMMU translation fault, a decode error); a faulted rogue write is not a
 * `dma_errors` and does not halt receive. Packets lost to a failed DMA are not completed
 * and leave no address behind. Behind an IOMMU in strict mode the unmapped buffer's
 * IOVA faults (unless it was already mapped again); in lazy mode the stale IOTLB entry
 * still translates it and the write lands in memory the kernel has taken back. A driver
 * with interrupt moderation unmaps a buffer only at the next interrupt, so lagPackets
 * should exceed interruptEvery for every rogue write to target an unmapped buffer.
 *
 * Behind a PCIe link (sim/pcie/link.ts) writes are posted: their acknowledgement comes
 * when the write has left the NIC, so a write that faults in the IOMMU is not a
 * `dma_errors` and does not halt the NIC (the link counts it in `posted_errors`; rogue
 * writes then always count as `rogue_writes_ok`), and interrupts are MSIs ordered behind
 * the NIC's earlier writes (setInterruptFence).
 *
 * Not modelled: checksums, VLANs, multiple queues, receive filtering,
 * descriptor write-back batching, ITR throttling, link state.
 *
 * Stats (under `path`): `rx_arrivals`, `rx_packets`, `rx_bytes`, `rx_missed`,
 * `rx_no_descriptor`, `tx_packets`, `tx_bytes`, `interrupts`, `desc_fetches` (both
 * directions), `dma_errors`, `packet_latency_ns` (histogram), and the formulas
 * `rx_throughput_gbps` (rx_bytes × 8 / elapsed time) and `tx_throughput_gbps`; with
 * `rogue` also `rogue_writes`, `rogue_writes_ok` and `rogue_writes_faulted`.
 */
export class Nic implements ResponseReceiver {
  readonly port: RequestPort;
  /**
   * Port, in-order sending, dma_errors and packet_latency_ns. Its maxOutstanding bounds
   * payload bursts per direction, so the NIC counts them itself (rxInFlight, txInFlight)
   * and sends everything with `send`.
   */
  private readonly bus: BusMaster;
  private readonly pool: TransactionPool;
  private readonly burstBytes: number;
  private readonly prefetch: number;
  private every = 1;
  private timerTicks: Tick = 0;
  private readonly psPerByte: number;
  private irqCb: ((cause: NicInterruptCause) => void) | null = null;
  private fence: InterruptFence | null = null;
  private txCb: ((data: Uint8Array, length: number) => void) | null = null;

  // ---- receive ----
  private rxBase = 0;
  private rxEntries = 0;
  private rxHeadIdx = 0;
  private rxTailIdx = 0;
  /** Next descriptor to fetch (head + prefetched ones, mod entries). */
  private rxFetchIdx = 0;
  private rxPhase = IDLE;
  /** Prefetched descriptors' buffer addresses (-1 = beyond 2^53), a ring. */
  private readonly rxCache: Float64Array;
  private rxCacheHead = 0;
  private rxCacheCount = 0;
  /** Receive FIFO: packets accepted and not yet written to memory, a ring. */
  private fifoSeq: Float64Array;
  private fifoArrival: Float64Array;
  private fifoHead = 0;
  private fifoCount = 0;
  private fifoUsed = 0;
  // The packet being written (always the FIFO's head while in DATA).
  private rxBuf = 0;
  private rxOff = 0;
  private rxInFlight = 0;
  private rxFailed = false;
  private rxDoneArrival: Tick = 0;
  // The wire.
  private rx: NicRxTraffic | null = null;
  private packetBytes = 0;
  private rxEnabled = false;
  /** The next packet's arrival while receive is enabled. */
  private readonly arrival: EventHandle;
  private rxT0: Tick = 0;
  /** Arrivals since the last enable (for arrival times). */
  private rxSinceEnable = 0;
  /** Sequence number of the next packet on the wire (never reset). */
  private rxSeq = 0;
  private rxLimit = Infinity;

  // ---- transmit ----
  private txBase = 0;
  private txEntries = 0;
  private txHeadIdx = 0;
  private txTailIdx = 0;
  private txFetchIdx = 0;
  private txPhase = IDLE;
  /** Prefetched descriptors, raw bytes, a ring of descPrefetch slots. */
  private readonly txCache: Uint8Array;
  private txCacheHead = 0;
  private txCacheCount = 0;
  // The descriptor being processed.
  private txCurAddr = 0;
  private txCurLen = 0;
  private txCurCmd = 0;
  private txOff = 0;
  private txInFlight = 0;
  private txFailed = false;
  /** Two packet buffers: one on (or queued for) the wire, one being filled. */
  private readonly txBufs: Uint8Array[] = [new Uint8Array(2048), new Uint8Array(2048)];
  private readonly txBufLen = new Float64Array(2);
  private txFill = 0;
  private txLen = 0;
  private txPacketOpen = false;
  private txWireFree: Tick = 0;
  /** Start of transmission of the last packet handed to the wire. */
  private txPrevStart: Tick = -1;

  // ---- rogue mode ----
  /** lagPackets, or 0 when the NIC is honest. */
  private rogueLag = 0;
  private rogueBytes = 64;
  /** Buffer addresses of the last rogueLag completed packets, a ring; oldest at rogueIdx once full. */
  private rogueHist = new Float64Array(0);
  private rogueIdx = 0;
  private rogueFilled = 0;
  private sRogueWrites: Counter | null = null;
  private sRogueOk: Counter | null = null;
  private sRogueFaulted: Counter | null = null;

  // ---- interrupts ----
  private readonly irqPending = new Float64Array(2);
  /** Per direction: the moderation timer, pending while completions wait for it. */
  private readonly irqTimer: readonly [EventHandle, EventHandle];

  private readonly sRxArrivals: Counter;
  private readonly sRxPackets: Counter;
  private readonly sRxBytes: Counter;
  private readonly sRxMissed: Counter;
  private readonly sRxNoDesc: Counter;
  private readonly sTxPackets: Counter;
  private readonly sTxBytes: Counter;
  private readonly sInterrupts: Counter;
  private readonly sDescFetches: Counter;

  constructor(
    private readonly ctx: SimContext,
    readonly path: string,
    /** The device's clock domain (uniform device signature); see the class comment. */
    readonly clock: ClockDomain,
    readonly masterId: number,
    readonly params: NicParams,
  ) {
    this.burstBytes = params.burstBytes;
    this.prefetch = params.descPrefetch ?? 1;
    this.pool = new TransactionPool(Math.max(params.burstBytes, this.prefetch * E1000_RX_DESC_BYTES));
    this.psPerByte = 8000 / params.lineRateGbps;
    this.rxCache = new Float64Array(this.prefetch);
    this.txCache = new Uint8Array(this.prefetch * E1000_TX_DESC_BYTES);
    this.fifoSeq = new Float64Array(1);
    this.fifoArrival = new Float64Array(1);

    this.arrival = new EventHandle(ctx.engine, this.onArrival, Priority.Late);
    this.irqTimer = [new EventHandle(ctx.engine, this.rxTimer), new EventHandle(ctx.engine, this.txTimer)];

    const s = ctx.stats.scope(path);
    this.bus = new BusMaster(path, this, params.maxOutstanding, s, {
      errors: { name: 'dma_errors', desc: 'DMA transactions that completed with an error, or unusable descriptor addresses' },
      latency: { name: 'packet_latency_ns', desc: 'receive: packet arrival to descriptor write-back acknowledged, ns' },
    });
    this.port = this.bus.port;
    this.sRxArrivals = s.counter('rx_arrivals', 'packets offered by the wire (accepted or dropped)');
    this.sRxPackets = s.counter('rx_packets', 'packets written to memory and handed to the driver (descriptor written back)');
    this.sRxBytes = s.counter('rx_bytes', 'bytes of rx_packets');
    this.sRxMissed = s.counter('rx_missed', 'packets dropped because the receive FIFO was full (e1000 MPC)');
    this.sRxNoDesc = s.counter('rx_no_descriptor', 'accepted packets that found no free receive descriptor (e1000 RNBC)');
    this.sTxPackets = s.counter('tx_packets', 'packets transmitted on the wire');
    this.sTxBytes = s.counter('tx_bytes', 'bytes of tx_packets');
    this.sInterrupts = s.counter('interrupts', 'interrupts raised (both causes)');
    this.sDescFetches = s.counter('desc_fetches', 'descriptor fetch reads (one may read several descriptors)');
    s.formula('rx_throughput_gbps', 'rx_bytes × 8 / elapsed time, Gbit/s', () => (this.sRxBytes.value * 8000) / s.elapsedTicks());
    s.formula('tx_throughput_gbps', 'tx_bytes × 8 / elapsed time, Gbit/s', () => (this.sTxBytes.value * 8000) / s.elapsedTicks());
  }

  /**
   * Sets the wire's traffic, the interrupt moderation and the rogue behaviour (see
   * NicProgram). Only while receive is disabled and the FIFO is empty; sequence numbers
   * and `packets` count afresh. The program is trusted: the nic job validates it.
   */
  configure(program: NicProgram): void {
    this.setRxTraffic(program.rx);
    this.every = program.interruptEvery ?? 1;
    this.timerTicks = program.interruptTimerNs === undefined ? 0 : Math.max(1, Math.round(program.interruptTimerNs * 1000));
    this.rogueLag = program.rogue ? program.rogue.lagPackets : 0;
    this.rogueBytes = program.rogue?.bytes ?? 64;
    this.rogueHist = new Float64Array(this.rogueLag);
    this.rogueIdx = 0;
    this.rogueFilled = 0;
    if (this.rogueLag > 0 && !this.sRogueWrites) {
      // The rogue_* stats exist only on a NIC that was ever programmed as rogue.
      const s = this.ctx.stats.scope(this.path);
      this.sRogueWrites = s.counter('rogue_writes', 'rogue mode: writes issued to the buffers of packets lagPackets back');
      this.sRogueOk = s.counter('rogue_writes_ok', 'rogue mode: rogue writes that completed Ok');
      this.sRogueFaulted = s.counter('rogue_writes_faulted', 'rogue mode: rogue writes that completed with an error (not dma_errors)');
    }
  }

  // ======================= registers =======================

  /** Registers the interrupt handler (replacing any earlier one). */
  onInterrupt(cb: (cause: NicInterruptCause) => void): void {
    this.irqCb = cb;
  }

  /** Behind PCIe: interrupts (MSIs) arrive after the NIC's earlier posted writes (the builder sets the link). */
  setInterruptFence(fence: InterruptFence): void {
    this.fence = fence;
  }

  /**
   * Registers the wire's receiver for transmitted packets: called when a packet's last
   * bit has left, with the NIC's packet buffer and the packet's length. The bytes are
   * valid during the call only.
   */
  onTransmit(cb: (data: Uint8Array, length: number) => void): void {
    this.txCb = cb;
  }

  /** RDBAL/RDBAH + RDLEN: programs the receive ring and resets RDH = RDT = 0; clears a halt. */
  setRxRing(base: number, entries: number): void {
    this.checkRing('setRxRing', base, entries);
    if (this.rxPhase !== IDLE && this.rxPhase !== HALTED) {
      throw new SimInvariantError(`${this.path}: setRxRing while receive DMA is in flight`);
    }
    this.rxBase = base;
    this.rxEntries = entries;
    this.rxHeadIdx = 0;
    this.rxTailIdx = 0;
    this.rxFetchIdx = 0;
    this.rxCacheHead = 0;
    this.rxCacheCount = 0;
    this.rxPhase = IDLE;
  }

  /** RDT: hardware now owns descriptors head .. index−1. */
  setRxTail(index: number): void {
    this.checkIndex('setRxTail', index, this.rxEntries);
    this.rxTailIdx = index;
    this.rxKick();
  }

  /** RCTL.EN: true starts (or restarts) the wire's packet stream now; false stops it (the FIFO still drains). */
  setRxEnable(enabled: boolean): void {
    if (enabled === this.rxEnabled) return;
    this.rxEnabled = enabled;
    this.arrival.cancel();
    if (!enabled || !this.rx) return;
    this.rxT0 = this.ctx.engine.now;
    this.rxSinceEnable = 0;
    this.scheduleArrival();
  }

  /**
   * Not a register: sets the link partner's traffic (part of `configure`). Only while
   * receive is disabled and the FIFO is empty; sequence numbers and `packets` count
   * afresh. A packet must fit in rxFifoBytes.
   */
  setRxTraffic(rx: NicRxTraffic | null): void {
    if (this.rxEnabled || this.fifoCount > 0 || this.rxPhase === DATA || this.rxPhase === WRITEBACK) {
      throw new SimInvariantError(`${this.path}: setRxTraffic while receive is enabled or packets are queued`);
    }
    if (rx && rx.packetBytes > this.params.rxFifoBytes) {
      throw new SimInvariantError(`${this.path}: a ${rx.packetBytes}-byte packet does not fit in rxFifoBytes (${this.params.rxFifoBytes})`);
    }
    this.rx = rx;
    this.packetBytes = rx ? rx.packetBytes : 0;
    this.rxLimit = rx?.packets ?? Infinity;
    const slots = rx ? Math.floor(this.params.rxFifoBytes / rx.packetBytes) : 1;
    this.fifoSeq = new Float64Array(slots);
    this.fifoArrival = new Float64Array(slots);
    this.fifoHead = 0;
    this.rxSeq = 0;
  }

  /** TDBAL/TDBAH + TDLEN: programs the transmit ring and resets TDH = TDT = 0; clears a halt. */
  setTxRing(base: number, entries: number): void {
    this.checkRing('setTxRing', base, entries);
    if (this.txPhase !== IDLE && this.txPhase !== HALTED) {
      throw new SimInvariantError(`${this.path}: setTxRing while transmit DMA is in flight`);
    }
    this.txBase = base;
    this.txEntries = entries;
    this.txHeadIdx = 0;
    this.txTailIdx = 0;
    this.txFetchIdx = 0;
    this.txCacheHead = 0;
    this.txCacheCount = 0;
    this.txLen = 0;
    this.txPacketOpen = false;
    this.txPhase = IDLE;
  }

  /** TDT: hardware now owns descriptors head .. index−1 and starts sending them. */
  setTxTail(index: number): void {
    this.checkIndex('setTxTail', index, this.txEntries);
    this.txTailIdx = index;
    this.txKick();
  }

  /** RDH. */
  get rxHead(): number {
    return this.rxHeadIdx;
  }

  /** RDT as last written. */
  get rxTail(): number {
    return this.rxTailIdx;
  }

  /** TDH. */
  get txHead(): number {
    return this.txHeadIdx;
  }

  /** TDT as last written. */
  get txTail(): number {
    return this.txTailIdx;
  }

  /** Receive DMA stopped by an error (until setRxRing). */
  get rxHalted(): boolean {
    return this.rxPhase === HALTED;
  }

  /** Transmit DMA stopped by an error (until setTxRing). */
  get txHalted(): boolean {
    return this.txPhase === HALTED;
  }

  /** Packets waiting in the receive FIFO (including one being written to memory). */
  get rxFifoPackets(): number {
    return this.fifoCount;
  }

  private checkRing(what: string, base: number, entries: number): void {
    if (!Number.isSafeInteger(base) || base < 0 || base % 16 !== 0) {
      throw new SimInvariantError(`${this.path}: ${what}: base must be a 16-byte aligned address, got ${base}`);
    }
    if (!Number.isSafeInteger(entries) || entries < 8 || entries % 8 !== 0 || entries > 65536) {
      throw new SimInvariantError(`${this.path}: ${what}: entries must be a multiple of 8 in [8, 65536], got ${entries}`);
    }
    if (base + entries * 16 > ADDR_LIMIT) throw new SimInvariantError(`${this.path}: ${what}: ring ends beyond 2^53`);
  }

  private checkIndex(what: string, index: number, entries: number): void {
    if (entries === 0) throw new SimInvariantError(`${this.path}: ${what} before the ring is programmed`);
    if (!Number.isSafeInteger(index) || index < 0 || index >= entries) {
      throw new SimInvariantError(`${this.path}: ${what}: index must be in [0, ${entries}), got ${index}`);
    }
  }

  // ======================= the wire (receive side) =======================

  private scheduleArrival(): void {
    if (this.rxSeq >= this.rxLimit) return;
    const at = this.rxT0 + ceilRatio(this.rxSinceEnable + 1, this.rx!.packetsPerSecond);
    this.arrival.schedule(at);
  }

  private readonly onArrival = (): void => {
    const now = this.ctx.engine.now;
    const seq = this.rxSeq++;
    this.rxSinceEnable++;
    this.sRxArrivals.inc();
    const P = this.packetBytes;
    if (this.fifoUsed + P > this.params.rxFifoBytes) {
      this.sRxMissed.inc();
    } else {
      const n = this.rxEntries;
      const owned = n === 0 ? 0 : (this.rxTailIdx - this.rxHeadIdx + n) % n;
      const ahead = this.fifoCount + (this.rxPhase === WRITEBACK ? 1 : 0);
      if (owned <= ahead) this.sRxNoDesc.inc();
      let slot = this.fifoHead + this.fifoCount;
      if (slot >= this.fifoSeq.length) slot -= this.fifoSeq.length;
      this.fifoSeq[slot] = seq;
      this.fifoArrival[slot] = now;
      this.fifoCount++;
      this.fifoUsed += P;
      this.rxKick();
    }
    this.scheduleArrival();
  };

  // ======================= receive DMA =======================

  /**
   * Descriptors one fetch at `addr` reads: at most descPrefetch, the `avail` the driver
   * handed over, the `toRingEnd` left before the ring wraps, and those before the next
   * 4 KiB boundary (bus/boundary.ts; rings are 16-byte aligned, so at least one fits).
   * Receive and transmit descriptors are both 16 bytes.
   */
  private fetchCount(addr: number, avail: number, toRingEnd: number): number {
    let count = this.prefetch < avail ? this.prefetch : avail;
    if (count > toRingEnd) count = toRingEnd;
    const fit = bytesToBusBoundary(addr) / E1000_RX_DESC_BYTES;
    return count > fit ? fit : count;
  }

  private rxKick(): void {
    if (this.rxPhase !== IDLE || this.fifoCount === 0) return;
    if (this.rxCacheCount > 0) {
      this.rxStartPayload();
      return;
    }
    const n = this.rxEntries;
    if (n === 0) return;
    const avail = (this.rxTailIdx - this.rxFetchIdx + n) % n;
    if (avail === 0) return;
    const addr = this.rxBase + this.rxFetchIdx * E1000_RX_DESC_BYTES;
    const count = this.fetchCount(addr, avail, n - this.rxFetchIdx);
    this.rxPhase = FETCH;
    this.sDescFetches.inc();
    const t = this.pool.alloc(Cmd.Read, addr, count * E1000_RX_DESC_BYTES, this.masterId, this.ctx.engine.now);
    t.tag = K_RX_FETCH;
    this.bus.send(t);
  }

  private rxFetched(t: Transaction): void {
    if (t.status !== Status.Ok) {
      this.bus.sErrors.inc();
      this.rxPhase = HALTED;
      return;
    }
    const count = t.size / E1000_RX_DESC_BYTES;
    for (let i = 0; i < count; i++) {
      let slot = this.rxCacheHead + this.rxCacheCount;
      if (slot >= this.prefetch) slot -= this.prefetch;
      this.rxCache[slot] = readU64(t.data, i * E1000_RX_DESC_BYTES + E1000_RXD_ADDR);
      this.rxCacheCount++;
    }
    this.rxFetchIdx = (this.rxFetchIdx + count) % this.rxEntries;
    this.rxPhase = IDLE;
    this.rxKick();
  }

  private rxStartPayload(): void {
    const buf = this.rxCache[this.rxCacheHead];
    if (buf < 0 || buf + this.packetBytes > ADDR_LIMIT) {
      // Not an address: the packet is lost and receive stops, as for a failed DMA.
      this.bus.sErrors.inc();
      this.rxDropHead();
      this.rxPhase = HALTED;
      return;
    }
    this.rxBuf = buf;
    this.rxOff = 0;
    this.rxInFlight = 0;
    this.rxFailed = false;
    this.rxPhase = DATA;
    this.rxIssuePayload();
  }

  private rxIssuePayload(): void {
    const P = this.packetBytes;
    const now = this.ctx.engine.now;
    const seq = this.fifoSeq[this.fifoHead];
    const base = (seq % 256) * 37;
    while (this.rxInFlight < this.bus.maxOutstanding && this.rxOff < P) {
      const off = this.rxOff;
      const addr = this.rxBuf + off;
      const size = alignedBurstBytes(addr, this.burstBytes, P - off);
      const t = this.pool.alloc(Cmd.Write, addr, size, this.masterId, now);
      const d = t.data;
      for (let j = 0, x = off; j < size; j++, x++) {
        d[j] = x < 4 ? Math.floor(seq / POW256[x]) % 256 : (base + x * 13 + Math.floor(x / 256)) % 256;
      }
      t.tag = K_RX_DATA;
      this.rxOff = off + size;
      this.rxInFlight++;
      this.bus.send(t);
    }
  }

  private rxDataDone(t: Transaction): void {
    this.rxInFlight--;
    if (t.status !== Status.Ok) {
      this.bus.sErrors.inc();
      this.rxFailed = true;
    }
    this.pool.release(t);
    if (!this.rxFailed) this.rxIssuePayload();
    if (this.rxInFlight > 0 || (!this.rxFailed && this.rxOff < this.packetBytes)) return;
    this.rxDoneArrival = this.fifoArrival[this.fifoHead];
    this.rxDropHead();
    if (this.rxFailed) {
      this.rxPhase = HALTED;
      return;
    }
    // Write the descriptor back: buffer address, length, checksum 0, DD|EOP, errors 0, special 0.
    const w = this.pool.alloc(Cmd.Write, this.rxBase + this.rxHeadIdx * E1000_RX_DESC_BYTES, E1000_RX_DESC_BYTES, this.masterId, this.ctx.engine.now);
    const d = w.data;
    d.fill(0, 0, E1000_RX_DESC_BYTES);
    writeU64(d, E1000_RXD_ADDR, this.rxBuf);
    writeU16(d, E1000_RXD_LENGTH, this.packetBytes);
    d[E1000_RXD_STATUS] = E1000_RXD_STAT_DD | E1000_RXD_STAT_EOP;
    w.tag = K_RX_WB;
    this.rxPhase = WRITEBACK;
    this.bus.send(w);
  }

  /** Removes the FIFO's head packet and its prefetched descriptor. */
  private rxDropHead(): void {
    this.fifoHead = this.fifoHead + 1 === this.fifoSeq.length ? 0 : this.fifoHead + 1;
    this.fifoCount--;
    this.fifoUsed -= this.packetBytes;
    this.rxCacheHead = this.rxCacheHead + 1 === this.prefetch ? 0 : this.rxCacheHead + 1;
    this.rxCacheCount--;
  }

  private rxWrittenBack(t: Transaction): void {
    if (t.status !== Status.Ok) {
      this.bus.sErrors.inc();
      this.rxPhase = HALTED;
      return;
    }
    const now = this.ctx.engine.now;
    this.rxHeadIdx = this.rxHeadIdx + 1 === this.rxEntries ? 0 : this.rxHeadIdx + 1;
    this.sRxPackets.inc();
    this.sRxBytes.inc(this.packetBytes);
    this.bus.sLatency.sample((now - this.rxDoneArrival) / 1000);
    this.rxPhase = IDLE;
    if (this.rogueLag > 0) this.rogueAfterPacket(this.rxBuf);
    this.completion(RX);
    this.rxKick();
  }

  /**
   * Rogue mode: the packet that used buffer `buf` is complete. Writes ROGUE_BYTE into the
   * buffer of the packet rogueLag completions back (if there was one), then remembers
   * `buf` in its place. The write is posted: its response only updates the counters.
   */
  private rogueAfterPacket(buf: number): void {
    const slot = this.rogueIdx;
    if (this.rogueFilled === this.rogueLag) {
      const addr = this.rogueHist[slot];
      const size = alignedBurstBytes(addr, this.burstBytes, Math.min(this.rogueBytes, ADDR_LIMIT - addr));
      const t = this.pool.alloc(Cmd.Write, addr, size, this.masterId, this.ctx.engine.now);
      t.data.fill(ROGUE_BYTE, 0, size);
      t.tag = K_ROGUE;
      this.sRogueWrites!.inc();
      this.bus.send(t);
    } else {
      this.rogueFilled++;
    }
    this.rogueHist[slot] = buf;
    this.rogueIdx = slot + 1 === this.rogueLag ? 0 : slot + 1;
  }

  // ======================= transmit DMA =======================

  private txKick(): void {
    if (this.txPhase !== IDLE) return;
    const now = this.ctx.engine.now;
    if (this.txCacheCount === 0) {
      const n = this.txEntries;
      if (n === 0) return;
      const avail = (this.txTailIdx - this.txFetchIdx + n) % n;
      if (avail === 0) return;
      const addr = this.txBase + this.txFetchIdx * E1000_TX_DESC_BYTES;
      const count = this.fetchCount(addr, avail, n - this.txFetchIdx);
      this.txPhase = FETCH;
      this.sDescFetches.inc();
      const t = this.pool.alloc(Cmd.Read, addr, count * E1000_TX_DESC_BYTES, this.masterId, now);
      t.tag = K_TX_FETCH;
      this.bus.send(t);
      return;
    }
    if (!this.txPacketOpen && this.txPrevStart > now) {
      // Both packet buffers are taken: wait until the previous packet starts on the wire.
      this.txPhase = WAIT_WIRE;
      this.ctx.engine.schedule(this.txPrevStart, this.onWireWait);
      return;
    }
    const off = this.txCacheHead * E1000_TX_DESC_BYTES;
    const c = this.txCache;
    this.txCurAddr = readU64(c, off + E1000_TXD_ADDR);
    this.txCurLen = readU16(c, off + E1000_TXD_LENGTH);
    this.txCurCmd = c[off + E1000_TXD_CMD];
    this.txPacketOpen = true;
    if (this.txCurAddr < 0 || this.txCurAddr + this.txCurLen > ADDR_LIMIT) {
      this.bus.sErrors.inc();
      this.txAbandonPacket();
      return;
    }
    this.ensureTxCapacity(this.txLen + this.txCurLen);
    this.txOff = 0;
    this.txInFlight = 0;
    this.txFailed = false;
    this.txPhase = DATA;
    if (this.txCurLen === 0) this.txDataDone();
    else this.txIssueReads();
  }

  private readonly onWireWait = (): void => {
    if (this.txPhase !== WAIT_WIRE) return;
    this.txPhase = IDLE;
    this.txKick();
  };

  private txFetched(t: Transaction): void {
    if (t.status !== Status.Ok) {
      this.bus.sErrors.inc();
      this.txPhase = HALTED;
      return;
    }
    const count = t.size / E1000_TX_DESC_BYTES;
    for (let i = 0; i < count; i++) {
      let slot = this.txCacheHead + this.txCacheCount;
      if (slot >= this.prefetch) slot -= this.prefetch;
      const from = i * E1000_TX_DESC_BYTES;
      const to = slot * E1000_TX_DESC_BYTES;
      for (let j = 0; j < E1000_TX_DESC_BYTES; j++) this.txCache[to + j] = t.data[from + j];
      this.txCacheCount++;
    }
    this.txFetchIdx = (this.txFetchIdx + count) % this.txEntries;
    this.txPhase = IDLE;
    this.txKick();
  }

  private ensureTxCapacity(bytes: number): void {
    const b = this.txBufs[this.txFill];
    if (b.length >= bytes) return;
    let cap = b.length;
    while (cap < bytes) cap *= 2;
    const nb = new Uint8Array(cap);
    nb.set(b.subarray(0, this.txLen));
    this.txBufs[this.txFill] = nb;
  }

  private txIssueReads(): void {
    const now = this.ctx.engine.now;
    const len = this.txCurLen;
    while (this.txInFlight < this.bus.maxOutstanding && this.txOff < len) {
      const off = this.txOff;
      const addr = this.txCurAddr + off;
      const size = alignedBurstBytes(addr, this.burstBytes, len - off);
      const t = this.pool.alloc(Cmd.Read, addr, size, this.masterId, now);
      t.tag = (this.txLen + off) * 8 + K_TX_DATA;
      this.txOff = off + size;
      this.txInFlight++;
      this.bus.send(t);
    }
  }

  private txDataRead(t: Transaction): void {
    this.txInFlight--;
    if (t.status !== Status.Ok) {
      this.bus.sErrors.inc();
      this.txFailed = true;
    } else {
      const dst = this.txBufs[this.txFill];
      const at = Math.floor(t.tag / 8);
      const d = t.data;
      for (let i = 0; i < t.size; i++) dst[at + i] = d[i];
    }
    this.pool.release(t);
    if (!this.txFailed) this.txIssueReads();
    if (this.txInFlight > 0 || (!this.txFailed && this.txOff < this.txCurLen)) return;
    if (this.txFailed) this.txAbandonPacket();
    else this.txDataDone();
  }

  /** A DMA of the current descriptor failed: drop the packet being assembled and halt. */
  private txAbandonPacket(): void {
    this.txLen = 0;
    this.txPacketOpen = false;
    this.txPhase = HALTED;
  }

  private txDataDone(): void {
    this.txLen += this.txCurLen;
    if (this.txCurCmd & E1000_TXD_CMD_EOP) this.handToWire();
    if (this.txCurCmd & E1000_TXD_CMD_RS) {
      const w = this.pool.alloc(Cmd.Write, this.txBase + this.txHeadIdx * E1000_TX_DESC_BYTES, E1000_TX_DESC_BYTES, this.masterId, this.ctx.engine.now);
      const off = this.txCacheHead * E1000_TX_DESC_BYTES;
      for (let i = 0; i < E1000_TX_DESC_BYTES; i++) w.data[i] = this.txCache[off + i];
      w.data[E1000_TXD_STATUS] |= E1000_TXD_STAT_DD;
      w.tag = K_TX_WB;
      this.txPhase = WRITEBACK;
      this.bus.send(w);
      return;
    }
    this.txDescDone();
  }

  private txWrittenBack(t: Transaction): void {
    if (t.status !== Status.Ok) {
      this.bus.sErrors.inc();
      this.txPhase = HALTED;
      return;
    }
    this.completion(TX);
    this.txDescDone();
  }

  private txDescDone(): void {
    this.txCacheHead = this.txCacheHead + 1 === this.prefetch ? 0 : this.txCacheHead + 1;
    this.txCacheCount--;
    this.txHeadIdx = this.txHeadIdx + 1 === this.txEntries ? 0 : this.txHeadIdx + 1;
    this.txPhase = IDLE;
    this.txKick();
  }

  /** The assembled packet goes to the wire, after the packet before it. */
  private handToWire(): void {
    const now = this.ctx.engine.now;
    const start = this.txWireFree > now ? this.txWireFree : now;
    const end = start + Math.ceil(this.txLen * this.psPerByte);
    this.txWireFree = end;
    this.txPrevStart = start;
    this.txBufLen[this.txFill] = this.txLen;
    // Buffer txFill is refilled only after the next packet has started, i.e. after `end`;
    // at `end` itself this event was scheduled before any read into it, so it runs first.
    this.ctx.engine.schedule(end, this.onWireDone, this.txFill);
    this.txFill ^= 1;
    this.txLen = 0;
    this.txPacketOpen = false;
  }

  private readonly onWireDone = (buf: number): void => {
    const len = this.txBufLen[buf];
    this.sTxPackets.inc();
    this.sTxBytes.inc(len);
    if (this.txCb) this.txCb(this.txBufs[buf], len);
  };

  // ======================= responses =======================

  recvRetry(): void {
    this.bus.retry();
  }

  recvResponse(t: Transaction): void {
    const kind = t.tag % 8;
    switch (kind) {
      case K_RX_DATA:
        this.rxDataDone(t);
        return;
      case K_TX_DATA:
        this.txDataRead(t);
        return;
      case K_RX_FETCH:
        this.rxFetched(t);
        break;
      case K_RX_WB:
        this.rxWrittenBack(t);
        break;
      case K_TX_FETCH:
        this.txFetched(t);
        break;
      case K_TX_WB:
        this.txWrittenBack(t);
        break;
      case K_ROGUE:
        if (t.status === Status.Ok) this.sRogueOk!.inc();
        else this.sRogueFaulted!.inc();
        break;
      default:
        throw new SimInvariantError(`${this.path}: response with unknown tag ${t.tag}`);
    }
    this.pool.release(t);
  }

  // ======================= interrupts =======================

  private completion(dir: number): void {
    this.irqPending[dir]++;
    if (this.irqPending[dir] >= this.every) {
      this.irqPending[dir] = 0;
      this.irqTimer[dir].cancel();
      this.raise(dir);
    } else if (this.timerTicks > 0 && !this.irqTimer[dir].scheduled) {
      this.irqTimer[dir].schedule(this.ctx.engine.now + this.timerTicks);
    }
  }

  private timerFired(dir: number): void {
    if (this.irqPending[dir] === 0) return;
    this.irqPending[dir] = 0;
    if (this.fence) this.raise(dir);
    else this.deliver(dir === RX ? 'rx' : 'tx');
  }

  /** Delivers an interrupt from an event: now, or behind the posted writes before it (PCIe). */
  private raise(dir: number): void {
    const fn = dir === RX ? this.deliverRx : this.deliverTx;
    if (this.fence) this.fence.afterPostedWrites(fn, 0);
    else this.ctx.engine.schedule(this.ctx.engine.now, fn);
  }

  private readonly rxTimer = (): void => this.timerFired(RX);
  private readonly txTimer = (): void => this.timerFired(TX);
  private readonly deliverRx = (): void => this.deliver('rx');
  private readonly deliverTx = (): void => this.deliver('tx');

  private deliver(cause: NicInterruptCause): void {
    this.sInterrupts.inc();
    if (this.irqCb) this.irqCb(cause);
  }
}

const POW256 = [1, 256, 65536, 16777216];


const LINE_RATE = mustBe('a line rate from 0.001 to 1000000 Gbit/s');

/** Device kind `nic`: an e1000-style NIC (scenario job `nic`: its driver and the wire's traffic). */
export const nicDeviceKind = defineDeviceKind({
  spec: deviceFields('nic', {
    burstBytes: BurstBytes.describe('bytes per DMA transaction'),
    maxOutstanding: Outstanding,
    lineRateGbps: z.number(LINE_RATE).min(0.001, LINE_RATE).max(1e6, LINE_RATE).describe('wire speed (transmit pacing), from 0.001 (1 Mbit/s: a 64 KiB frame takes 0.5 s) to 10^6'),
    rxFifoBytes: DeviceBufferBytes.describe('receive packet buffer on the NIC; packets that do not fit are missed'),
    descPrefetch: z.number(mustBe('an integer from 1 to 64')).int(mustBe('an integer from 1 to 64')).min(1, mustBe('at least 1')).max(64, mustBe('at most 64')).default(1)
      .describe('descriptors read in one descriptor fetch, at most (82599/e1000 RXDCTL/TXDCTL burst fetch); 1 = one at a time'),
  }),
  describe: 'a NIC with e1000-style RX/TX descriptor rings in memory',
  rules: (d) => {
    if (d.burstBytes === 0) return [['burstBytes', 'must be positive']];
    if (d.rxFifoBytes === 0) return [['rxFifoBytes', 'must be positive']];
    return [];
  },
  build: (env, d) => new Nic(env.ctx, env.path, env.clock, env.masterId, {
    burstBytes: d.burstBytes, maxOutstanding: d.maxOutstanding, lineRateGbps: d.lineRateGbps, rxFifoBytes: d.rxFifoBytes, descPrefetch: d.descPrefetch,
  }),
});
