import { z } from 'zod';
import { isPowerOfTwo } from './addr';
import { formatJsonPath, SimInvariantError } from './errors';
import { parseAddress, parseFrequency, parseSize, parseTime, UnitError } from './units';

/**
 * zod building blocks for component specs (DESIGN.md "One spec per component"): each
 * model declares its parameters once as a zod schema built from these; the SoC config
 * schema composes the specs, and the model's parameter type comes from its spec.
 * Quantities are accepted as numbers or friendly strings and converted to plain numbers
 * while parsing; every rule reports "must be …, got …".
 */

function quantity(parse: (v: unknown) => number, description: string) {
  return z
    .union([z.number(), z.string()])
    .transform((v, ctx) => {
      try {
        return parse(v);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: e instanceof UnitError ? e.message : String(e) });
        return z.NEVER;
      }
    })
    .describe(description);
}

export const Size = quantity(parseSize, 'bytes: 4096, "4KiB", "16MiB"');
export const Address = quantity(parseAddress, 'physical address: 2147483648 or "0x8000_0000"');
export const Time = quantity(parseTime, 'time: picoseconds as a number, or "250ns", "10us", "1.5ms"');
/** Slowest clock: 1 MHz, so that MAX_CYCLES cycles last at most MAX_DELAY_PS (2^40 ps). */
export const MIN_CLOCK_HZ = 1e6;
export const Frequency = quantity(parseFrequency, 'frequency: Hz as a number, or "800MHz", "1.2GHz"; at least 1MHz')
  .refine((hz) => hz >= MIN_CLOCK_HZ, mustBe('at least 1 MHz (a clock period of at most 1 us)'));

/** Longest name (components, clocks, jobs, buffers, SoCs, scenarios): names end up in every stat name and trace record. */
export const MAX_NAME_CHARS = 64;

/**
 * A user-chosen name. The character set keeps stat paths (`soc.<name>.…`), `--set`
 * paths and globs unambiguous; the length keeps stats and traces bounded. Names are
 * looked up in Maps (or with Object.hasOwn), so a name like "constructor" is just a name.
 */
export const Name = z
  .string(mustBe('a name (a string)'))
  .max(MAX_NAME_CHARS, { error: (iss: { input?: unknown }) => `must be at most ${MAX_NAME_CHARS} characters, got ${String(iss.input).length}`, abort: true })
  .regex(/^[a-z][a-z0-9_]*$/, 'must be lower-case letters, digits and _, starting with a letter')
  .describe(`name (lower-case letters, digits and _, starting with a letter; at most ${MAX_NAME_CHARS} characters); becomes part of stat names`);

function show(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : Array.isArray(v) ? `[${v.map(show).join(', ')}]` : String(v);
}

/**
 * An error option for zod checks: `must be <what>, got <input>`. It aborts the field's
 * later checks, so one bad value gives one message.
 */
export function mustBe(what: string) {
  return { error: (iss: { input?: unknown }) => `must be ${what}, got ${show(iss.input)}`, abort: true };
}

/** Any positive integer (safe), e.g. a priority or a stream id; use `count` where the model allocates by it. */
export const PositiveInt = z.number(mustBe('a positive integer')).int(mustBe('a positive integer')).min(1, mustBe('a positive integer'));
export const NonNegativeInt = z.number(mustBe('a non-negative integer')).int(mustBe('a non-negative integer')).min(0, mustBe('a non-negative integer'));

/**
 * Upper bound of counts a model allocates arrays for (TLB and cache entries, queue
 * depths, walk slots): 2^20. Larger values are no hardware and would only exhaust memory.
 */
export const MAX_COUNT = 2 ** 20;
/** Upper bound of MSHR counts (each is searched on every miss): 1024. */
export const MAX_MSHRS = 1024;
/**
 * Upper bound of a cycle count (a latency): 2^20 cycles, about 1 ms at 1 GHz and at most
 * 2^40 ps (MAX_DELAY_PS) at the slowest clock (MIN_CLOCK_HZ), so no delay overflows time.
 */
export const MAX_CYCLES = 2 ** 20;

/** An integer in 1..max; `bound` is how messages write max. */
export function count(max = MAX_COUNT, bound = max === MAX_COUNT ? '2^20' : String(max)) {
  const rule = mustBe(`an integer from 1 to ${bound}`);
  return z.number(rule).int(rule).min(1, rule).max(max, rule);
}

/** An integer in 0..max. */
export function countOrZero(max = MAX_COUNT, bound = max === MAX_COUNT ? '2^20' : String(max)) {
  const rule = mustBe(`an integer from 0 to ${bound}`);
  return z.number(rule).int(rule).min(0, rule).max(max, rule);
}

/** A latency in cycles of the component's clock: an integer in 0..2^20. */
export const Cycles = countOrZero(MAX_CYCLES, '2^20');

/** A positive integer that is a power of two, at most `max` (for a plain number field). */
export function powerOfTwo(max = MAX_COUNT, bound = max === MAX_COUNT ? '2^20' : String(max)) {
  const rule = mustBe('a power of two');
  return z.number(rule).int(rule).min(1, rule).max(max, mustBe(`at most ${bound}`)).refine(isPowerOfTwo, rule);
}

/** A Size (bytes, "4KiB") that is a power of two no larger than `max`. */
export function powerOfTwoSize(max: number, bound: string) {
  return Size.refine(isPowerOfTwo, mustBe('a power of two')).refine((v) => v <= max, mustBe(`at most ${bound}`));
}

/** A Size (bytes, "4KiB") from 1 to `max`: a buffer or burst the model allocates by. */
export function sizeUpTo(max: number, bound: string) {
  return Size.refine((v) => v >= 1 && v <= max, mustBe(`a size from 1 byte to ${bound}`));
}

/** Upper bound of a device transaction (a burst): 64 KiB, above AXI4's 256 beats × 128 bytes and PCIe's 4 KiB max payload. */
export const MAX_BURST_BYTES = 64 * 1024;
/** Upper bound of a device's on-chip buffer (FIFO, line buffer): 256 MiB. */
export const MAX_DEVICE_BUFFER_BYTES = 256 * 1024 * 1024;
/** Upper bound of a device's requests in flight: 4096 (the model keeps a slot per request). */
export const MAX_OUTSTANDING = 4096;

/**
 * The model-side check of a spec: parses `params` (only the spec's own fields; a config
 * entry also carries its wiring: name, bus, clock) and returns the resolved parameters
 * with defaults. Configs are validated against the same spec when they are loaded, so a
 * failure here is a bug in socsim (`SimInvariantError` naming `owner` and the field).
 */
export function resolveParams<S extends z.ZodObject>(spec: S, params: object, owner: string): z.output<S> {
  const own: Record<string, unknown> = {};
  for (const key of Object.keys(spec.shape)) {
    if (key in params) own[key] = (params as Record<string, unknown>)[key];
  }
  const r = spec.safeParse(own);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const field = formatJsonPath('', issue.path.map((p) => (typeof p === 'number' ? p : String(p)))).replace(/^\./, '');
  throw new SimInvariantError(`${owner}: ${field ? `${field}: ` : ''}${issue.message}`);
}
