/** Schema patterns (Go RE2 syntax upstream) as JavaScript regular expressions. */

const patternCache = new Map<string, RegExp | undefined>();

/**
 * Compiles a schema pattern. Upstream patterns are Go (RE2) regular
 * expressions; the ones in use are ECMAScript-compatible except for a
 * leading flag group such as `(?i)`, which becomes a RegExp flag.
 */
export function compilePattern(pattern: string): RegExp | undefined {
  if (patternCache.has(pattern)) return patternCache.get(pattern);
  let src = pattern;
  let flags = '';
  let m: RegExpExecArray | null;
  // Leading flag groups, possibly after a `^`: `(?i)^…` or `^(?i)…`.
  let anchor = '';
  if (src.startsWith('^(?')) {
    anchor = '^';
    src = src.slice(1);
  }
  while ((m = /^\(\?([ims]+)\)/.exec(src)) !== null) {
    for (const f of m[1]!) if (!flags.includes(f)) flags += f;
    src = src.slice(m[0].length);
  }
  src = anchor + src.replace(/\\z/g, '$').replace(/\\A/g, '^');
  let re: RegExp | undefined;
  try {
    re = new RegExp(src, flags);
  } catch {
    re = undefined;
  }
  patternCache.set(pattern, re);
  return re;
}
