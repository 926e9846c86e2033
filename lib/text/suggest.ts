/**
 * Suggesting the name a user meant: for unknown fields in a spec, unknown
 * kinds and fields in a manifest.
 */

/**
 * Up to `max` names close to `name`: the nearest by edit distance
 * (case-insensitive) if any is near enough, else names containing it or
 * contained in it.
 */
export function closestNames(name: string, names: Iterable<string>, max: number): string[] {
  const lower = name.toLowerCase();
  const near: [number, string][] = [];
  const contains: string[] = [];
  for (const n of names) {
    const other = n.toLowerCase();
    const d = editDistance(lower, other);
    const limit = Math.max(1, Math.min(3, Math.floor(Math.max(lower.length, other.length) / 3)));
    if (d <= limit) near.push([d, n]);
    else if ((lower.length >= 4 && other.includes(lower)) || (other.length >= 4 && lower.includes(other))) contains.push(n);
  }
  if (near.length > 0) {
    const best = Math.min(...near.map(([d]) => d));
    return near
      .filter(([d]) => d === best)
      .map(([, n]) => n)
      .sort()
      .slice(0, max);
  }
  return contains.sort().slice(0, max);
}

/** Edit distance counting an adjacent swap as one edit (optimal string alignment). */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    const row: number[] = [i];
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        row.push(j);
        continue;
      }
      const up = rows[i - 1]!;
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(up[j]! + 1, row[j - 1]! + 1, up[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      row.push(d);
    }
    rows.push(row);
  }
  return rows[a.length]![b.length]!;
}
