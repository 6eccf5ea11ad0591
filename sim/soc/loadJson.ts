import type { z } from 'zod';
import { ConfigError, formatJsonPath } from '../engine/errors';
import { InputFileError, MAX_JSON_INPUT_BYTES, readInputText } from '../engine/inputFile';

/**
 * Reads and parses a JSON file; a missing file, one that is not a regular file or is
 * above MAX_JSON_INPUT_BYTES, or a syntax error is a ConfigError.
 */
export function readJsonFile(file: string, root: string): unknown {
  let text: string;
  try {
    text = readInputText(file, MAX_JSON_INPUT_BYTES);
  } catch (e) {
    if (!(e instanceof InputFileError)) throw e;
    throw new ConfigError(file, root, `cannot read file: ${e.reason}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ConfigError(file, root, `not valid JSON: ${(e as Error).message}`);
  }
}

/**
 * Validates `data` against `schema`. Every problem is reported with its JSON path under
 * `root` (e.g. `soc.memories[0].size`); the first becomes the error's path.
 */
export function parseWithSchema<S extends z.ZodType>(schema: S, data: unknown, file: string, root: string): z.output<S> {
  const proto = protoKeyPath(data, []);
  if (proto !== null) {
    throw new ConfigError(file, formatJsonPath(root, proto), 'a key "__proto__" is not allowed: validation would drop it without a word (zod leaves it out of records and objects)');
  }
  const r = schema.safeParse(data);
  if (r.success) return r.data;
  const problems = r.error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      const keys = issue.keys;
      return { path: formatJsonPath(root, [...issue.path.map(pathPart), keys[0]]), reason: `unknown field${keys.length > 1 ? 's' : ''} ${keys.map((k) => JSON.stringify(k)).join(', ')}` };
    }
    // A bad record key (a clock name) says what is wrong with the name, not just "Invalid key in record".
    const reason = issue.code === 'invalid_key' && issue.issues[0] ? `bad name: ${issue.issues[0].message}` : issue.message;
    return { path: formatJsonPath(root, issue.path.map(pathPart)), reason };
  });
  const [first, ...rest] = problems;
  throw new ConfigError(file, first.path, first.reason, rest.map((p) => `${p.path}: ${p.reason}`));
}

function pathPart(p: PropertyKey): string | number {
  return typeof p === 'number' ? p : String(p);
}

/**
 * The path of the first own "__proto__" key in `value`, or null. zod drops such a key
 * from its output without an issue (a guard against prototype pollution), so a sweep
 * axis `--grid __proto__=1,2` ran a single point and a clock named "__proto__" vanished.
 */
function protoKeyPath(value: unknown, at: (string | number)[]): (string | number)[] | null {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const p = protoKeyPath(value[i], [...at, i]);
      if (p !== null) return p;
    }
  } else if (value !== null && typeof value === 'object') {
    if (Object.hasOwn(value, '__proto__')) return [...at, '__proto__'];
    for (const [k, v] of Object.entries(value)) {
      const p = protoKeyPath(v, [...at, k]);
      if (p !== null) return p;
    }
  }
  return null;
}
