import pino, { type Logger, type Level } from 'pino';

/**
 * Logging through pino (DESIGN.md "Logging"): one root logger writing to stderr, so
 * stdout stays clean for stats; a child logger per component; default level `warn`.
 */
let root: Logger | null = null;
let level: Level | 'silent' = 'warn';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

function rootLogger(): Logger {
  if (!root) root = pino({ level, base: undefined, timestamp: false }, pino.destination({ fd: 2, sync: true }));
  return root;
}

export function setLogLevel(l: LogLevel): void {
  level = l;
  if (root) root.level = l;
}

/** Child logger for a component path such as `soc.dram`. */
export function componentLogger(component: string): Logger {
  return rootLogger().child({ component });
}
