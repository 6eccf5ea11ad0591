/** Levenshtein distance: how "did you mean" suggestions rank candidates (stat names, override paths, scenario names). */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/** The `n` candidates closest to `target` by edit distance (ties by name). */
export function nearest(target: string, candidates: readonly string[], n = 3): string[] {
  return [...new Set(candidates)]
    .map((c) => ({ c, d: editDistance(target, c) }))
    .sort((a, b) => a.d - b.d || (a.c < b.c ? -1 : 1))
    .slice(0, n)
    .map((x) => x.c);
}
