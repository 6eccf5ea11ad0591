/**
 * How a run drives the models (gem5's access modes): `timing` schedules every latency,
 * contention and back-pressure; `atomic` applies each access and its state changes at
 * once with an idle-system latency estimate (fast-forward). The third way in,
 * `functional` (data only, zero time, no stats), is a port call, not a run mode.
 */
export type AccessMode = 'timing' | 'atomic';

export const ACCESS_MODES: readonly AccessMode[] = ['timing', 'atomic'];
