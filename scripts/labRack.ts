/**
 * npm run lab -- rack [up|verify|down] [--workers N] [--verbose]
 *
 * The rack lab (docs/lab.md, "The rack lab"): a metal cluster of lab
 * machines, bootstrapped over SSH by the real Pulumi CLI as a user's own
 * machines are, its routers running the cluster's rendered configuration.
 * Its repository (the spec the lab writes with the machines' host keys, the
 * rendered tree) is .lab/rack/repo.
 *
 *   up (default)  the machines, apply over SSH, the cluster; idempotent
 *   verify        the lab's checks on it; exits 1 if any fails
 *   down          pulumi destroy (workers drained, machines reset over SSH),
 *                 then every namespace and process the rack made
 */
import { join } from 'node:path';
import { progressLine, type PhaseReport } from '../lib/phases/phase.js';
import { createLabContext } from '../lib/platforms/lab/lab.js';
import { labVerify } from '../lib/platforms/lab/verify/verify.js';
import { labHostProblem } from '../lib/platforms/lab/host.js';
import { loadSpecFile } from '../lib/repo/workspace.js';
import { rackLabDown, rackLabUp, type RackLabOptions } from '../lib/workflows/rackLab.js';
import { parseCommandLine, repoRoot } from './common.js';

const USAGE = 'npm run lab -- rack [up|verify|down] [--workers N] [--verbose]';

export async function rackMain(argv: readonly string[]): Promise<number> {
  const parsed = parseCommandLine('lab rack', USAGE, argv, { workers: { type: 'string' }, verbose: { type: 'boolean' } });
  const [command = 'up', ...rest] = parsed.positionals;
  if (!['up', 'verify', 'down'].includes(command) || rest.length > 0) {
    console.error(`lab rack: no command "${[command, ...rest].join(' ')}"\nusage: ${USAGE}`);
    return 2;
  }
  const workers = Number(parsed.values.workers ?? '1');
  if (!Number.isInteger(workers) || workers < 0 || workers > 8) {
    console.error(`lab rack: --workers ${parsed.values.workers} is not a whole number from 0 to 8\nusage: ${USAGE}`);
    return 2;
  }
  const codeRoot = repoRoot();
  const host = labHostProblem(join(codeRoot, '.cache', 'bin'));
  if (host && !(command === 'down' && process.getuid?.() === 0)) {
    console.error(`lab rack: ${host}`);
    return 2;
  }
  const o: RackLabOptions = {
    codeRoot,
    dir: join(codeRoot, '.lab', 'rack', 'repo'),
    name: 'rack',
    controlPlanes: 1,
    workers,
    progress: (p: PhaseReport) => console.log(progressLine(p, 24)),
    ...(parsed.values.verbose ? { onOutput: (l: string) => process.stdout.write(l) } : {}),
  };
  if (command === 'down') {
    const r = await rackLabDown(o);
    console.log(`lab rack down: ${r.destroyed ? `stack destroyed (${JSON.stringify(r.destroyed)}), ` : ''}removed ${r.namespaces.length} namespace(s)`);
    return 0;
  }
  if (command === 'verify') {
    const ctx = createLabContext(o.dir, loadSpecFile(o.dir, `infra/${o.name}.yaml`).cluster!);
    const { report, path } = await labVerify(ctx);
    for (const c of report.checks) if (!c.ok) console.log(`✗ ${c.name}: expected ${c.expected}, observed ${c.observed}`);
    for (const n of report.notApplicable) console.log(`- ${n.family}: not applicable: ${n.reason}`);
    console.log(`verify: ${report.passed} passed, ${report.failed} failed`);
    console.log(path);
    return report.ok ? 0 : 1;
  }
  const { ctx, summary } = await rackLabUp(o);
  console.log(`lab rack is up: ${ctx.topology.machines.length} machines bootstrapped over SSH (${JSON.stringify(summary)}); spec and tree in ${o.dir}. Check it: npm run lab -- rack verify. Remove it: npm run lab -- rack down`);
  return 0;
}
