import { SimInvariantError } from '../engine/errors';
import type { Counter, StatScope } from '../engine/stats';
import { Cmd, type Transaction } from '../bus/transaction';
import type { PhysicalMemory } from './physmem';

/**
 * What every memory slave does the same way: the counters it keeps and the data effect
 * of an accepted request (applied on accept, in arrival order, so a read that follows a
 * write sees it).
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
    const size = txn.size;
    if (txn.data.length < size) {
      throw new SimInvariantError(`${path}: transaction ${txn.id} payload ${txn.data.length} < size ${size}`);
    }
    if (txn.cmd === Cmd.Write) {
      mem.write(txn.addr, txn.data, 0, size);
      this.writes.value++;
      this.bytesWritten.value += size;
    } else {
      mem.read(txn.addr, txn.data, 0, size);
      this.reads.value++;
      this.bytesRead.value += size;
    }
  }
}
