import { Engine } from './engine';
import { Rng } from './rng';
import { StatsRegistry } from './stats';
import { Tracer } from './trace';

/** The shared services every simulated component is built with. */
export interface SimContext {
  readonly engine: Engine;
  readonly stats: StatsRegistry;
  readonly tracer: Tracer;
  readonly rng: Rng;
}

/** A context with a fresh engine, a stats registry reading its clock, and no trace. */
export function createSimContext(seed = 1, tracer: Tracer = new Tracer()): SimContext {
  const engine = new Engine();
  return { engine, stats: new StatsRegistry(() => engine.now), tracer, rng: new Rng(seed) };
}
