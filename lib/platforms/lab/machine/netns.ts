/**
 * Network namespaces, links, addresses and routes for the lab, through a
 * Runner. Every operation is idempotent: it checks first and does nothing
 * when the thing is already as wanted, so a second `npm run lab` changes
 * nothing.
 */
import type { Runner } from '../../../exec/run.js';
import { killAll } from './process.js';

export async function listNamespaces(r: Runner, prefix: string): Promise<string[]> {
  const { stdout } = await r.run('ip', ['-j', 'netns', 'list'], { allowFail: true });
  const list = stdout.trim() ? (JSON.parse(stdout) as Array<{ name: string }>) : [];
  return list.map((n) => n.name).filter((n) => n.startsWith(prefix)).sort();
}

export async function ensureNamespace(r: Runner, ns: string): Promise<boolean> {
  const existing = await listNamespaces(r, ns);
  if (existing.includes(ns)) return false;
  await r.run('ip', ['netns', 'add', ns]);
  await r.run('ip', ['link', 'set', 'lo', 'up'], { ns });
  // Routers and machines forward; nothing is autoconfigured from router advertisements.
  await sysctl(r, ns, { 'net.ipv6.conf.all.forwarding': '1', 'net.ipv6.conf.default.accept_ra': '0', 'net.ipv6.conf.all.accept_ra': '0', 'net.ipv6.conf.default.accept_dad': '0' });
  return true;
}

export async function sysctl(r: Runner, ns: string, values: Record<string, string>): Promise<void> {
  const args = Object.entries(values).map(([k, v]) => `${k}=${v}`);
  await r.run('sysctl', ['-q', '-w', ...args], { ns });
}

export async function linkExists(r: Runner, ns: string | undefined, ifname: string): Promise<boolean> {
  const res = await r.run('ip', ['link', 'show', 'dev', ifname], { ...(ns ? { ns } : {}), allowFail: true });
  return res.code === 0;
}

export interface VethEnd {
  readonly ns: string;
  readonly ifname: string;
  readonly mac?: string;
}

/** A veth pair between two namespaces (created only if the first end is missing). */
export async function ensureVeth(r: Runner, a: VethEnd, b: VethEnd): Promise<boolean> {
  if (await linkExists(r, a.ns, a.ifname)) return false;
  // Create with temporary names in the host namespace, then move and rename: names are only unique per namespace.
  const tmpA = `n6a${Math.random().toString(36).slice(2, 10)}`;
  const tmpB = `n6b${Math.random().toString(36).slice(2, 10)}`;
  await r.run('ip', ['link', 'add', tmpA, 'type', 'veth', 'peer', 'name', tmpB]);
  for (const [tmp, end] of [[tmpA, a], [tmpB, b]] as const) {
    await r.run('ip', ['link', 'set', tmp, 'netns', end.ns]);
    await r.run('ip', ['link', 'set', tmp, 'name', end.ifname], { ns: end.ns });
    if (end.mac) await r.run('ip', ['link', 'set', end.ifname, 'address', end.mac], { ns: end.ns });
  }
  return true;
}

export async function linkUp(r: Runner, ns: string, ifname: string): Promise<void> {
  await r.run('ip', ['link', 'set', ifname, 'up'], { ns });
}

/** An address on an interface (no duplicate address detection: the lab numbers everything itself). */
export async function ensureAddress(r: Runner, ns: string, ifname: string, cidr: string): Promise<void> {
  await r.run('ip', ['-6', 'addr', 'replace', cidr, 'dev', ifname, 'nodad'], { ns });
}

export async function ensureRoute(r: Runner, ns: string, args: readonly string[]): Promise<void> {
  await r.run('ip', ['-6', 'route', 'replace', ...args], { ns });
}

export async function ensureAddressV4(r: Runner, ns: string, ifname: string, cidr: string): Promise<void> {
  await r.run('ip', ['-4', 'addr', 'replace', cidr, 'dev', ifname], { ns });
}

export async function ensureRouteV4(r: Runner, ns: string, args: readonly string[]): Promise<void> {
  await r.run('ip', ['-4', 'route', 'replace', ...args], { ns });
}

/** Every process inside a namespace. */
export async function namespacePids(r: Runner, ns: string): Promise<number[]> {
  const { stdout } = await r.run('ip', ['netns', 'pids', ns], { allowFail: true });
  return stdout
    .split(/\s+/)
    .filter(Boolean)
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 1);
}

/** Stops every process in the namespace (TERM, then KILL after a grace period) and deletes it. */
export async function deleteNamespace(r: Runner, ns: string, graceMs = 3000): Promise<void> {
  await killAll(await namespacePids(r, ns), graceMs);
  await r.run('ip', ['netns', 'del', ns], { allowFail: true });
}
