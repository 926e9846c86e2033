/**
 * A lab machine's private file system view: a persistent mount namespace
 * (bound at /run/n6-mnt/<ns>) in which /etc, /usr/local and /var are
 * overlays of the host's (the machine's image) whose upper layers are the
 * machine's disk (DISK_DIRS: what its bootstrap writes stays there, across
 * its reboots, and never reaches the host); the node's own folders are
 * bound over /etc/kubernetes, /var/lib/etcd, /var/lib/kubelet, the CNI and
 * Calico folders (where the lab reads them); and a private tmpfs is
 * mounted on /run (so lock files such as the xtables lock are the
 * machine's own). Commands run "on" the machine with nsenter into its
 * network and mount namespaces.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Runner } from '../../../exec/run.js';

export const MOUNT_NS_DIR = '/run/n6-mnt';

/** Folders each machine has of its own. */
export const MACHINE_DIRS = ['/etc/kubernetes', '/var/lib/etcd', '/var/lib/kubelet', '/etc/cni/net.d', '/var/lib/cni', '/etc/calico', '/var/lib/calico'] as const;

/** The folders whose writes land on the machine's disk (overlays of the host's). */
export const DISK_DIRS = ['/etc', '/usr/local', '/var'] as const;

/** Where a file of the machine's disk (under one of DISK_DIRS) is, seen from the host: `root` is the machine's root folder. */
export function diskPath(root: string, path: string): string {
  const dir = DISK_DIRS.find((d) => path === d || path.startsWith(`${d}/`));
  if (!dir) throw new Error(`${path} is not on a lab machine's disk (${DISK_DIRS.join(', ')})`);
  return join(root, '..', 'disk', dir.slice(1).replace('/', '-'), path.slice(dir.length));
}

export function mountNsFile(ns: string): string {
  return join(MOUNT_NS_DIR, ns);
}

/** The command line that runs `command` on the machine (its network and mount namespaces). */
export function onMachine(ns: string, command: string, args: readonly string[]): [string, string[]] {
  return ['nsenter', [`--net=/run/netns/${ns}`, `--mount=${mountNsFile(ns)}`, '--', command, ...args]];
}

/** A pod's network namespace, as the lab's kubelet names it (in the machine's private /run/netns). */
export function podNetns(podUid: string): string {
  return `pod-${podUid.slice(0, 13)}`;
}

/** The command line that runs `command` in a pod's network namespace on its machine. */
export function onPod(machineNs: string, podUid: string, command: string, args: readonly string[]): [string, string[]] {
  return ['nsenter', [`--mount=${mountNsFile(machineNs)}`, '--', 'ip', 'netns', 'exec', podNetns(podUid), command, ...args]];
}

export async function runOnMachine(r: Runner, ns: string, command: string, args: readonly string[], options: { allowFail?: boolean; timeoutMs?: number; input?: string; env?: NodeJS.ProcessEnv } = {}) {
  const [cmd, argv] = onMachine(ns, command, args);
  return r.run(cmd, argv, options);
}

async function isMountpoint(r: Runner, ns: string | undefined, path: string): Promise<boolean> {
  const args = ['-q', path];
  if (!ns) return (await r.run('mountpoint', args, { allowFail: true })).code === 0;
  return (await runOnMachine(r, ns, 'mountpoint', args, { allowFail: true })).code === 0;
}

/** Host mount points the lab had to create (empty folders), removed again by `down`. */
function createdMarker(stateRoot: string): string {
  return join(stateRoot, 'created-mountpoints');
}

/**
 * Makes the machine's mount namespace (idempotent). `root` is the host
 * folder holding the machine's own copies of MACHINE_DIRS.
 */
export async function ensureMachineMounts(r: Runner, ns: string, root: string, stateRoot: string): Promise<void> {
  mkdirSync(MOUNT_NS_DIR, { recursive: true });
  // The folder holding mount-namespace files must be a private mount, or the bind would propagate.
  if (!(await isMountpoint(r, undefined, MOUNT_NS_DIR))) {
    await r.run('mount', ['--bind', MOUNT_NS_DIR, MOUNT_NS_DIR]);
    await r.run('mount', ['--make-private', MOUNT_NS_DIR]);
  }
  const file = mountNsFile(ns);
  if (!(await isMountpoint(r, undefined, file))) {
    writeFileSync(file, '');
    await r.run('unshare', [`--mount=${file}`, '--propagation', 'private', 'true']);
  }
  // The disk first: the folders bound below are made on it, not on the host.
  for (const dir of DISK_DIRS) {
    const upper = diskPath(root, dir);
    const work = join(upper, '..', `.work-${dir.slice(1).replace('/', '-')}`);
    mkdirSync(upper, { recursive: true });
    mkdirSync(work, { recursive: true });
    if (!(await isMountpoint(r, ns, dir))) {
      await runOnMachine(r, ns, 'mount', ['-t', 'overlay', `n6-disk-${ns}`, '-o', `lowerdir=${dir},upperdir=${upper},workdir=${work}`, dir]);
    }
  }
  const created: string[] = [];
  for (const dir of MACHINE_DIRS) {
    if (!DISK_DIRS.some((d) => dir.startsWith(`${d}/`)) && !existsSync(dir)) {
      mkdirSync(dir, { recursive: true });
      created.push(dir);
    }
    const own = join(root, dir);
    mkdirSync(own, { recursive: true });
    if (!(await isMountpoint(r, ns, dir))) {
      await runOnMachine(r, ns, 'mkdir', ['-p', dir]);
      await runOnMachine(r, ns, 'mount', ['--bind', own, dir]);
    }
  }
  if (created.length > 0) {
    mkdirSync(stateRoot, { recursive: true });
    writeFileSync(createdMarker(stateRoot), `${created.join('\n')}\n`, { flag: 'a' });
  }
  const run = join(root, 'run');
  mkdirSync(run, { recursive: true });
  if (!(await isMountpoint(r, ns, '/run'))) await runOnMachine(r, ns, 'mount', ['-t', 'tmpfs', '-o', 'mode=755,size=64m', `n6-${ns}`, '/run']);
}

/**
 * Every process in the machine's mount namespace, whatever its network
 * namespace (a pod's program runs in the pod's own network namespace).
 */
/**
 * The processes of a machine's pods: those in the network namespaces its
 * kubelet made (bound in the machine's own /run/netns), whatever their
 * mount namespace (each pod has its own), found even when the kubelet that
 * started them is gone.
 */
export async function podPids(r: Runner, ns: string): Promise<number[]> {
  if (!existsSync(mountNsFile(ns))) return [];
  const res = await r.run('nsenter', [`--mount=${mountNsFile(ns)}`, '--', 'sh', '-c', 'for f in /run/netns/*; do [ -e "$f" ] && stat -L -c %i "$f"; done; true'], { allowFail: true });
  const nets = new Set(res.stdout.split('\n').map((l) => l.trim()).filter((l) => /^\d+$/.test(l)).map((i) => `net:[${i}]`));
  if (nets.size === 0) return [];
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (nets.has(readlinkSync(`/proc/${entry}/ns/net`))) out.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return out;
}

export function mountNamespacePids(ns: string): number[] {
  const file = mountNsFile(ns);
  if (!existsSync(file)) return [];
  let ino: number;
  try {
    ino = statSync(file).ino;
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/ns/mnt`) === `mnt:[${ino}]`) out.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return out;
}

/** Releases a machine's mount namespace (its processes must be gone). */
export async function releaseMachineMounts(r: Runner, ns: string): Promise<void> {
  const file = mountNsFile(ns);
  if (existsSync(file)) {
    await r.run('umount', [file], { allowFail: true });
    await r.run('rm', ['-f', file], { allowFail: true });
  }
}

/** Undoes the private bind of MOUNT_NS_DIR once no machine's mount namespace is left in it. */
export async function releaseMountNsDir(r: Runner): Promise<void> {
  if (!existsSync(MOUNT_NS_DIR) || readdirSync(MOUNT_NS_DIR).length > 0) return;
  await r.run('umount', [MOUNT_NS_DIR], { allowFail: true });
  try {
    rmdirSync(MOUNT_NS_DIR);
  } catch {
    // still mounted or not empty: leave it
  }
}

/** Removes the empty host folders the lab created as mount points, when no machine is left. */
export function removeCreatedMountpoints(stateRoot: string): void {
  const marker = createdMarker(stateRoot);
  if (!existsSync(marker)) return;
  if (existsSync(MOUNT_NS_DIR) && readdirSync(MOUNT_NS_DIR).length > 0) return;
  const dirs = [...new Set(readFileSync(marker, 'utf8').split('\n').filter(Boolean))].sort((a, b) => b.length - a.length);
  for (const dir of dirs) {
    try {
      if (readdirSync(dir).length === 0) rmdirSync(dir);
    } catch {
      // not empty or gone: leave it
    }
  }
  rmSync(marker, { force: true });
}
