/**
 * The lab's routing daemons: FRR (zebra, bgpd, bfdd) in each router
 * namespace and BIRD (bird6) in each machine namespace. Configuration files,
 * pid files and logs live in the lab's state folder; a daemon already
 * running with the same configuration is left alone, one whose
 * configuration changed is reloaded.
 */
import { chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Runner } from '../../../exec/run.js';
import type { RouterConfig } from './frr.js';
import { processAlive } from '../machine/process.js';
import { atRealtime } from '../machine/realtime.js';

export function pidAlive(pidFile: string): number | undefined {
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  return Number.isInteger(pid) && pid > 1 && processAlive(pid) ? pid : undefined;
}

/** Writes a file; returns true when its content changed. */
function writeIfChanged(path: string, content: string, mode = 0o644): boolean {
  if (existsSync(path) && readFileSync(path, 'utf8') === content) return false;
  writeFileSync(path, content, { mode });
  return true;
}

function frrIds(): { uid: number; gid: number } | undefined {
  try {
    const passwd = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('frr:'));
    if (!passwd) return undefined;
    const [, , uid, gid] = passwd.split(':');
    return { uid: Number(uid), gid: Number(gid) };
  } catch {
    return undefined;
  }
}

const FRR_DAEMONS = ['zebra', 'bgpd', 'bfdd'] as const;

export interface DaemonResult {
  readonly started: string[];
  readonly reloaded: string[];
}

/** Starts (or reloads) FRR in a router namespace. `dir` holds its config, pids and logs. */
export async function ensureRouterDaemons(r: Runner, ns: string, config: RouterConfig, dir: string): Promise<DaemonResult> {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const ids = frrIds();
  if (!ids) throw new Error('FRR is not installed (no "frr" user): run npm run setup');
  // FRR drops to the frr user: it must read its configuration and write its pid files and logs.
  chownSync(dir, ids.uid, ids.gid);
  mkdirSync('/var/run/frr', { recursive: true });
  chownSync('/var/run/frr', ids.uid, ids.gid);
  const result: DaemonResult = { started: [], reloaded: [] };
  for (const daemon of FRR_DAEMONS) {
    const conf = join(dir, `${daemon}.conf`);
    const changed = writeIfChanged(conf, config[daemon], 0o640);
    chownSync(conf, ids.uid, ids.gid);
    const pidFile = join(dir, `${daemon}.pid`);
    if (pidAlive(pidFile) && !changed) continue;
    if (pidAlive(pidFile) && changed) {
      // Apply the new configuration to the running daemon, without dropping sessions that did not change.
      await r.run('vtysh', ['-N', ns, '-d', daemon, '-f', conf]);
      result.reloaded.push(daemon);
      continue;
    }
    const argv = ['-d', '-N', ns, '-f', conf, '-i', pidFile, '--log', `file:${join(dir, `${daemon}.log`)}`, '-u', 'frr', '-g', 'frr'];
    // bfdd at a real-time priority: its 300 ms must not wait for a CPU on a host two cores share (lib/platforms/lab/machine/realtime.ts).
    const run = daemon === 'bfdd' ? atRealtime(`/usr/lib/frr/${daemon}`, argv) : { command: `/usr/lib/frr/${daemon}`, args: argv };
    await r.run(run.command, run.args, { ns });
    result.started.push(daemon);
  }
  return result;
}

/** Starts (or reconfigures) BIRD 1.6 for IPv6 in a machine namespace. */
export async function ensureBird(r: Runner, ns: string, config: string, dir: string): Promise<'started' | 'reloaded' | 'unchanged'> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const conf = join(dir, 'bird6.conf');
  // The configuration holds BGP passwords: only root reads it.
  const changed = writeIfChanged(conf, config, 0o600);
  const ctl = join(dir, 'bird6.ctl');
  const pidFile = join(dir, 'bird6.pid');
  if (pidAlive(pidFile)) {
    if (!changed) return 'unchanged';
    await r.run('birdc6', ['-s', ctl, 'configure'], { ns });
    return 'reloaded';
  }
  await r.run('bird6', ['-c', conf, '-s', ctl, '-P', pidFile], { ns });
  return 'started';
}
