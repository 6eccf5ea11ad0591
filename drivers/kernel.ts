import type { Logger } from 'pino';
import { componentLogger } from '../sim/engine/log';
import type { Counter } from '../sim/engine/stats';
import type { Soc } from '../sim/soc/builder';
import { KernelMemory } from './kernelMemory';

export type KernelLogLevel = 'info' | 'warn' | 'err';

export interface KernelLogEntry {
  tick: number;
  level: KernelLogLevel;
  /** Subsystem, e.g. `vcm`, `dma-debug`, `iommu`. */
  subsystem: string;
  message: string;
}

/**
 * The simulated kernel: its log (dmesg), warning counter, and memory access. Kernel code
 * runs synchronously, as in Linux, in zero simulated time; what it does to memory goes
 * through `mem` (atomic bus accesses, counted on the bus and in DRAM) and its estimated
 * cost accumulates in `kernel.time_ns`.
 */
export class Kernel {
  readonly log: KernelLogEntry[] = [];
  readonly mem: KernelMemory;
  private readonly sWarnings: Counter;
  private readonly sErrors: Counter;
  private readonly logger: Logger;

  constructor(readonly soc: Soc, busName?: string) {
    const stats = soc.ctx.stats;
    this.sWarnings = stats.counter('kernel.warnings', 'kernel warnings (WARN_ON and friends)');
    this.sErrors = stats.counter('kernel.errors', 'kernel error messages (pr_err, dev_err)');
    this.mem = new KernelMemory(soc, busName);
    this.logger = componentLogger('kernel');
  }

  get now(): number {
    return this.soc.ctx.engine.now;
  }

  get warnings(): number {
    return this.sWarnings.value;
  }

  /** WARN_ON / WARN: a kernel warning, logged and counted. */
  warn(subsystem: string, message: string): void {
    this.sWarnings.value++;
    this.append('warn', subsystem, message);
    this.logger.warn({ subsystem }, message);
  }

  /** pr_err / dev_err. */
  err(subsystem: string, message: string): void {
    this.sErrors.value++;
    this.append('err', subsystem, message);
    this.logger.error({ subsystem }, message);
  }

  info(subsystem: string, message: string): void {
    this.append('info', subsystem, message);
    this.logger.info({ subsystem }, message);
  }

  /** Log lines of one subsystem (tests assert on them). */
  messages(subsystem?: string, level?: KernelLogLevel): string[] {
    return this.log.filter((e) => (!subsystem || e.subsystem === subsystem) && (!level || e.level === level)).map((e) => e.message);
  }

  private append(level: KernelLogLevel, subsystem: string, message: string): void {
    this.log.push({ tick: this.now, level, subsystem, message });
  }
}
