import { ConfigError, formatJsonPath } from '../sim/engine/errors';

/**
 * `--set path=value` overrides (README "Running experiments"). A path starts at `soc` or
 * `scenario` and names array elements by their `name` field
 * (`soc.iommus.iommu.l2Tlb.entries`, `scenario.jobs.rx.packets`); elements without a
 * name are addressed by index (`scenario.init[0].bytes`). Overrides are applied to the
 * JSON as read, before defaults, so the result is validated exactly like a file.
 */
export interface Override {
  /** As typed, e.g. `soc.iommus.iommu.l2Tlb.entries=128`: what errors and records show. */
  readonly text: string;
  readonly root: 'soc' | 'scenario';
  /** Path segments after the root: names, field names, or `[i]` indices (numbers). */
  readonly segments: readonly (string | number)[];
  readonly value: unknown;
}

/** Where override errors point: the override itself stands in for a file name. */
export function overrideLabel(o: Pick<Override, 'text'> | string): string {
  return `--set ${typeof o === 'string' ? o : o.text}`;
}

const SEGMENT_RE = /^([^.[\]]+)?((?:\[\d+\])*)$/;

/**
 * Parses `path=value`. The value is JSON when it parses as JSON (`128`, `true`,
 * `"x"`, `[1,2]`), else the text itself (`16MiB`, `0x8000_0000`, `lru`).
 */
export function parseOverride(text: string): Override {
  const eq = text.indexOf('=');
  const fail = (reason: string): never => {
    throw new ConfigError(overrideLabel(text), 'override', reason);
  };
  if (eq < 0) fail('expected path=value, e.g. soc.iommus.iommu.l2Tlb.entries=128');
  const pathText = text.slice(0, eq).trim();
  const valueText = text.slice(eq + 1).trim();
  if (valueText === '') fail(`no value after "=" (to set a string, write it; to set null, write null)`);
  const parts = pathText.split('.');
  const root = parts.shift();
  if (root !== 'soc' && root !== 'scenario') fail(`the path must start with "soc." or "scenario.", got "${pathText}"`);
  const segments: (string | number)[] = [];
  for (const p of parts) {
    const m = SEGMENT_RE.exec(p);
    if (!m || (m[1] === undefined && m[2] === '')) fail(`bad path segment "${p}" in "${pathText}"`);
    if (m![1] !== undefined) segments.push(m![1]);
    for (const idx of m![2].matchAll(/\[(\d+)\]/g)) segments.push(Number(idx[1]));
  }
  if (segments.length === 0) fail(`name a field under "${root}", e.g. ${root === 'soc' ? 'soc.iommus.iommu.l2Tlb.entries' : 'scenario.jobs.rx.packets'}`);
  return { text, root: root as Override['root'], segments, value: parseValue(valueText) };
}

function parseValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * Applies overrides (all of one root) to a deep copy of `raw` and returns the copy. Objects
 * missing on the way are created (the field may be one with defaults, such as a TLB's
 * spec); a name that matches no element of an array is an error listing the names there.
 * Returns, per override, the JSON path it set (`soc.iommus[0].l2Tlb.entries`), so
 * validation errors can be traced back to the override.
 */
export function applyOverrides(raw: unknown, overrides: readonly Override[]): { data: unknown; paths: string[] } {
  const data = structuredClone(raw);
  const paths = overrides.map((o) => setAt(data, o));
  return { data, paths };
}

function setAt(data: unknown, o: Override): string {
  const resolved: (string | number)[] = [];
  const fail = (reason: string): never => {
    throw new ConfigError(overrideLabel(o), formatJsonPath(o.root, resolved), reason);
  };
  if (!isObject(data)) fail(`the ${o.root} config is not a JSON object`);
  let node = data as Record<string, unknown> | unknown[];
  o.segments.forEach((seg, i) => {
    const last = i === o.segments.length - 1;
    let key: string | number;
    if (Array.isArray(node)) {
      key = elementIndex(node, seg, fail);
    } else {
      if (typeof seg === 'number') fail(`"${formatJsonPath(o.root, resolved)}" is an object, not a list: name a field instead of [${seg}]`);
      key = seg;
    }
    resolved.push(key);
    const container = node as Record<string | number, unknown>;
    // Own properties only, set as data: a path segment such as "__proto__" or
    // "constructor" is a field name like any other (validation refuses unknown fields).
    if (last) {
      setOwn(container, key, o.value);
      return;
    }
    if (!Object.hasOwn(container, key) || container[key] === undefined) setOwn(container, key, {});
    const next = container[key];
    if (!isObject(next) && !Array.isArray(next)) fail(`is ${JSON.stringify(next)}, which has no field "${o.segments[i + 1]}"`);
    node = next as Record<string, unknown> | unknown[];
  });
  return formatJsonPath(o.root, resolved);
}

function setOwn(o: Record<string | number, unknown>, key: string | number, value: unknown): void {
  Object.defineProperty(o, key, { value, writable: true, enumerable: true, configurable: true });
}

/** An array element by `name` (or by index when no element carries that name). */
function elementIndex(list: unknown[], seg: string | number, fail: (r: string) => never): number {
  if (typeof seg === 'string') {
    const i = list.findIndex((e) => isObject(e) && (e as { name?: unknown }).name === seg);
    if (i >= 0) return i;
    const names = list.map((e) => (isObject(e) ? (e as { name?: unknown }).name : undefined)).filter((n): n is string => typeof n === 'string');
    if (names.length === 0) fail(`a list whose elements have no names: address them by index, e.g. [0] (it has ${list.length})`);
    fail(`no element named "${seg}" (names: ${names.join(', ')})`);
  }
  const idx = seg as number;
  if (idx >= list.length) fail(`index [${idx}] is past the end (the list has ${list.length} element${list.length === 1 ? '' : 's'})`);
  return idx;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Every settable path in a parsed config, in `--set` form (arrays of named elements by
 * name, others by index): the candidates for "did you mean".
 */
export function settablePaths(root: string, parsed: unknown): string[] {
  const out: string[] = [];
  const walk = (v: unknown, at: string) => {
    if (Array.isArray(v)) {
      const named = v.every((e) => isObject(e) && typeof e.name === 'string');
      if (!named || v.length === 0) out.push(at);
      v.forEach((e, i) => {
        if (isObject(e) || Array.isArray(e)) walk(e, named ? `${at}.${(e as { name: string }).name}` : `${at}[${i}]`);
      });
    } else if (isObject(v)) {
      for (const [k, child] of Object.entries(v)) walk(child, `${at}.${k}`);
    } else {
      out.push(at);
    }
  };
  walk(parsed, root);
  return out;
}
