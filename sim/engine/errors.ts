/**
 * The three kinds of failure socsim reports (DESIGN.md "Errors").
 * Hardware faults are data, not exceptions, so they do not appear here.
 */

/** A broken simulator invariant: a bug in socsim itself, never the user's input. */
export class SimInvariantError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SimInvariantError';
  }
}

/**
 * Bad config or scenario input. The message always names the file, the JSON path and
 * what was expected, e.g. `minimal.json: soc.buses[0].widthBytes: must be a power of two, got 6`.
 */
export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly jsonPath: string,
    readonly reason: string,
    /** Further problems found in the same file, already formatted as `path: reason`. */
    readonly more: readonly string[] = [],
  ) {
    super([`${file}: ${jsonPath}: ${reason}`, ...more.map((m) => `${file}: ${m}`)].join('\n'));
    this.name = 'ConfigError';
  }
}

/**
 * A run would pass the end of simulated time (TIME_LIMIT_PS, 2^53 ps): `owner` (a
 * component path, or the handler's name) scheduled an event at `at`. Bad input (a run
 * too long for its delays), not a bug: the scenario runner reports it as a ConfigError.
 */
export class SimTimeLimitError extends Error {
  constructor(
    readonly owner: string,
    readonly at: number,
    readonly now: number,
  ) {
    super(`${owner} scheduled an event at ${at} ps (now ${now} ps), at or past the simulated time limit of 2^53 ps (about 2.5 hours)`);
    this.name = 'SimTimeLimitError';
  }
}

/** Formats a path like ['buses', 0, 'width'] as `soc.buses[0].width` under `root`. */
export function formatJsonPath(root: string, path: ReadonlyArray<string | number>): string {
  let out = root;
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : pathKey(part);
  return out;
}

/** Keys longer than this are shown cut in paths (a user's key may be megabytes long). */
const MAX_SHOWN_KEY_CHARS = 80;

/** `.key` for a plain key; a key that is not (a user's "a.b", "", a newline) is quoted, as `["a.b"]`. */
function pathKey(key: string): string {
  if (key.length > MAX_SHOWN_KEY_CHARS) return `[${JSON.stringify(key.slice(0, 32))}… (${key.length} characters)]`;
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}
