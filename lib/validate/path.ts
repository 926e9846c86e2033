// Field paths as printed in issues: `spec.ports[0].targetPort`,
// `metadata.labels["app.kubernetes.io/name"]`.

export type PathSegment = string | number;

const PLAIN = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

export function formatPath(segments: readonly PathSegment[]): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (PLAIN.test(s)) out += out === '' ? s : `.${s}`;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}

/** Inverse of formatPath. Throws on text formatPath cannot produce. */
export function parsePath(path: string): PathSegment[] {
  const out: PathSegment[] = [];
  let i = 0;
  const fail = (): never => {
    throw new Error(`bad field path ${JSON.stringify(path)} at ${i}`);
  };
  while (i < path.length) {
    const c = path[i];
    if (c === '[') {
      if (path[i + 1] === '"') {
        // JSON string up to the matching unescaped quote.
        let j = i + 2;
        while (j < path.length && path[j] !== '"') j += path[j] === '\\' ? 2 : 1;
        if (path[j + 1] !== ']') fail();
        out.push(JSON.parse(path.slice(i + 1, j + 1)) as string);
        i = j + 2;
      } else {
        const j = path.indexOf(']', i);
        if (j < 0) fail();
        const n = Number(path.slice(i + 1, j));
        if (!Number.isInteger(n) || n < 0) fail();
        out.push(n);
        i = j + 1;
      }
    } else {
      if (c === '.') {
        if (out.length === 0) fail();
        i++;
      }
      const m = /^[A-Za-z_$][A-Za-z0-9_$-]*/.exec(path.slice(i));
      if (!m) fail();
      out.push(m![0]);
      i += m![0].length;
    }
  }
  return out;
}
