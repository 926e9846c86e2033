/**
 * npm run render: re-renders every cluster under infra/ into clusters/<name>/
 * and the shared policies/ and apps/ trees. Writes only what changed; refuses
 * to write anything when any spec has a problem.
 */
import { join } from 'node:path';
import { pinnedInputs, loadAll, ownedDirs, renderAll, writeTree } from '../lib/repo/workspace.js';
import { formatProblem } from '../lib/cluster/problems.js';
import { repoRoot } from './common.js';

const root = repoRoot();
const { clusters, problems, pending } = loadAll(root);
for (const file of pending) console.log(`render: ${file}: nothing yet, its block is only a size until apply records the provider's (then apply renders it)`);
if (problems.length > 0) {
  for (const p of problems) console.error(formatProblem(p));
  console.error(`render: ${problems.length} problem(s); nothing was written`);
  process.exit(1);
}
let flux;
try {
  flux = pinnedInputs(join(root, '.cache'));
} catch (e) {
  console.error(`render: ${(e as Error).message}; nothing was written`);
  process.exit(1);
}
const result = writeTree(root, renderAll(clusters, flux), ownedDirs(clusters));
for (const f of result.written) console.log(`wrote   ${f}`);
for (const f of result.removed) console.log(`removed ${f}`);
console.log(`render: ${clusters.length} cluster(s) (${clusters.map((c) => c.spec.name).join(', ')}): ${result.written.length} written, ${result.removed.length} removed, ${result.unchanged} unchanged`);
