import { SimInvariantError } from '../../sim/engine/errors';
import { Counter, type StatsRegistry } from '../../sim/engine/stats';

/**
 * A kernel counter shared by every object that names it (several domains on one IOMMU
 * count into `kernel.<name>.pgtable.inval_cmds`): returns the registered counter, or
 * registers it. The registry refuses a name twice, so objects that come and go use this.
 */
export function sharedCounter(stats: StatsRegistry, name: string, desc: string): Counter {
  const existing = stats.get(name);
  if (existing === undefined) return stats.counter(name, desc);
  if (!(existing instanceof Counter)) throw new SimInvariantError(`stat ${name} exists and is not a counter`);
  return existing;
}
