import { SimInvariantError } from '../engine/errors';
import type { Counter, StatScope } from '../engine/stats';
import { Cmd, Status, type Transaction } from '../bus/transaction';
import { FRAME_BYTES, type PhysicalMemory } from './physmem';

/**
 * What every memory slave does the same way: the counters it keeps and the data effect
 * of an accepted request (applied on accept, in arrival order, so a read that follows a
 * write sees it).
 *
 * The three access modes (port.ts) share the data effect: a timing request and an
 * atomic access call `applyDataEffect` (moves the bytes and counts them); a functional
 * access calls `applyFunctional` (moves the same bytes, counts nothing). Range checks
 * stay with the slave, which knows its region.
 */
export class MemoryAccessStats {
  readonly reads: Counter;
  readonly writes: Counter;
  readonly bytesRead: Counter;
  readonly bytesWritten: Counter;
  readonly refused: Counter;
  readonly decodeErrors: Counter;

  constructor(s: StatScope, refusedWhy: string) {
    this.reads = s.counter('reads', 'read requests accepted');
    this.writes = s.counter('writes', 'write requests accepted');
    this.bytesRead = s.counter('bytes_read', 'bytes read');
    this.bytesWritten = s.counter('bytes_written', 'bytes written');
    this.refused = s.counter('refused', `requests refused by back-pressure (${refusedWhy})`);
    this.decodeErrors = s.counter('decode_errors', 'requests outside the region (DecodeError)');
  }

  /** Moves the bytes of an accepted request between `txn.data` and memory, and counts it. */
  applyDataEffect(path: string, txn: Transaction, mem: PhysicalMemory): void {
    moveData(path, txn, mem);
    const size = txn.size;
    if (txn.cmd === Cmd.Write) {
      this.writes.value++;
      this.bytesWritten.value += size;
    } else {
      this.reads.value++;
      this.bytesRead.value += size;
    }
  }
}

/**
 * A functional access to a memory slave, whose caller has checked that
 * [addr, addr+size) lies in its region: moves the bytes as an accepted request would,
 * sets `Status.Ok`, and touches no stats and no timing state.
 */
export function applyFunctional(path: string, txn: Transaction, mem: PhysicalMemory): void {
  moveData(path, txn, mem);
  txn.status = Status.Ok;
}

function moveData(path: string, txn: Transaction, mem: PhysicalMemory): void {
  const size = txn.size;
  if (txn.data.length < size) {
    throw new SimInvariantError(`${path}: transaction ${txn.id} payload ${txn.data.length} < size ${size}`);
  }
  const addr = txn.addr;
  // Whole aligned words (bus bursts, 4/8-byte PTEs) copy a word at a time: 4x fewer
  // element moves than bytes, and no subarray view to allocate.
  const words = ((addr | size) & 3) === 0 ? txn.words() : null;
  if (words !== null) {
    // By frame number and offset, small integers, where an address past 2^31 would be boxed.
    const frameNo = Math.floor(addr / FRAME_BYTES);
    const off = addr - frameNo * FRAME_BYTES;
    if (txn.cmd === Cmd.Write) mem.writeFrameWords(frameNo, off, words, size >> 2);
    else mem.readFrameWords(frameNo, off, words, size >> 2);
  } else if (txn.cmd === Cmd.Write) mem.write(addr, txn.data, 0, size);
  else mem.read(addr, txn.data, 0, size);
}
