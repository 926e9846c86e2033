/**
 * npm run bench -- lab: the lab's figures, in one run, on a cluster of its
 * own ("bench", 3 control planes + 2 workers, in a temporary repository):
 *   - cold bring-up (from nothing) and warm bring-up (a second `up`), with
 *     each phase's time in the cold one, and the peak of the lab's resident
 *     memory (every process of the lab, sampled each second) during it.
 *   - then, on the lab up, how long until every node's kube-proxy serves a
 *     new Service and a new endpoint (scripts/bench/serviceLag.ts), 5 samples.
 * A hung node's withdrawal is `npm run bench -- failover`'s.
 * Needs root and `npm run setup`. Removes everything it made, even on failure.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRunner } from '../../lib/exec/run.js';
import { CODE_ROOT } from '../../lib/platforms/lab/codeRoot.js';
import { createLabContext, labDown, runLabPhases } from '../../lib/platforms/lab/lab.js';
import { labHostProblem } from '../../lib/platforms/lab/host.js';
import { mountNamespacePids } from '../../lib/platforms/lab/machine/machine.js';
import { namespacePids, listNamespaces } from '../../lib/platforms/lab/machine/netns.js';
import { UP_PHASES } from '../../lib/platforms/lab/phases.js';
import { scratchCluster } from '../../lib/repo/scratch.js';
import { labAdminClient } from '../../lib/platforms/lab/verify/probes.js';
import { serviceLag } from './serviceLag.js';


function rssKiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

export async function benchLab(): Promise<number> {
  const host = labHostProblem(join(CODE_ROOT, '.cache/bin'));
  if (host) {
    console.error(`bench lab: ${host}`);
    return 2;
  }
  const scratch = scratchCluster('bench', { controlPlanes: 3, workers: 2, block: '2001:db8:4300::/56' });
  const { repo, cluster } = scratch;
  const runner = createRunner();
  try {
    const quiet = () => undefined;

    // Cold and warm bring-up, with the lab's memory sampled every second.
    const ctx = createLabContext(repo, cluster);
    let peak = 0;
    const sampler = setInterval(() => {
      void (async () => {
        const namespaces = await listNamespaces(runner, 'n6-bench');
        const pids = new Set<number>();
        for (const ns of namespaces) {
          for (const pid of await namespacePids(runner, ns)) pids.add(pid);
          for (const pid of mountNamespacePids(ns)) pids.add(pid);
        }
        const total = [...pids].reduce((n, pid) => n + rssKiB(pid), 0);
        peak = Math.max(peak, total);
      })();
    }, 1000);
    let t = Date.now();
    const phases = await runLabPhases(ctx, UP_PHASES, quiet);
    const cold = Date.now() - t;
    clearInterval(sampler);
    t = Date.now();
    await runLabPhases(ctx, UP_PHASES, quiet);
    const warm = Date.now() - t;
    console.log('bring-up of a 3 + 2 lab (3 control planes, 2 workers, demo workloads)');
    console.log(`  cold ${(cold / 1000).toFixed(1)} s, warm ${(warm / 1000).toFixed(1)} s (warm/cold ${(warm / cold).toFixed(3)})`);
    console.log(`  peak resident memory of every lab process during the cold bring-up: ${(peak / 1024).toFixed(0)} MiB`);
    console.log('  the cold bring-up, phase by phase:');
    for (const p of phases) console.log(`    ${p.name.padEnd(28)} ${(p.ms / 1000).toFixed(1).padStart(6)} s`);
    const lag = await serviceLag(ctx, labAdminClient(ctx), 5);
    const line = (xs: number[]) => {
      const sorted = [...xs].sort((a, b) => a - b);
      return `median ${(sorted[Math.floor(sorted.length / 2)]! / 1000).toFixed(2)} s, worst ${(sorted.at(-1)! / 1000).toFixed(2)} s (${xs.map((x) => (x / 1000).toFixed(2)).join(', ')})`;
    };
    console.log("until every node's kube-proxy serves it (nftables read on every machine about every 50 ms):");
    console.log(`  a new Service, from its creation:              ${line(lag.service)}`);
    console.log(`  a new endpoint, from ready in the EndpointSlice: ${line(lag.endpoint)}`);
    return 0;
  } finally {
    await labDown(runner, repo, 'bench');
    scratch.remove();
    if (existsSync('/run/n6-mnt') && readdirSync('/run/n6-mnt').some((f) => f.startsWith('n6-bench'))) console.error('bench lab: mount namespaces left in /run/n6-mnt');
  }
}
