import { SingleBar, Presets } from 'cli-progress';

/**
 * A progress bar on stderr for runs longer than a couple of seconds, shown only when
 * stderr is a terminal (never in CI logs or pipes). Wall-clock time is read here, in
 * the CLI, never inside the simulation.
 */
export class RunProgress {
  private bar: SingleBar | null = null;
  private readonly startMs = Date.now();

  constructor(private readonly stream: NodeJS.WriteStream, private readonly delayMs = 2000) {}

  static forStderr(enabled: boolean): RunProgress | null {
    return enabled && process.stderr.isTTY ? new RunProgress(process.stderr) : null;
  }

  update(fraction: number, tickPs: number): void {
    if (!this.bar) {
      if (Date.now() - this.startMs < this.delayMs || fraction >= 1) return;
      this.bar = new SingleBar(
        { stream: this.stream, format: 'simulating [{bar}] {percentage}% | sim {simTime} | eta {eta_formatted}', hideCursor: true },
        Presets.shades_classic,
      );
      this.bar.start(1000, 0, { simTime: '' });
    }
    this.bar.update(Math.round(fraction * 1000), { simTime: formatSimTime(tickPs) });
  }

  stop(): void {
    this.bar?.stop();
  }
}

export function formatSimTime(ps: number): string {
  if (ps >= 1e9) return `${(ps / 1e9).toFixed(3)} ms`;
  if (ps >= 1e6) return `${(ps / 1e6).toFixed(3)} us`;
  return `${(ps / 1e3).toFixed(1)} ns`;
}
