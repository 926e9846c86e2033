/**
 * npm run bench -- validate: what `npm run validate` costs, without the
 * setup and the Go parser check: loading the schema catalog (Kubernetes,
 * Calico and Flux, from .cache/) and validating the committed trees
 * (clusters, apps, policies) against it; median of 5 each, and the
 * validation's cost per object against the catalog's load.
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadCatalog, readTree, realFs, validateTree } from '../../lib/validate/index.js';
import { repoRoot } from '../common.js';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export function benchValidate(): number {
  const root = repoRoot();
  const cache = join(root, '.cache');
  const repeats = 5;
  const loads: number[] = [];
  let catalog;
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    catalog = loadCatalog(cache);
    loads.push(performance.now() - t0);
  }
  const { files } = readTree(['clusters', 'apps', 'policies'].map((p) => join(root, p)));
  const runs: number[] = [];
  let objects = 0;
  let issues = 0;
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    const result = validateTree(files, catalog!, { fs: realFs });
    runs.push(performance.now() - t0);
    objects = result.objects;
    issues = result.issues.length;
  }
  const load = median(loads);
  const run = median(runs);
  console.log(`catalog load (${catalog!.label}): ${load.toFixed(0)} ms (median of ${repeats}: ${loads.map((x) => x.toFixed(0)).join(', ')})`);
  console.log(`validate ${objects} objects in ${files.length} files: ${run.toFixed(1)} ms (median of ${repeats}), ${((run / Math.max(objects, 1)) * 1000).toFixed(0)} µs per object, ${(run / load).toFixed(3)}x the catalog load; ${issues} issue(s)`);
  return issues === 0 ? 0 : 1;
}
