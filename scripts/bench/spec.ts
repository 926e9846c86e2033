/**
 * npm run bench -- spec: what the spec decoder costs on a hostile file
 * (review security-2026-12 L1): a spec with 10,000 to 40,000 unknown keys
 * under `spec:`, decoded with the size limit lifted (so the decoder itself
 * is measured past it), against the parser's own repeated-key check
 * (uniqueKeys: true, what the decoder used before, quadratic in a mapping's
 * size); the parse alone, as the decoder now parses; and what the limit
 * costs a file over it (the refusal, before any parse). Median of 3, the
 * old check once per size (it is slow). Exit 1 when the decoder did not
 * report every key, or the limit did not refuse the large file.
 */
import { performance } from 'node:perf_hooks';
import { parseAllDocuments } from 'yaml';
import { decodeCluster, SPEC_MAX_BYTES } from '../../lib/cluster/decode.js';
import { platformRules } from '../../lib/platforms/index.js';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function hostile(keys: number): string {
  const head = ['apiVersion: native6.dev/v1alpha1', 'kind: Cluster', 'metadata:', '  name: x', 'spec:', '  platform: lab', '  kubernetesVersion: v1.35.4'];
  return `${[...head, ...Array.from({ length: keys }, (_, i) => `  k${String(i).padStart(6, '0')}: 1`)].join('\n')}\n`;
}

function time(fn: () => unknown): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

export function benchSpec(): number {
  const repeats = 3;
  console.log(`spec files of N unknown keys under spec: (the limit is ${SPEC_MAX_BYTES / 1024} KiB)`);
  console.log('');
  console.log('   keys      size  decodeCluster, limit lifted (median of 3)  per key   problems  of which the parse (uniqueKeys: false)  parser with uniqueKeys: true (once)');
  let ok = true;
  const rows: Array<{ keys: number; ms: number }> = [];
  for (const keys of [10_000, 20_000, 40_000]) {
    const text = hostile(keys);
    const bytes = Buffer.byteLength(text);
    let problems = 0;
    const ms = median(
      Array.from({ length: repeats }, () =>
        time(() => {
          const r = decodeCluster('infra/x.yaml', text, platformRules, { expectName: 'x', maxBytes: Number.POSITIVE_INFINITY });
          problems = r.ok ? 0 : r.problems.length;
        }),
      ),
    );
    // Every key is unknown (one problem each), and the lab spec lacks its block (one more): else the decoder did not read them all.
    if (problems !== keys + 1) ok = false;
    const parse = median(Array.from({ length: repeats }, () => time(() => parseAllDocuments(text, { uniqueKeys: false }))));
    const old = time(() => parseAllDocuments(text, { uniqueKeys: true }));
    rows.push({ keys, ms });
    console.log(
      `${String(keys).padStart(7)}  ${`${(bytes / 1024).toFixed(0)} KiB`.padStart(8)}  ${`${ms.toFixed(0)} ms`.padStart(41)}  ${`${((ms * 1000) / keys).toFixed(1)} µs`.padStart(8)}  ${String(problems).padStart(9)}  ${`${parse.toFixed(0)} ms`.padStart(33)}  ${`${old.toFixed(0)} ms`.padStart(35)}`,
    );
  }
  const [first, last] = [rows[0]!, rows[rows.length - 1]!];
  console.log('');
  console.log(`4x the keys: ${(last.ms / first.ms).toFixed(1)}x the decode time (linear would be 4x, quadratic 16x)`);
  const big = hostile(40_000);
  let refused = '';
  const refusal = median(
    Array.from({ length: repeats }, () =>
      time(() => {
        const r = decodeCluster('infra/x.yaml', big, platformRules, { expectName: 'x' });
        refused = r.ok ? 'decoded' : r.problems.map((p) => p.message).join('; ');
      }),
    ),
  );
  console.log(`the 40,000-key file with the limit: refused in ${refusal.toFixed(2)} ms (median of 3): ${refused}`);
  if (!refused.includes('limit')) ok = false;
  return ok ? 0 : 1;
}
