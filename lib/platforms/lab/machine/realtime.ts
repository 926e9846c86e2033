/**
 * The lab's BFD ends run at a real-time priority (SCHED_RR 50, `chrt`):
 * FRR's bfdd on the routers and bird6 on the machines. BFD at 100 ms × 3
 * declares a peer dead when it hears nothing for 300 ms; on this one host
 * two cores carry every machine's API server, etcd, kubelet and agent, the
 * routers and the test runner, and under that load (load average 20 and
 * more) the daemons waited longer than 300 ms for a CPU: BFD saw 7 false
 * failures a minute, each one a withdrawn node (measured). A real machine
 * has its own CPUs for its BIRD; the priority stands in for that, so that
 * the lab's BFD measures the network and not the lab's run queue. BFD's
 * work is a few packets a second, so the priority costs nothing else.
 * Where the kernel refuses real-time scheduling the daemons run as before
 * (and the reason is logged).
 */
import { spawnSync } from 'node:child_process';

export const REALTIME_PRIORITY = 50;

let allowed: boolean | undefined;
let why = '';

/** Whether `chrt -r` works here (asked once). */
export function realtimeAllowed(): boolean {
  if (allowed === undefined) {
    const res = spawnSync('chrt', ['-r', String(REALTIME_PRIORITY), 'true'], { encoding: 'utf8' });
    allowed = res.status === 0;
    why = allowed ? '' : (res.error?.message ?? res.stderr.trim());
  }
  return allowed;
}

/** The command and arguments that run `command` at the real-time priority, when allowed; else unchanged. */
export function atRealtime(command: string, args: readonly string[]): { command: string; args: string[]; note: string } {
  if (!realtimeAllowed()) return { command, args: [...args], note: `real-time priority refused (${why}): BFD may see false failures under load` };
  return { command: 'chrt', args: ['-r', String(REALTIME_PRIORITY), command, ...args], note: `at real-time priority ${REALTIME_PRIORITY}` };
}
