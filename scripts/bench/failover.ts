/**
 * npm run bench -- failover: how long a hung node's routes stay on the
 * routers, with BFD on the nodes' sessions (the spec's default on the lab:
 * 100 ms × 3, both ends) against BGP's hold timers alone, in one run, each
 * on a 3 + 2 lab of its own ("failover", in a temporary repository, the
 * spec saying the variant: bfd, holdTime):
 *   - a node hung = every process on it stopped (SIGSTOP, not kill: a killed
 *     process closes its TCP sessions at once and proves nothing), three
 *     nodes a third of a keepalive apart so the samples are not one event
 *     seen thrice, resumed whatever happens (scripts/bench/withdrawal.ts);
 *   - the time from the stop until neither router has a route through the
 *     node (its pod block, the Service range's ECMP path, Local /128s);
 *   - rounds until at least 6 samples (`failover all` adds a 180 s hold: 3
 *     samples, minutes each),
 *     the node's sessions back up between rounds; median and worst printed,
 *     and the ratios against BFD;
 *   - then what a client sees (lib/platforms/lab/verify/clientView.ts): a
 *     worker with an echo pod hung while the internet's client streams new
 *     and established connections to echo-cluster and echo-local, until the
 *     pod left the endpoints: the share failed, the last failure, the
 *     established connections broken.
 * Needs root and `npm run setup`. Removes everything it made, even on failure.
 */
import { join } from 'node:path';
import { createRunner, type Runner } from '../../lib/exec/run.js';
import { CODE_ROOT } from '../../lib/platforms/lab/codeRoot.js';
import { createLabContext, labDown, runLabPhases, sessionEstablished, sessionHealth, type LabContext } from '../../lib/platforms/lab/lab.js';
import { labHostProblem } from '../../lib/platforms/lab/host.js';
import { UP_PHASES } from '../../lib/platforms/lab/phases.js';
import { waitUntil } from '../../lib/phases/wait.js';
import { scratchCluster } from '../../lib/repo/scratch.js';
import { withdrawalTimes } from './withdrawal.js';
import { measureClientView } from '../../lib/platforms/lab/verify/clientView.js';
import { clientViewLines, type ClientView } from '../../lib/platforms/lab/verify/clientViewSummary.js';
import { labAdminClient } from '../../lib/platforms/lab/verify/probes.js';

interface Variant {
  readonly name: string;
  /** spec.network's lines for it. */
  readonly network: Readonly<Record<string, string>>;
  readonly samples: number;
}

const VARIANTS: readonly Variant[] = [
  { name: 'BFD 100 ms × 3 (hold 9 s)', network: {}, samples: 6 },
  { name: 'hold 9 s, no BFD', network: { bfd: 'false', holdTime: '9' }, samples: 6 },
];
/** With `all`: FRR's "traditional" timers too (keepalive 60 s, hold 180 s), what a router left at its defaults gives; minutes a sample. */
const SLOW: Variant = { name: 'hold 180 s, no BFD', network: { bfd: 'false', holdTime: '180' }, samples: 3 };

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(3)} s`;

/** Every node's sessions established with both routers again (and BFD up where it runs) after a round. */
async function allBack(r: Runner, ctx: LabContext): Promise<void> {
  await waitUntil(
    'every node back in session with both routers',
    async (look) => {
      for (const router of ctx.topology.routers) {
        for (const m of ctx.topology.machines) {
          if (!(await sessionEstablished(r, router.ns, m.address))) return look.seen(`${router.ns} ↔ ${m.machine.name}: BGP down`), false;
          if (ctx.timers.bfd && (await sessionHealth(r, router.ns, m.address)).bfd !== 'up') return look.seen(`${router.ns} ↔ ${m.machine.name}: BFD down`), false;
        }
      }
      return true;
    },
    { timeoutMs: 300_000 },
  );
}

export async function benchFailover(which?: string): Promise<number> {
  const host = labHostProblem(join(CODE_ROOT, '.cache/bin'));
  if (host) {
    console.error(`bench failover: ${host}`);
    return 2;
  }
  const runner = createRunner();
  const quiet = () => undefined;
  console.log('time until both routers withdraw a hung node (SIGSTOP of every process on it; 3 nodes per round, a third of a keepalive apart), 3 + 2 lab');
  const results: Array<{ variant: Variant; ms: number[] }> = [];
  const clientViews: ClientView[] = [];
  for (const variant of which === 'all' ? [...VARIANTS, SLOW] : VARIANTS) {
    const scratch = scratchCluster('failover', { controlPlanes: 3, workers: 2, block: '2001:db8:4400::/56', network: variant.network });
    try {
      const ctx = createLabContext(scratch.repo, scratch.cluster);
      await runLabPhases(ctx, UP_PHASES, quiet);
      const ms: number[] = [];
      while (ms.length < variant.samples) {
        await allBack(runner, ctx);
        ms.push(...(await withdrawalTimes(runner, ctx, ctx.timers.keepalive, ctx.timers.hold * 1000 * 3 + 60_000)));
      }
      results.push({ variant, ms });
      const worst = Math.max(...ms);
      console.log(`  ${variant.name.padEnd(28)} median ${seconds(median(ms))}, worst ${seconds(worst)}  (${ms.map(seconds).join(', ')})`);
      // What the internet's client sees meanwhile: a worker with an echo pod hung under a stream of requests.
      await allBack(runner, ctx);
      const seen = await measureClientView(ctx, labAdminClient(ctx));
      if ('cannot' in seen) console.log(`    client view: ${seen.cannot}`);
      else {
        for (const line of clientViewLines(seen.view)) console.log(`    ${line}`);
        const left = seen.view.endpointsLeftMs;
        console.log(`    ${seen.view.victim}'s pod left echo-cluster's endpoints ${left === undefined ? 'never while hung' : `${seconds(left)} after the hang`}; the hang held ${seconds(seen.view.hungMs)}`);
        clientViews.push(seen.view);
      }
    } finally {
      await labDown(runner, scratch.repo, 'failover');
      scratch.remove();
    }
  }
  const bfd = median(results[0]!.ms);
  for (const r of results.slice(1)) console.log(`  ratio ${r.variant.name} / BFD: ${(median(r.ms) / bfd).toFixed(1)}x`);
  return results.every((r) => r.ms.every(Number.isFinite)) && clientViews.length > 0 ? 0 : 1;
}
