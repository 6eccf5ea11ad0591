import { SimInvariantError } from './errors';

/**
 * Bus-master ids and names (gem5's `System::getMasterId` / `getMasterName`): one place
 * hands out the id every transaction of a master carries, and maps it back to the
 * master's name for traces and stats. Ids are dense, from 0, in registration order.
 *
 * It lives in sim/engine, not sim/soc, because the trace writers (below sim/soc) name
 * masters from it; the SoC builder registers every master (`Soc.masters`).
 */
export class MasterRegistry {
  private readonly byName = new Map<string, number>();
  private readonly list: string[] = [];

  /** Registers master `name` and returns its id (the next free one). Names are unique. */
  register(name: string): number {
    if (this.byName.has(name)) throw new SimInvariantError(`bus master "${name}" registered twice`);
    const id = this.list.length;
    this.list.push(name);
    this.byName.set(name, id);
    return id;
  }

  /** The id of master `name`. */
  id(name: string): number {
    const id = this.byName.get(name);
    if (id === undefined) throw new SimInvariantError(`no bus master "${name}" (masters: ${this.list.join(', ') || 'none'})`);
    return id;
  }

  /** The name of master `id`. */
  name(id: number): string {
    const n = this.list[id];
    if (n === undefined) throw new SimInvariantError(`no bus master with id ${id} (${this.list.length} registered)`);
    return n;
  }

  /**
   * Names indexed by id, for hot paths that look a name up per record without a call or
   * an allocation. The array is live: masters registered later appear in it.
   */
  get names(): readonly string[] {
    return this.list;
  }

  get size(): number {
    return this.list.length;
  }

  /** id → name, in id order. */
  entries(): Map<number, string> {
    return new Map(this.list.map((n, id) => [id, n]));
  }
}
