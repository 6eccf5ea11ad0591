/** Seeds are integers in [0, 2^32): the RNG's seed word. */
const SEED_LIMIT = 2 ** 32;

/** A seed as typed on the command line, or null when it is not one (a yargs number would turn "abc" into NaN). */
export function parseSeed(text: string): number | null {
  const n = Number(text);
  return /^\s*\d+\s*$/.test(text) && n < SEED_LIMIT ? n : null;
}
