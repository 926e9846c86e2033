/**
 * The lab internet's DNS: a resolver in the internet namespace that answers
 * for the lab's names as the internet's resolvers answer for theirs. It is
 * CoreDNS (the program `npm run setup` builds for the cluster's DNS), here
 * authoritative for the root with one zone file: the internet's hosts
 * (LAB_INTERNET_HOSTS) with the records today's internet gives them, so a
 * name with only an A record (github.example, as github.com) answers AAAA
 * queries with no data, and every name outside the lab is NXDOMAIN. No
 * recursion: the lab's internet has no other servers to ask.
 *
 * Machines use it as their resolver (the provider's, as Equinix Metal gave
 * its devices resolvers), and through them the cluster's DNS does.
 */
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { waitUntil } from '../../../phases/wait.js';
import { goProgramBinary, COREDNS } from '../../../toolchain/pins.js';
import { killAll } from '../machine/process.js';
import type { LabContext } from '../lab.js';
import { pidAlive } from './daemons.js';
import { LAB_INTERNET_HOSTS, type InternetHost } from './provider.js';

const RESOLVER = LAB_INTERNET_HOSTS.resolver;

/** The root zone the resolver serves: SOA, NS, and every internet host's A and AAAA records. Deterministic. */
export function labRootZone(hosts: readonly InternetHost[] = Object.values(LAB_INTERNET_HOSTS)): string {
  const lines = [
    '$ORIGIN .',
    '$TTL 300',
    // Negative answers are cached for 60 s (the SOA's minimum), as a real zone would say.
    `@ IN SOA ${RESOLVER.name}. hostmaster.${RESOLVER.name}. 1 3600 600 86400 60`,
    `@ IN NS ${RESOLVER.name}.`,
  ];
  for (const h of [...hosts].sort((a, b) => a.name.localeCompare(b.name))) {
    if (h.ipv4) lines.push(`${h.name}. IN A ${h.ipv4}`);
    if (h.ipv6) lines.push(`${h.name}. IN AAAA ${h.ipv6}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The resolver's Corefile: the root zone from the file, on the resolver's two addresses, every query logged. */
export function labResolverCorefile(zoneFile: string): string {
  return [`. {`, `    bind ${RESOLVER.ipv6} ${RESOLVER.ipv4}`, `    file ${zoneFile} .`, `    log`, `    errors`, `}`, ''].join('\n');
}

export interface LabResolver {
  readonly ns: string;
  readonly addresses: readonly string[];
  readonly dir: string;
  readonly pidFile: string;
  readonly logFile: string;
  readonly binary: string;
}

export function labResolver(ctx: Pick<LabContext, 'paths' | 'topology' | 'binDir'>): LabResolver {
  const dir = join(ctx.paths.root, 'resolver');
  return {
    ns: ctx.topology.internet.ns,
    addresses: [RESOLVER.ipv6, RESOLVER.ipv4],
    dir,
    pidFile: join(dir, 'coredns.pid'),
    logFile: join(ctx.paths.logs, 'resolver.log'),
    binary: goProgramBinary(join(ctx.binDir, '..'), COREDNS.name),
  };
}

/** The answer section of `dig` in the namespace (one record per line, +short), or undefined when no server answered. */
export async function dig(ctx: Pick<LabContext, 'runner'>, ns: string, server: string, name: string, type: 'A' | 'AAAA'): Promise<{ status: string; records: string[] } | undefined> {
  const res = await ctx.runner.run('dig', ['+time=2', '+tries=1', '+nocmd', '+noall', '+comments', '+answer', `@${server}`, name, type], { ns, allowFail: true, timeoutMs: 6000 });
  const status = /status: ([A-Z]+)/.exec(res.stdout)?.[1];
  if (!status) return undefined;
  const records = res.stdout
    .split('\n')
    .filter((l) => l && !l.startsWith(';'))
    .map((l) => l.split(/\s+/))
    .filter((w) => w[3] === type)
    .map((w) => w[4]!)
    .sort();
  return { status, records };
}

/** True when the resolver answers for its own name on every one of its addresses. */
async function answers(ctx: Pick<LabContext, 'runner'>, r: LabResolver): Promise<boolean> {
  for (const a of r.addresses) {
    const res = await dig(ctx, r.ns, a, `${RESOLVER.name}.`, 'A');
    if (res?.status !== 'NOERROR' || !res.records.includes(RESOLVER.ipv4)) return false;
  }
  return true;
}

/** Starts the resolver unless it runs with the same zone (idempotent); a changed zone restarts it. */
export async function ensureLabResolver(ctx: Pick<LabContext, 'paths' | 'topology' | 'runner' | 'binDir'>): Promise<'started' | 'running'> {
  const r = labResolver(ctx);
  if (!existsSync(r.binary)) throw new Error(`${r.binary} is missing: run npm run setup (step ${COREDNS.step})`);
  mkdirSync(r.dir, { recursive: true });
  const zoneFile = join(r.dir, 'db.root');
  const corefile = join(r.dir, 'Corefile');
  const zone = labRootZone();
  const changed = !existsSync(zoneFile) || readFileSync(zoneFile, 'utf8') !== zone;
  writeFileSync(zoneFile, zone);
  writeFileSync(corefile, labResolverCorefile(zoneFile));
  const pid = pidAlive(r.pidFile);
  if (pid && !changed && (await answers(ctx, r))) return 'running';
  if (pid) await killAll([pid]);
  mkdirSync(ctx.paths.logs, { recursive: true });
  const out = openSync(r.logFile, 'a');
  const child = spawn('ip', ['netns', 'exec', r.ns, r.binary, '-conf', corefile, '-pidfile', r.pidFile], { cwd: r.dir, detached: true, stdio: ['ignore', out, out] });
  child.unref();
  await waitUntil(`the lab's resolver answering on ${r.addresses.join(', ')} (log: ${r.logFile})`, () => answers(ctx, r), { timeoutMs: 20_000, intervalMs: 200 });
  return 'started';
}
