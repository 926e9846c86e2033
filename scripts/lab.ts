/**
 * npm run lab [-- up|verify|down] [infra/<cluster>.yaml] [--keep] [--verbose] [--no-flux]
 *
 *   up (default)  build the lab from the spec (platform: lab): provider routers,
 *                 internet, machines, BGP, Kubernetes, Calico; then Flux, which
 *                 reconciles clusters/<name>/ from the lab's git server (this
 *                 repository's HEAD pushed there; --no-flux skips it); idempotent
 *   verify        check what is up; writes a JSON report, prints its path last;
 *                 exits 1 if any check fails
 *   down          remove every namespace and process the lab made
 *
 * A failed `up` names the phase and the log file, and removes what it built
 * unless --keep is given.
 */
import { textTable } from '../lib/plan/table.js';
import { PhaseError, type PhaseReport } from '../lib/phases/phase.js';
import { createLabContext, labDown, runLabPhases } from '../lib/platforms/lab/lab.js';
import { labVerify } from '../lib/platforms/lab/verify.js';
import { UP_PHASES } from '../lib/platforms/lab/phases.js';
import { FLUX_PHASES } from '../lib/platforms/lab/flux.js';
import { createRunner } from '../lib/platforms/lab/exec.js';
import { LAB } from '../lib/platforms/lab/rules.js';
import { kernelRoutes, nextHops } from '../lib/platforms/lab/verify/probes.js';
import { loadSpecFile } from '../lib/repo/workspace.js';
import { formatProblem } from '../lib/spec/problems.js';
import { repoRoot } from './common.js';

const root = repoRoot();
const args = process.argv.slice(2);
const flags = new Set(args.filter((a) => a.startsWith('--')));
const positional = args.filter((a) => !a.startsWith('--'));
const command = positional.find((a) => !a.endsWith('.yaml')) ?? 'up';
const file = positional.find((a) => a.endsWith('.yaml')) ?? 'infra/lab.yaml';
const unknown = [...flags].filter((f) => !['--keep', '--verbose', '--no-flux'].includes(f));
if (!['up', 'verify', 'down'].includes(command) || unknown.length > 0) {
  console.error(`lab: usage: npm run lab [-- up|verify|down] [infra/<cluster>.yaml] [--keep] [--verbose] [--no-flux]`);
  process.exit(2);
}

const { cluster, problems } = loadSpecFile(root, file);
if (!cluster) {
  for (const p of problems) console.error(formatProblem(p));
  process.exit(1);
}
if (cluster.spec.platform !== LAB) {
  console.error(`lab: ${file} is an ${cluster.spec.platform} cluster; the lab runs specs with "platform: ${LAB}"`);
  process.exit(2);
}
if (process.getuid?.() !== 0) {
  console.error('lab: the lab makes network namespaces and must run as root');
  process.exit(2);
}

const tty = process.stdout.isTTY;
function progress(p: PhaseReport): void {
  const mark = p.ok ? '✓' : '✗';
  const line = `${mark} ${p.name.padEnd(24)} ${p.note} (${(p.ms / 1000).toFixed(1)}s)`;
  console.log(tty ? `\r\x1b[K${line}` : line);
}

if (command === 'down') {
  const removed = await labDown(createRunner(), root, cluster.spec.name, flags.has('--keep'));
  console.log(`lab down: removed ${removed.length} namespace(s) and every process in them${removed.length ? `: ${removed.join(' ')}` : ''}`);
  process.exit(0);
}

const ctx = createLabContext(root, cluster, { verbose: flags.has('--verbose') });

if (command === 'verify') {
  const { report, path } = await labVerify(ctx);
  for (const c of report.checks) if (!c.ok) console.log(`✗ ${c.name}: expected ${c.expected}, observed ${c.observed}`);
  for (const n of report.notApplicable) console.log(`- ${n.family}: not applicable: ${n.reason}`);
  console.log(`verify: ${report.passed} passed, ${report.failed} failed, ${report.notApplicable.length} famil${report.notApplicable.length === 1 ? 'y' : 'ies'} not applicable`);
  console.log(path);
  process.exit(report.ok ? 0 : 1);
}

try {
  // Flux reconciles clusters/<name>/ from the lab's git server (this repository's HEAD pushed there).
  await runLabPhases(ctx, flags.has('--no-flux') ? UP_PHASES : [...UP_PHASES, ...FLUX_PHASES], progress);
} catch (e) {
  if (e instanceof PhaseError) {
    console.error(`lab: ${e.message}`);
    if (!flags.has('--keep')) {
      await labDown(createRunner(), root, cluster.spec.name);
      console.error('lab: removed what was built (use --keep to leave it for inspection)');
    }
    process.exit(1);
  }
  throw e;
}

const t = ctx.topology;
console.log('');
console.log(
  textTable(
    [
      ...t.routers.map((r) => ({ name: r.ns, role: 'provider router', address: `${r.peerIP} (BGP, AS ${cluster.spec.network.peerASN})` })),
      { name: t.internet.ns, role: 'internet', address: `${t.internet.client} (client), ${t.internet.metadata} (metadata)` },
      ...t.machines.map((m) => ({ name: m.ns, role: m.machine.role, address: `${m.address}/127 via ${m.gateway}` })),
    ],
    ['name', 'role', 'address'],
  ),
);
console.log('');
console.log(`routes on ${t.routers[0].ns}:`);
for (const route of await kernelRoutes(ctx.runner, t.routers[0].ns)) {
  if (route.protocol !== 'bgp') continue;
  console.log(`  ${route.dst.padEnd(28)} via ${nextHops(route).join(', ')}`);
}
console.log('');
console.log(`lab ${cluster.spec.name} is up. Logs and state: ${ctx.paths.root}. Check it: npm run lab -- verify. Remove it: npm run lab -- down`);
