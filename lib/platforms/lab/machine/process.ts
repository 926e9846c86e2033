/** Processes the lab starts: alive or not (a zombie is not), and signals that ignore the already-gone. */
import { readFileSync } from 'node:fs';

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** TERM, a grace period, then KILL (a stopped process dies of KILL too). */
export async function killAll(pids: readonly number[], graceMs = 3000): Promise<void> {
  let left = pids.filter(processAlive);
  for (const pid of left) signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((res) => setTimeout(res, 100));
    left = left.filter(processAlive);
  }
  for (const pid of left) signal(pid, 'SIGKILL');
}
