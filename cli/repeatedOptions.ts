/**
 * Single-value options given twice (`--trace a --trace b`, `--seed 1 --seed 2`): yargs
 * turns them into arrays, which the commands do not expect. Every option not declared
 * `array: true` may be given once; the check runs before any command does.
 */
export interface ParsedOptions {
  /** Keys declared `array: true` (options and variadic positionals) in the current command. */
  array: string[];
  alias: Record<string, string[]>;
}

const kebab = (k: string) => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** The usage problem, or null: the first option that was given more than once. */
export function repeatedOptionProblem(argv: Record<string, unknown>, opts: ParsedOptions): string | null {
  const arrays = new Set(opts.array);
  const isArray = (k: string) => arrays.has(k) || arrays.has(kebab(k)) || (opts.alias[k] ?? []).some((a) => arrays.has(a));
  for (const [k, v] of Object.entries(argv)) {
    if (k === '_' || k === '$0' || !Array.isArray(v) || isArray(k)) continue;
    // Named as declared: the longest of its aliases (`--jobs`, not `-j`), kebab-case.
    const names = [k, ...(opts.alias[k] ?? []), ...Object.keys(opts.alias).filter((a) => opts.alias[a].includes(k))];
    const name = kebab(names.reduce((a, b) => (b.length > a.length ? b : a)));
    return `--${name} was given ${v.length} times (${v.map((x) => JSON.stringify(x)).join(', ')}); it takes one value`;
  }
  return null;
}
