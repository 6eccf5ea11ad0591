/**
 * A NIC driver's receive path, as Linux's e1000 (per-packet mapping) and ixgbe (page
 * reuse) drivers do it, on the simulated e1000-style NIC (sim/devices/nic.ts):
 *
 * - probe: the descriptor ring comes from dma_alloc_coherent; each ring slot gets a
 *   kernel buffer (two 2 KiB buffers per page, like e1000's rx_buffer_len) mapped with
 *   dma_map_single(DMA_FROM_DEVICE); the descriptors are written through the CPU; the
 *   ring registers are programmed, the tail is bumped and receive is enabled.
 * - interrupt ("rx"): descriptors are cleaned from next_to_clean while DD is set. With
 *   `mapping: 'per-packet'` the buffer is unmapped (dma_unmap_single: in strict mode an
 *   IOTLB invalidation, in lazy mode a flush-queue entry), the payload is checked
 *   through the CPU, and the buffer is mapped again for the slot (e1000_clean_rx_irq +
 *   e1000_alloc_rx_buffers). With `mapping: 'reuse'` the buffer stays mapped and is
 *   synced for the CPU and back for the device (ixgbe's page reuse), so the device's
 *   IOVA working set is the ring. The tail is written once per interrupt.
 * - remove: receive is disabled, every buffer unmapped, the ring freed, the driver
 *   unbound (dma-debug reports any leak).
 *
 * - transmit (`xmit`, e1000_xmit_frame): the packet is built in a kernel buffer through
 *   the CPU, mapped with dma_map_single(DMA_TO_DEVICE), described by one descriptor
 *   (EOP | IFCS | RS) and the tail bumped; a full ring refuses the packet (tx_busy, as
 *   NETDEV_TX_BUSY). On the "tx" interrupt completed descriptors are cleaned: unmapped
 *   and their buffers freed (e1000_clean_tx_irq). What leaves on the wire is checked
 *   against what the driver built (tx_corrupt).
 *
 * Stats under kernel.<device>.driver: rx_packets, rx_bytes, rx_corrupt (payload not what
 * the wire sent), rx_map_errors (a slot left empty because dma_map_single failed),
 * tx_packets (cleaned after transmission), tx_busy, tx_map_errors, tx_corrupt,
 * interrupts.
 */
import type { Counter } from '../../sim/engine/stats';
import {
  E1000_RX_DESC_BYTES,
  E1000_RXD_STAT_DD,
  E1000_TX_DESC_BYTES,
  E1000_TXD_CMD_EOP,
  E1000_TXD_CMD_IFCS,
  E1000_TXD_CMD_RS,
  E1000_TXD_STAT_DD,
  decodeE1000RxDesc,
  decodeE1000TxDesc,
  encodeE1000RxDesc,
  encodeE1000TxDesc,
} from '../../sim/devices/descriptors';
import { packetByte, type Nic } from '../../sim/devices/nic';
import { KernelError } from '../errno';
import {
  dmaAllocCoherent,
  dmaFreeCoherent,
  dmaMapSingle,
  dmaMappingError,
  dmaSyncSingleForCpu,
  dmaSyncSingleForDevice,
  dmaUnmapSingle,
} from '../dma/mapping';
import { DMA_FROM_DEVICE, DMA_TO_DEVICE, type DmaCoherentBuffer } from '../dma/types';
import type { DmaDevice } from '../dma/device';
import type { Platform } from '../platform';

export type NicRxMapping = 'per-packet' | 'reuse';

export interface NicDriverOptions {
  /** Receive descriptors (a multiple of 8, as the e1000 requires); 0 = no receive. */
  rxRingEntries: number;
  /** Transmit descriptors (a multiple of 8); 0 or absent = no transmit. */
  txRingEntries?: number;
  /** Bytes of each receive buffer (2048 in e1000); a packet must fit. */
  rxBufferBytes: number;
  mapping: NicRxMapping;
  /** Check each packet's payload bytes through the CPU (default true). */
  verify?: boolean;
}

const DRIVER_NAME = 'e1000_sim';
const PAGE = 4096;
/** Payload bytes checked per packet (the header and the start of the data). */
const VERIFY_BYTES = 64;

interface TxSlot {
  /** Page (physical) of the packet's buffer while in flight, its DMA address and length. */
  pa: number;
  dma: number;
  length: number;
}

interface RxSlot {
  /** Kernel virtual address of the buffer. */
  va: number;
  /** Its DMA address while mapped, else null. */
  dma: number | null;
  /** Holds a mapped buffer and a fresh descriptor (false: taken by the driver, waiting for a buffer). */
  posted: boolean;
}

export class NicDriver {
  private ring: DmaCoherentBuffer | null = null;
  private readonly slots: RxSlot[] = [];
  private readonly pages: number[] = [];
  private nextToClean = 0;
  /** The first slot waiting for a buffer (e1000's next_to_use); equals nextToClean when every slot is posted. */
  private nextToUse = 0;
  private readonly desc = new Uint8Array(E1000_RX_DESC_BYTES);
  private readonly payload = new Uint8Array(VERIFY_BYTES);
  private readonly dev: DmaDevice;
  private readonly sPackets: Counter;
  private readonly sBytes: Counter;
  private readonly sCorrupt: Counter;
  private readonly sMapErrors: Counter;
  private readonly sInterrupts: Counter;
  private txRing: DmaCoherentBuffer | null = null;
  private txSlots: (TxSlot | null)[] = [];
  private txTail = 0;
  private txNextToClean = 0;
  private txSeq = 0;
  private wireSeq = 0;
  private readonly txDesc = new Uint8Array(E1000_TX_DESC_BYTES);
  private readonly sTxPackets: Counter;
  private readonly sTxBusy: Counter;
  private readonly sTxMapErrors: Counter;
  private readonly sTxCorrupt: Counter;

  constructor(readonly platform: Platform, readonly device: string, readonly nic: Nic, readonly opts: NicDriverOptions) {
    this.dev = platform.dmaDevice(device);
    const s = platform.soc.ctx.stats.scope(`kernel.${device}.driver`);
    this.sPackets = s.counter('rx_packets', 'packets the driver received');
    this.sBytes = s.counter('rx_bytes', 'bytes the driver received');
    this.sCorrupt = s.counter('rx_corrupt', 'packets whose payload differs from what the wire sent');
    this.sMapErrors = s.counter('rx_map_errors', 'buffers that could not be mapped (slot left empty)');
    this.sInterrupts = s.counter('interrupts', 'interrupts handled (receive and transmit)');
    this.sTxPackets = s.counter('tx_packets', 'transmitted packets cleaned (unmapped, buffer freed)');
    this.sTxBusy = s.counter('tx_busy', 'packets refused because the transmit ring was full');
    this.sTxMapErrors = s.counter('tx_map_errors', 'packets dropped because dma_map_single failed');
    this.sTxCorrupt = s.counter('tx_corrupt', 'packets whose bytes on the wire differ from what the driver built');
  }

  get txPackets(): number {
    return this.sTxPackets.value;
  }

  get txBusy(): number {
    return this.sTxBusy.value;
  }

  /** Called after each interrupt's cleaning (the scenario runner watches progress with it). */
  onCleaned: (() => void) | null = null;

  get rxPackets(): number {
    return this.sPackets.value;
  }

  /** e1000_probe + e1000_open's receive setup. Throws KernelError when memory or mappings run out. */
  probe(): void {
    this.dev.bindDriver(DRIVER_NAME);
    this.nic.onInterrupt((cause) => {
      this.sInterrupts.value++;
      if (cause === 'rx') this.cleanRxIrq();
      else this.cleanTxIrq();
      this.onCleaned?.();
    });
    const txn = this.opts.txRingEntries ?? 0;
    if (txn > 0) {
      this.txRing = dmaAllocCoherent(this.dev, txn * E1000_TX_DESC_BYTES);
      if (!this.txRing) throw new KernelError('ENOMEM', 'e1000_setup_tx_resources', `${this.device}: descriptor ring`);
      this.txSlots = new Array<TxSlot | null>(txn).fill(null);
      this.nic.onTransmit((data, length) => this.checkWire(data, length));
      this.nic.setTxRing(this.txRing.dmaHandle, txn);
    }
    if (this.opts.rxRingEntries > 0) this.probeRx();
  }

  private probeRx(): void {
    const { rxRingEntries: n, rxBufferBytes } = this.opts;
    this.ring = dmaAllocCoherent(this.dev, n * E1000_RX_DESC_BYTES);
    if (!this.ring) throw new KernelError('ENOMEM', 'e1000_setup_rx_resources', `${this.device}: descriptor ring`);
    const perPage = Math.max(1, Math.floor(PAGE / rxBufferBytes));
    const order = rxBufferBytes > PAGE ? Math.ceil(Math.log2(rxBufferBytes / PAGE)) : 0;
    const kcpu = this.platform.kcpu;
    for (let i = 0; i < n; i++) {
      if (i % perPage === 0) {
        const pa = this.platform.pages.allocPages(order);
        if (pa === null) throw new KernelError('ENOMEM', 'e1000_alloc_rx_buffers', `${this.device}: buffer ${i}`);
        this.pages.push(pa);
      }
      const pa = this.pages[this.pages.length - 1] + (i % perPage) * rxBufferBytes;
      this.slots.push({ va: kcpu.physToVirt(pa), dma: null, posted: true });
      if (!this.refill(i)) throw new KernelError('ENOMEM', 'e1000_alloc_rx_buffers', `${this.device}: cannot map receive buffer ${i}`);
    }
    this.nic.setRxRing(this.ring.dmaHandle, n);
    this.nic.setRxTail(n - 1);
    this.nic.setRxEnable(true);
  }

  /** Maps the slot's buffer (if needed) and posts its descriptor to the ring. */
  /** Maps (or syncs) slot i's buffer and posts its descriptor; false when the mapping failed. */
  private refill(i: number): boolean {
    const slot = this.slots[i];
    if (slot.dma === null) {
      const dma = dmaMapSingle(this.dev, slot.va, this.opts.rxBufferBytes, DMA_FROM_DEVICE);
      if (dmaMappingError(this.dev, dma)) {
        this.sMapErrors.value++;
        return false;
      }
      slot.dma = dma;
    } else {
      dmaSyncSingleForDevice(this.dev, slot.dma, this.opts.rxBufferBytes, DMA_FROM_DEVICE);
    }
    this.platform.kcpu.write(this.ring!.cpuAddr + i * E1000_RX_DESC_BYTES, encodeE1000RxDesc(slot.dma));
    return true;
  }

  /**
   * e1000_clean_rx_irq + e1000_alloc_rx_buffers: takes every completed descriptor, then
   * gives the taken slots back with fresh buffers from next_to_use on. A buffer that
   * cannot be mapped stops the refill there: that slot keeps no buffer, the tail is not
   * moved past it (the NIC is never handed an unmapped buffer), and the next interrupt
   * retries it. Cleaning never waits for refilling.
   */
  private cleanRxIrq(): void {
    if (!this.ring) return; // removed (free_irq): nothing to clean
    const n = this.opts.rxRingEntries;
    const kcpu = this.platform.kcpu;
    for (let budget = 0; budget < n; budget++) {
      const i = this.nextToClean;
      const slot = this.slots[i];
      if (!slot.posted) break; // waiting for a buffer: the NIC does not own it
      kcpu.read(this.ring.cpuAddr + i * E1000_RX_DESC_BYTES, this.desc);
      const d = decodeE1000RxDesc(this.desc);
      if ((d.status & E1000_RXD_STAT_DD) === 0) break;
      if (this.opts.mapping === 'per-packet') {
        dmaUnmapSingle(this.dev, slot.dma!, this.opts.rxBufferBytes, DMA_FROM_DEVICE);
        slot.dma = null;
      } else {
        dmaSyncSingleForCpu(this.dev, slot.dma!, this.opts.rxBufferBytes, DMA_FROM_DEVICE);
      }
      if (this.opts.verify ?? true) this.verify(slot.va, d.length);
      this.sPackets.value++;
      this.sBytes.value += d.length;
      slot.posted = false;
      this.nextToClean = (i + 1) % n;
    }
    let filled = -1;
    while (!this.slots[this.nextToUse].posted) {
      const j = this.nextToUse;
      if (!this.refill(j)) break;
      this.slots[j].posted = true;
      filled = j;
      this.nextToUse = (j + 1) % n;
    }
    if (filled >= 0) this.nic.setRxTail(filled);
  }

  /**
   * e1000_xmit_frame: builds packet `seq` (the wire pattern packetByte(seq, i)) in a
   * kernel page, maps it TO_DEVICE, posts one descriptor and bumps the tail. Returns
   * false when the ring is full (tx_busy) or the mapping fails.
   */
  xmit(length: number): boolean {
    const n = this.opts.txRingEntries ?? 0;
    if (!this.txRing || length < 1 || length > PAGE) throw new KernelError('EINVAL', 'e1000_xmit_frame', `${this.device}: no transmit ring, or a ${length}-byte packet`);
    if (this.txSlots[this.txTail] !== null) {
      this.sTxBusy.value++;
      return false;
    }
    const pa = this.platform.pages.allocPages(0);
    if (pa === null) throw new KernelError('ENOMEM', 'e1000_xmit_frame', `${this.device}: no page for a packet`);
    const seq = this.txSeq++;
    const frame = new Uint8Array(length);
    for (let i = 0; i < length; i++) frame[i] = packetByte(seq, i);
    const va = this.platform.kcpu.physToVirt(pa);
    this.platform.kcpu.write(va, frame);
    const dma = dmaMapSingle(this.dev, va, length, DMA_TO_DEVICE);
    if (dmaMappingError(this.dev, dma)) {
      this.platform.pages.freePages(pa, 0);
      this.sTxMapErrors.value++;
      return false;
    }
    const i = this.txTail;
    this.txSlots[i] = { pa, dma, length };
    this.platform.kcpu.write(this.txRing.cpuAddr + i * E1000_TX_DESC_BYTES, encodeE1000TxDesc(dma, length, E1000_TXD_CMD_EOP | E1000_TXD_CMD_IFCS | E1000_TXD_CMD_RS));
    this.txTail = (i + 1) % n;
    this.nic.setTxTail(this.txTail);
    return true;
  }

  /** e1000_clean_tx_irq: unmaps and frees every packet whose descriptor is done. */
  private cleanTxIrq(): void {
    const n = this.opts.txRingEntries ?? 0;
    for (let budget = 0; budget < n; budget++) {
      const i = this.txNextToClean;
      const slot = this.txSlots[i];
      if (slot === null) break;
      this.platform.kcpu.read(this.txRing!.cpuAddr + i * E1000_TX_DESC_BYTES, this.txDesc);
      if ((decodeE1000TxDesc(this.txDesc).status & E1000_TXD_STAT_DD) === 0) break;
      dmaUnmapSingle(this.dev, slot.dma, slot.length, DMA_TO_DEVICE);
      this.platform.pages.freePages(slot.pa, 0);
      this.txSlots[i] = null;
      this.sTxPackets.value++;
      this.txNextToClean = (i + 1) % n;
    }
  }

  /** The wire: packets leave in order, each must be the one the driver built. */
  private checkWire(data: Uint8Array, length: number): void {
    const seq = this.wireSeq++;
    for (let i = 0; i < length; i++) {
      if (data[i] !== packetByte(seq, i)) {
        this.sTxCorrupt.value++;
        return;
      }
    }
  }

  /** The packet's sequence number is in its first 4 bytes; the rest must follow packetByte. */
  private verify(va: number, length: number): void {
    const n = Math.min(length, VERIFY_BYTES);
    this.platform.kcpu.read(va, this.payload, 0, n);
    const p = this.payload;
    const seq = (p[0] | (p[1] << 8) | (p[2] << 16) | (p[3] << 24)) >>> 0;
    for (let k = 4; k < n; k++) {
      if (p[k] !== packetByte(seq, k)) {
        this.sCorrupt.value++;
        return;
      }
    }
  }

  /** e1000_close + e1000_remove: receive off, buffers unmapped and freed, ring freed, driver unbound. */
  remove(): void {
    // free_irq: a late interrupt (a moderation timer) must not reach a removed driver.
    this.nic.onInterrupt(() => {});
    if (this.txRing) {
      const n = this.opts.txRingEntries ?? 0;
      for (const slot of this.txSlots) {
        if (!slot) continue;
        dmaUnmapSingle(this.dev, slot.dma, slot.length, DMA_TO_DEVICE);
        this.platform.pages.freePages(slot.pa, 0);
      }
      this.txSlots.fill(null);
      dmaFreeCoherent(this.dev, n * E1000_TX_DESC_BYTES, this.txRing.cpuAddr, this.txRing.dmaHandle);
      this.txRing = null;
    }
    if (!this.ring) {
      this.dev.unbindDriver();
      return;
    }
    this.nic.setRxEnable(false);
    for (const slot of this.slots) {
      if (slot.dma !== null) dmaUnmapSingle(this.dev, slot.dma, this.opts.rxBufferBytes, DMA_FROM_DEVICE);
      slot.dma = null;
    }
    const order = this.opts.rxBufferBytes > PAGE ? Math.ceil(Math.log2(this.opts.rxBufferBytes / PAGE)) : 0;
    for (const pa of this.pages) this.platform.pages.freePages(pa, order);
    dmaFreeCoherent(this.dev, this.opts.rxRingEntries * E1000_RX_DESC_BYTES, this.ring.cpuAddr, this.ring.dmaHandle);
    this.ring = null;
    this.dev.unbindDriver();
  }
}
