import type { RunStop } from '../scenario/run';

/**
 * SIGINT / SIGTERM during `socsim run`: the run stops at the next slice boundary, its
 * trace is flushed and ends with an "interrupted" end record, no stats are printed (a
 * partial run's stats must not pass for a complete run's), and socsim exits with the
 * shell's code for the signal: 128 + its number.
 */
export const STOP_SIGNALS = { SIGINT: 130, SIGTERM: 143 } as const;
export type StopSignal = keyof typeof STOP_SIGNALS;

export interface StopSignals {
  /** The first signal caught, or null: what runLoadedInterruptible asks between slices. */
  readonly stop: RunStop;
  /** Removes the handlers (the signals' default actions apply again). */
  release(): void;
}

/**
 * Catches SIGINT and SIGTERM from the first time the run asks (`stop()`, once the SoC is
 * built and the kernel booted) until `release()`. Not before: loading, building and booting are one
 * synchronous stretch in which a handler could never run, so a caught signal would be
 * ignored for as long as it lasts (a huge boot could not be stopped). Until the run
 * first yields, a signal's default action ends socsim at once; the trace, written under
 * a temporary name, is then simply not there.
 */
export function catchStopSignals(): StopSignals {
  let caught: StopSignal | null = null;
  let handlers: (readonly [StopSignal, () => void])[] | null = null;
  const arm = () => {
    handlers = (Object.keys(STOP_SIGNALS) as StopSignal[]).map((sig) => {
      const h = (): void => {
        caught ??= sig;
      };
      process.on(sig, h);
      return [sig, h] as const;
    });
  };
  return {
    stop: () => {
      if (!handlers) arm();
      return caught;
    },
    release: () => {
      for (const [sig, h] of handlers ?? []) process.off(sig, h);
      handlers = [];
    },
  };
}

/** The exit code for a run stopped by `signal`. */
export function signalExitCode(signal: string): number {
  return (STOP_SIGNALS as Record<string, number>)[signal] ?? 1;
}
