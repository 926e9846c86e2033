/**
 * npm run lab [-- up|verify|reboot|replace <machine>|down|phases|phase <name>…] [infra/<cluster>.yaml] [--only a,b] [--skip a,b] [--keep] [--verbose]
 *
 *   up (default)  build the lab from the spec (platform: lab): provider routers,
 *                 internet, machines, BGP, Kubernetes, Calico; then Flux, which
 *                 reconciles clusters/<name>/ from the lab's git server (this
 *                 repository's HEAD pushed there); idempotent
 *   verify        check what is up; writes a JSON report, prints its path last;
 *                 exits 1 if any check fails
 *   reboot        switch every machine off at once (every process killed, its
 *                 kernel state lost, its disk kept) and on again, as a power
 *                 cut does; wait until the lab is back by itself (then verify)
 *   replace <m>   replace machine <m> in place: off, its disk gone, a new machine
 *                 with its name and address booted from its user-data, which
 *                 joins the cluster by itself (then verify)
 *   down          remove every namespace and process the lab made
 *   phases        list the phases of `up` and their groups
 *   phase <name>… run those phases (or groups) on a running lab, e.g. `phase flux`
 *   rack …        the rack lab: a metal cluster of lab machines over SSH (scripts/labRack.ts)
 *
 * --only and --skip take phases or groups (network, kubernetes, flux): `up
 * --skip flux` builds the lab without Flux. A failed `up` names the phase and
 * the log file, and removes what it built unless --keep is given (or only
 * some phases were asked for).
 */
import { join } from 'node:path';
import { textTable } from '../lib/plan/table.js';
import { PhaseError, PhaseSelectionError, phaseSlug, progressLine, selectPhases, type PhaseReport } from '../lib/phases/phase.js';
import { CODE_ROOT } from '../lib/platforms/lab/codeRoot.js';
import { createLabContext, labDown, runLabPhases } from '../lib/platforms/lab/lab.js';
import { labVerify } from '../lib/platforms/lab/verify/verify.js';
import { replaceMachine, restartAll } from '../lib/platforms/lab/machine/power.js';
import { LAB_PHASE_GROUPS, LAB_PHASES } from '../lib/platforms/lab/phases.js';
import { createRunner } from '../lib/exec/run.js';
import { LAB } from '../lib/platforms/lab/rules.js';
import { labHostProblem } from '../lib/platforms/lab/host.js';
import { kernelRoutes, nextHops } from '../lib/platforms/lab/verify/probes.js';
import { loadSpecFile } from '../lib/repo/workspace.js';
import { formatProblem } from '../lib/cluster/problems.js';
import { parseCommandLine, repoRoot } from './common.js';

const USAGE = 'usage: npm run lab [-- up|verify|reboot|replace <machine>|down|phases|phase <name>…] [infra/<cluster>.yaml] [--only a,b] [--skip a,b] [--keep] [--verbose]';
const COMMANDS = ['up', 'verify', 'reboot', 'replace', 'down', 'phases', 'phase'];

function usage(problem: string): never {
  console.error(`lab: ${problem}\n${USAGE}`);
  process.exit(2);
}

// The rack lab (a metal cluster over SSH) has its own commands: scripts/labRack.ts.
if (process.argv[2] === 'rack') {
  const { rackMain } = await import('./labRack.js');
  process.exit(await rackMain(process.argv.slice(3)));
}

// --no-flux was the flag before the phases could be chosen.
const parsed = parseCommandLine(
  'lab',
  USAGE.replace(/^usage: /, ''),
  process.argv.slice(2),
  { only: { type: 'string', multiple: true }, skip: { type: 'string', multiple: true }, keep: { type: 'boolean' }, verbose: { type: 'boolean' } },
  process.argv.includes('--no-flux') ? ' (--no-flux is now --skip flux)' : '',
);
const words = (list: readonly string[] | undefined) => (list ?? []).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
const root = repoRoot();
const positional = parsed.positionals;
const file = positional.find((a) => a.endsWith('.yaml')) ?? 'infra/lab.yaml';
const [command = 'up', ...names] = positional.filter((a) => !a.endsWith('.yaml'));
if (!COMMANDS.includes(command)) usage(`no command "${command}"`);
if (command === 'replace' && names.length !== 1) usage('replace takes one machine, e.g. `replace lab-cp-1`');
if (command !== 'phase' && command !== 'replace' && names.length > 0) usage(`"${command}" takes no names (${names.join(' ')})`);
if (command === 'phase' && names.length === 0) usage('phase: name the phases or groups to run (npm run lab -- phases lists them)');
if (command !== 'up' && (parsed.values.only || parsed.values.skip)) usage('--only and --skip go with up');

if (command === 'phases') {
  const groupOf = (name: string) => Object.entries(LAB_PHASE_GROUPS).find(([, ps]) => ps.some((p) => p.name === name))?.[0] ?? '';
  console.log(textTable(LAB_PHASES.map((p) => ({ phase: phaseSlug(p.name), group: groupOf(p.name), name: p.name })), ['phase', 'group', 'name']));
  process.exit(0);
}

let phases: typeof LAB_PHASES;
try {
  phases = selectPhases(LAB_PHASES, LAB_PHASE_GROUPS, command === 'phase' ? { only: words(names) } : { only: words(parsed.values.only), skip: words(parsed.values.skip) });
} catch (e) {
  if (e instanceof PhaseSelectionError) usage(e.message);
  throw e;
}
const partial = phases.length < LAB_PHASES.length;
const flags = { keep: parsed.values.keep === true, verbose: parsed.values.verbose === true };

const { cluster, problems } = loadSpecFile(root, file);
if (!cluster) {
  for (const p of problems) console.error(formatProblem(p));
  process.exit(1);
}
if (cluster.spec.platform !== LAB) {
  console.error(`lab: ${file} is an ${cluster.spec.platform} cluster; the lab runs specs with "platform: ${LAB}"`);
  process.exit(2);
}
const host = labHostProblem(join(CODE_ROOT, '.cache', 'bin'));
// down needs only root (setup's programs are not used to take the lab down).
if (host && !(command === 'down' && process.getuid?.() === 0)) {
  console.error(`lab: ${host}`);
  process.exit(2);
}

const tty = process.stdout.isTTY;
function progress(p: PhaseReport): void {
  const line = progressLine(p, 24);
  console.log(tty ? `\r\x1b[K${line}` : line);
}

if (command === 'down') {
  const removed = await labDown(createRunner(), root, cluster.spec.name, flags.keep);
  console.log(`lab down: removed ${removed.length} namespace(s) and every process in them${removed.length ? `: ${removed.join(' ')}` : ''}`);
  process.exit(0);
}

const ctx = createLabContext(root, cluster, { verbose: flags.verbose });

if (command === 'reboot') {
  const figures = await restartAll(ctx);
  console.log(`lab reboot: ${ctx.topology.machines.length} machines switched off at once (${figures.killed} processes killed) and on; back by itself in ${(figures.backMs / 1000).toFixed(1)} s (every BGP session, every kubelet, the API through its ClusterIP). Check it: npm run lab -- verify`);
  process.exit(0);
}

if (command === 'replace') {
  const m = ctx.topology.machines.find((x) => x.machine.name === names[0]);
  if (!m) usage(`${file} has no machine "${names[0]}" (machines: ${ctx.topology.machines.map((x) => x.machine.name).join(', ')})`);
  const figures = await replaceMachine(ctx, m);
  console.log(`lab replace: ${m.machine.name} switched off (${figures.killed} processes killed), its disk gone; the new machine booted from its user-data and joined by itself in ${figures.joinedS.toFixed(1)} s. Check it: npm run lab -- verify`);
  process.exit(0);
}

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
  await runLabPhases(ctx, phases, progress);
} catch (e) {
  if (e instanceof PhaseError) {
    console.error(`lab: ${e.message}`);
    if (!flags.keep && !partial) {
      await labDown(createRunner(), root, cluster.spec.name);
      console.error('lab: removed what was built (use --keep to leave it for inspection)');
    }
    process.exit(1);
  }
  throw e;
}
if (command === 'phase') process.exit(0);

const t = ctx.topology;
console.log('');
console.log(
  textTable(
    [
      ...t.routers.map((r) => ({ name: r.ns, role: 'provider router', address: `${r.peerIP} (BGP, AS ${cluster.spec.network.peerASN})` })),
      { name: t.internet.ns, role: 'internet', address: `${t.internet.client} (client), ${t.internet.metadata} (metadata)` },
      ...t.machines.map((m) => ({ name: m.ns, role: m.machine.role, address: `${m.address}/${m.prefixLength} via ${m.gateway}` })),
    ],
    ['name', 'role', 'address'],
  ),
);
console.log('');
const first = t.routers[0]!;
console.log(`routes on ${first.ns}:`);
for (const route of await kernelRoutes(ctx.runner, first.ns)) {
  if (route.protocol !== 'bgp') continue;
  console.log(`  ${route.dst.padEnd(28)} via ${nextHops(route).join(', ')}`);
}
console.log('');
console.log(`lab ${cluster.spec.name} is up. Logs and state: ${ctx.paths.root}. Check it: npm run lab -- verify. Remove it: npm run lab -- down`);
