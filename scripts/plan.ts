/**
 * npm run plan -- infra/<cluster>.yaml [...]: prints each cluster's address
 * plan (range, prefix, purpose) and its machines. With no argument, every
 * spec under infra/. Exits 1 with every problem found on a bad spec.
 */
import { relative, resolve } from 'node:path';
import { machineRows, planRows } from '../lib/plan/addressPlan.js';
import { textTable } from '../lib/plan/table.js';
import { relativeNote } from '../lib/plan/relativeText.js';
import { FACTS_FILE } from '../lib/render/tree.js';
import { platformOf } from '../lib/platforms/index.js';
import { loadSpecFile, specFiles } from '../lib/repo/workspace.js';
import { formatProblem } from '../lib/cluster/problems.js';
import { parseCommandLine, repoRoot } from './common.js';

const root = repoRoot();
const args = parseCommandLine('plan', 'npm run plan [-- infra/<cluster>.yaml …]', process.argv.slice(2), {}).positionals;
const files = args.length > 0 ? args.map((a) => relative(root, resolve(process.env.INIT_CWD ?? process.cwd(), a))) : specFiles(root);
if (files.length === 0) {
  console.error('plan: no cluster specs found under infra/; pass one: npm run plan -- infra/<cluster>.yaml');
  process.exit(2);
}
let failed = 0;
for (const file of files) {
  const { cluster, problems } = loadSpecFile(root, file);
  if (!cluster) {
    failed++;
    for (const p of problems) console.error(formatProblem(p));
    console.error(`plan: ${file}: ${problems.length} problem(s)`);
    continue;
  }
  const { spec, plan } = cluster;
  console.log(`${spec.name} (${platformOf(spec).describe(spec)}, Kubernetes ${spec.kubernetesVersion}) from ${cluster.sources.join(' and ')}`);
  console.log('');
  console.log(textTable(planRows(plan), ['range', 'prefix', 'purpose']));
  console.log('');
  const note = relativeNote(plan, `the provider (${platformOf(spec).describe(spec)})`, `clusters/${spec.name}/${FACTS_FILE}`);
  if (note) console.log(`${note}\n`);
  console.log(textTable(machineRows(plan), ['machine', 'role', 'plan', 'address', 'gateway']));
  console.log('');
}
process.exit(failed > 0 ? 1 : 0);
