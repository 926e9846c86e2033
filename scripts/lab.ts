/**
 * npm run lab [-- verify|down]: the lab, the project's embedded default.
 *
 * The lab's machinery (routers, machines, control plane, verify) is the
 * subject of the lab issue and has not landed yet. Until it does, this
 * command prints the plan the lab will build, and `verify`/`down` say
 * plainly that there is nothing to verify or remove.
 */
import { machineRows, planRows } from '../lib/plan/addressPlan.js';
import { textTable } from '../lib/plan/table.js';
import { loadSpecFile } from '../lib/repo/workspace.js';
import { formatProblem } from '../lib/spec/problems.js';
import { repoRoot } from './common.js';

const root = repoRoot();
const [command = 'up', ...rest] = process.argv.slice(2);
const file = rest.find((a) => a.endsWith('.yaml')) ?? 'infra/lab.yaml';

if (command === 'verify' || command === 'down') {
  console.error(`lab ${command}: the lab is not built yet (it lands with the lab issue); nothing is running, so there is nothing to ${command === 'verify' ? 'verify' : 'remove'}.`);
  process.exit(command === 'verify' ? 1 : 0);
}
if (command !== 'up') {
  console.error(`lab: unknown command "${command}"; use: npm run lab [-- verify|down]`);
  process.exit(2);
}
const { cluster, problems } = loadSpecFile(root, file);
if (!cluster) {
  for (const p of problems) console.error(formatProblem(p));
  process.exit(1);
}
if (cluster.spec.platform !== 'lab') {
  console.error(`lab: ${file} is an ${cluster.spec.platform} cluster; the lab runs specs with "platform: lab"`);
  process.exit(2);
}
console.log(`lab: the lab's bring-up has not landed yet; this is the fabric it will build from ${file}:\n`);
console.log(textTable(planRows(cluster.plan), ['range', 'prefix', 'purpose']));
console.log('');
console.log(textTable(machineRows(cluster.plan), ['machine', 'role', 'address', 'gateway']));
