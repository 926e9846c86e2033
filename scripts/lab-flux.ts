/**
 * Flux, for real, on a running lab (after `npm run lab`):
 *
 *   npx tsx scripts/lab-flux.ts [infra/<cluster>.yaml] [--verbose]
 *
 * starts the lab's git server, pushes this repository's HEAD to it, installs
 * Flux (the controllers `npm run setup` built, as processes on the first
 * control plane), waits until every Kustomization is Ready at that commit,
 * and shows that Flux applied the tree: the field managers of an object of
 * each Kustomization (kustomize-controller among them). Idempotent: run it
 * again after a commit to see Flux follow. Exits 1 on a failed phase, naming
 * the Kustomizations that are not Ready and why.
 */
import { PhaseError, type PhaseReport } from '../lib/phases/phase.js';
import { createLabContext, runLabPhases } from '../lib/platforms/lab/lab.js';
import { LAB } from '../lib/platforms/lab/rules.js';
import { fieldManagers, FLUX_PHASES } from '../lib/platforms/lab/flux.js';
import { labAdminClient } from '../lib/platforms/lab/verify/probes.js';
import { loadSpecFile } from '../lib/repo/workspace.js';
import { formatProblem } from '../lib/spec/problems.js';
import { repoRoot } from './common.js';

const root = repoRoot();
const args = process.argv.slice(2);
const file = args.find((a) => a.endsWith('.yaml')) ?? 'infra/lab.yaml';
const { cluster, problems } = loadSpecFile(root, file);
if (!cluster) {
  for (const p of problems) console.error(formatProblem(p));
  process.exit(1);
}
if (cluster.spec.platform !== LAB || process.getuid?.() !== 0) {
  console.error(`lab-flux: needs a lab spec ("platform: ${LAB}") and root`);
  process.exit(2);
}

const ctx = createLabContext(root, cluster, { verbose: args.includes('--verbose') });
const t0 = Date.now();
try {
  await runLabPhases(ctx, FLUX_PHASES, (p: PhaseReport) => console.log(`${p.ok ? '✓' : '✗'} ${p.name.padEnd(24)} ${p.note} (${(p.ms / 1000).toFixed(1)}s)`));
} catch (e) {
  console.error(`lab-flux: ${e instanceof PhaseError ? e.message : (e as Error).message}`);
  process.exit(1);
}
console.log(`lab-flux: Flux reconciled clusters/${cluster.spec.name} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

const admin = labAdminClient(ctx);
const owned: Array<[string, string]> = [
  ['fabric: IPPool pods', '/apis/crd.projectcalico.org/v1/ippools/pods'],
  ['policies: GlobalNetworkPolicy baseline-default-deny', '/apis/crd.projectcalico.org/v1/globalnetworkpolicies/baseline-default-deny'],
  ['apps: NetworkPolicy echo/echo-public-ingress', '/apis/networking.k8s.io/v1/namespaces/echo/networkpolicies/echo-public-ingress'],
  ['apps: Deployment echo/echo', '/apis/apps/v1/namespaces/echo/deployments/echo'],
];
for (const [what, path] of owned) console.log(`${what}: ${(await fieldManagers(admin, path)).join(', ')}`);
