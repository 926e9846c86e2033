/**
 * The time until both routers withdraw each of three hung machines: every
 * process on a machine stopped (SIGSTOP, not kill: a killed process closes
 * its TCP sessions at once and proves nothing), the three a third of a
 * keepalive apart so the samples are not one event seen thrice; resumed
 * (SIGCONT) whatever happens. Milliseconds per machine, NaN if not withdrawn
 * within `limitMs`.
 */
import type { Runner } from '../../lib/exec/run.js';
import type { LabContext } from '../../lib/platforms/lab/lab.js';
import { namespacePids } from '../../lib/platforms/lab/machine/netns.js';
import { signal } from '../../lib/platforms/lab/machine/process.js';
import { kernelRoutes } from '../../lib/platforms/lab/verify/probes.js';

export async function withdrawalTimes(r: Runner, ctx: LabContext, keepaliveS: number, limitMs: number): Promise<number[]> {
  const victims = ctx.topology.machines.slice(-3);
  const pids = await Promise.all(victims.map((m) => namespacePids(r, m.ns)));
  const start = Date.now();
  const stoppedAt = new Map<string, number>();
  const done = new Map<string, number>();
  try {
    while (done.size < victims.length && Date.now() - start < limitMs) {
      victims.forEach((m, i) => {
        if (!stoppedAt.has(m.address) && Date.now() - start >= (i * keepaliveS * 1000) / victims.length) {
          for (const pid of pids[i]!) signal(pid, 'SIGSTOP');
          stoppedAt.set(m.address, Date.now());
        }
      });
      const tables = await Promise.all(ctx.topology.routers.map((x) => kernelRoutes(r, x.ns)));
      for (const m of victims) {
        const at = stoppedAt.get(m.address);
        if (at === undefined || done.has(m.address)) continue;
        if (!tables.some((routes) => JSON.stringify(routes).includes(`"${m.address}"`))) done.set(m.address, Date.now() - at);
      }
      await new Promise((res) => setTimeout(res, 20));
    }
  } finally {
    for (const pid of pids.flat()) signal(pid, 'SIGCONT');
  }
  return victims.map((m) => done.get(m.address) ?? Number.NaN);
}
