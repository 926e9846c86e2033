/**
 * The lab as a workflow of named phases (up, down, verify), each a small
 * step over the topology. `up` is idempotent: on a running lab every phase
 * finds its work done and changes nothing.
 */
import { labProgramArgv } from './programLaunch.js';
import { buildLabPrograms } from './programBuild.js';
import { appendFileSync, mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '../../phases/wait.js';
import { runPhases, type Phase as EnginePhase, type PhaseReport } from '../../phases/phase.js';
import { readFabric } from '../../render/read.js';
import type { LoadedCluster } from '../../plan/loaded.js';
import { ensureRouterDaemons, pidAlive } from './provider/daemons.js';
import { labHostProblem } from './host.js';
import { labDevices } from './provider/metadata.js';
import { spawn } from 'node:child_process';
import { createRunner, type Runner } from '../../exec/run.js';
import { labSessionTimers, routerConfig, type SessionTimers } from './provider/frr.js';
import { deleteNamespace, listNamespaces } from './machine/netns.js';
import { mountNamespacePids, podPids, releaseMachineMounts, releaseMountNsDir, removeCreatedMountpoints } from './machine/machine.js';
import { killAll } from './machine/process.js';
import { buildHostAccess, buildMachines, buildProvider } from './provider/network.js';
import { ensureBgpPasswords, FRR_RUN, labPaths, type LabPaths } from './state.js';
import { labTopology, machinesBelow, NS_PREFIX, type LabTopology } from './topology.js';
import { formatAddress, parseAddress } from '../../net/ipv6.js';
import { rackTopology } from './rack/topology.js';

export interface LabContext {
  readonly repoRoot: string;
  /** The cluster as loaded (spec, address plan, devices, the files it came from). */
  readonly cluster: LoadedCluster;
  readonly topology: LabTopology;
  readonly paths: LabPaths;
  readonly runner: Runner;
  readonly timers: SessionTimers;
  /** Where the Kubernetes and etcd binaries are (npm run setup builds them into .cache/bin). */
  readonly binDir: string;
  /** Where the CNI plugins are (.cache/cni/bin). */
  readonly cniBinDir: string;
  readonly log: (line: string) => void;
}

/** The project's own folder (where scripts/ and node_modules/ are), whatever repository the lab serves. */
import { CODE_ROOT } from './codeRoot.js';

/** A phase of the lab's workflows (lib/phases), run with the lab's context. */
export type Phase = EnginePhase<LabContext>;

let programsBuilt = false;

export function createLabContext(repoRoot: string, cluster: LoadedCluster, options: { timers?: SessionTimers; verbose?: boolean; binDir?: string } = {}): LabContext {
  const paths = labPaths(repoRoot, cluster.spec.name);
  mkdirSync(paths.logs, { recursive: true });
  const logFile = join(paths.logs, 'lab.log');
  const log = (line: string) => {
    appendFileSync(logFile, `${new Date().toISOString()} ${line}\n`);
    if (options.verbose) process.stderr.write(`${line}\n`);
  };
  if (!programsBuilt) {
    // Once per lab command: the programs it starts in its namespaces, from the sources as they are now.
    const built = buildLabPrograms();
    programsBuilt = true;
    log(`lab programs bundled in ${built.ms} ms: ${built.files.join(', ')}`);
  }
  return {
    repoRoot,
    cluster,
    topology: cluster.spec.platform === 'metal' && cluster.spec.inventory ? rackTopology(cluster.spec, cluster.plan, cluster.spec.inventory) : labTopology(cluster.spec, cluster.plan),
    paths,
    runner: createRunner(log),
    timers: options.timers ?? labSessionTimers(cluster.spec),
    binDir: options.binDir ?? join(CODE_ROOT, '.cache', 'bin'),
    cniBinDir: join(options.binDir ?? join(CODE_ROOT, '.cache', 'bin'), '..', 'cni', 'bin'),
    log,
  };
}


async function commandExists(r: Runner, command: string): Promise<boolean> {
  return (await r.run('sh', ['-c', `command -v ${command}`], { allowFail: true })).code === 0;
}

export const NETWORK_PHASES: readonly Phase[] = [
  {
    name: 'preflight',
    async run(ctx) {
      const host = labHostProblem(ctx.binDir);
      if (host) throw new Error(host);
      const missing: string[] = [];
      for (const c of ['ip', 'sysctl', 'nft', 'curl', 'jq', 'dig', 'tayga', 'bird6', 'birdc6', 'vtysh', '/usr/lib/frr/bgpd', '/usr/lib/frr/bfdd', '/usr/lib/frr/zebra', 'ping']) {
        if (!(await commandExists(ctx.runner, c))) missing.push(c);
      }
      if (missing.length > 0) throw new Error(`missing programs: ${missing.join(', ')}; run npm run setup (it installs frr, bird, iproute2, iputils-ping, bind9-dnsutils, tayga)`);
      readFabric(ctx.repoRoot, ctx.cluster);
      return `${ctx.topology.machines.length} machines, block ${ctx.topology.block}`;
    },
  },
  {
    name: 'provider network',
    async run(ctx) {
      await buildProvider(ctx.runner, ctx.topology);
      await buildHostAccess(ctx.runner, ctx.topology);
      return `routers, internet, host route ${ctx.topology.block} via ${ctx.topology.host.ifname}`;
    },
  },
  {
    name: 'machine network',
    async run(ctx) {
      await buildMachines(ctx.runner, ctx.topology);
      return `${ctx.topology.machines.length} machines, each on both routers`;
    },
  },
  {
    name: 'routers',
    async run(ctx) {
      const passwords = ensureBgpPasswords(ctx.paths, ctx.topology.machines.map((m) => m.machine.name));
      const asn = { local: ctx.cluster.spec.network.localASN, peer: ctx.cluster.spec.network.peerASN };
      const notes: string[] = [];
      for (const router of ctx.topology.routers) {
        const res = await ensureRouterDaemons(ctx.runner, router.ns, routerConfig(ctx.topology, router, asn, passwords, ctx.timers), ctx.paths.router(router.ns));
        notes.push(`${router.ns}: ${res.started.length ? `started ${res.started.join(',')}` : res.reloaded.length ? `reloaded ${res.reloaded.join(',')}` : 'running'}`);
      }
      return notes.join('; ');
    },
  },
  {
    name: 'provider metadata',
    async run(ctx) {
      // Each machine's metadata in Equinix Metal's shape, its own MD5 password included; root-only file.
      const passwords = ensureBgpPasswords(ctx.paths, ctx.topology.machines.map((m) => m.machine.name));
      const devices = labDevices(ctx.cluster.spec, ctx.cluster.plan).map((d) => ({
        ...d,
        bgp_neighbors: d.bgp_neighbors.map((n) => ({ ...n, md5_password: passwords.get(d.hostname) ?? null })),
      }));
      const file = join(ctx.paths.root, 'metadata.json');
      writeFileSync(file, `${JSON.stringify(devices, null, 2)}\n`, { mode: 0o600 });
      const pidFile = join(ctx.paths.root, 'metadata.pid');
      if (pidAlive(pidFile)) return `serving ${devices.length} devices on [${ctx.topology.internet.metadata}]:80`;
      const out = openSync(join(ctx.paths.logs, 'metadata.log'), 'a');
      const child = spawn(
        'ip',
        ['netns', 'exec', ctx.topology.internet.ns, ...labProgramArgv('metadata'), '--listen', ctx.topology.internet.metadata, '--port', '80', '--devices', file],
        { cwd: CODE_ROOT, detached: true, stdio: ['ignore', out, out] },
      );
      writeFileSync(pidFile, `${child.pid}\n`);
      child.unref();
      return `started, ${devices.length} devices on [${ctx.topology.internet.metadata}]:80`;
    },
  },
];

/** Every machine's two sessions up and the downward default learned (after the nodes run their BGP agents). */
export const BGP_SESSIONS_PHASE: Phase = {
    name: 'BGP sessions',
    async run(ctx) {
      const want = ctx.topology.machines.length;
      const below = ctx.topology.routers.map((router) => machinesBelow(ctx.topology, router).length);
      return waitFor(
        'BGP converged',
        async (look) => {
          const counts = await Promise.all(ctx.topology.routers.map((router) => establishedSessions(ctx.runner, router.ns, machinesBelow(ctx.topology, router).map((m) => m.address))));
          const defaults = await Promise.all(ctx.topology.machines.map((m) => hasBgpDefault(ctx.runner, m.ns)));
          const withDefault = defaults.filter(Boolean).length;
          const seen = `${ctx.topology.routers.map((router, i) => `${router.ns} ${counts[i]}/${below[i]}`).join(', ')}; downward default on ${withDefault}/${want} machines`;
          look.seen(seen);
          ctx.log(`sessions: ${seen}`);
          return counts.every((c, i) => c === below[i]) && withDefault === want && seen;
        },
        { timeoutMs: 90_000, intervalMs: 1000, log: ctx.log },
      );
    },
  };

/** True when the machine's kernel has the default route its BGP speaker learned. */
export async function hasBgpDefault(r: Runner, ns: string): Promise<boolean> {
  const res = await r.run('ip', ['-j', '-6', 'route', 'show', 'default'], { ns, allowFail: true });
  return res.code === 0 && (JSON.parse(res.stdout || '[]') as Array<{ protocol?: string }>).some((x) => x.protocol === 'bird');
}

/** A router's BGP sessions from FRR's JSON summary: peer address (canonical) -> state. */
export async function bgpPeerStates(r: Runner, ns: string): Promise<Map<string, string>> {
  const res = await r.run('vtysh', ['-N', ns, '-c', 'show bgp ipv6 unicast summary json'], { allowFail: true });
  if (res.code !== 0) return new Map();
  const json = JSON.parse(res.stdout.slice(res.stdout.indexOf('{'))) as { peers?: Record<string, { state?: string }> };
  return new Map(Object.entries(json.peers ?? {}).map(([a, p]) => [formatAddress(parseAddress(a)), p.state ?? '']));
}

/** True when the router's session with the machine at `address` is Established. */
export async function sessionEstablished(r: Runner, ns: string, address: string): Promise<boolean> {
  return (await bgpPeerStates(r, ns)).get(formatAddress(parseAddress(address))) === 'Established';
}

/** What a router knows of its session with the machine at `address`: why BGP last dropped it (FRR's reason, and its NOTIFICATION's), and its BFD session's state (undefined: none). */
export async function sessionHealth(r: Runner, ns: string, address: string): Promise<{ lastReset?: string; bfd?: string }> {
  const peer = formatAddress(parseAddress(address));
  const bgp = await r.run('vtysh', ['-N', ns, '-c', `show bgp neighbors ${peer} json`], { allowFail: true });
  const bfd = await r.run('vtysh', ['-N', ns, '-c', 'show bfd peers json'], { allowFail: true });
  const n = bgp.code === 0 ? (Object.values(JSON.parse(bgp.stdout.slice(bgp.stdout.indexOf('{'))) as Record<string, { lastResetDueTo?: string; lastNotificationReason?: string }>)[0] ?? {}) : {};
  const peers = bfd.code === 0 ? (JSON.parse(bfd.stdout.slice(bfd.stdout.indexOf('['))) as Array<{ peer?: string; status?: string }>) : [];
  const status = peers.find((p) => p.peer !== undefined && formatAddress(parseAddress(p.peer)) === peer)?.status;
  // A session BFD took down is reset with a NOTIFICATION of its own: "BGP Notification send", reason "Cease/BFD Down" (RFC 9384).
  const lastReset = [n.lastResetDueTo, n.lastNotificationReason].filter(Boolean).join(': ');
  return { ...(lastReset ? { lastReset } : {}), ...(status ? { bfd: status } : {}) };
}

/** Established BGP sessions on a router: with the given peers only, when given (a rack lab's routers also have their upstream's). */
export async function establishedSessions(r: Runner, ns: string, peers?: readonly string[]): Promise<number> {
  const only = peers && new Set(peers.map((a) => formatAddress(parseAddress(a))));
  return [...(await bgpPeerStates(r, ns)).entries()].filter(([peer, s]) => s === 'Established' && (!only || only.has(peer))).length;
}

/** Runs the lab's phases with the lab's log as their trace; a failure names the phase and the log file. */
export async function runLabPhases(ctx: LabContext, phases: readonly Phase[], progress: (p: PhaseReport) => void): Promise<PhaseReport[]> {
  return runPhases(ctx, phases, { progress, trace: ctx.log, hint: `log: ${join(ctx.paths.logs, 'lab.log')}` });
}

/** Removes every namespace (and so every process in it) the lab made for the cluster, and its state unless kept. */
export async function labDown(runner: Runner, repoRoot: string, cluster: string, keepState = false): Promise<string[]> {
  const namespaces = [...(await listNamespaces(runner, `${NS_PREFIX}${cluster}-`)), ...(await listNamespaces(runner, `${NS_PREFIX}${cluster}_`))];
  for (const ns of namespaces) {
    // Pods' programs run in their own network and mount namespaces: found through the machine's /run/netns, first.
    const pods = await podPids(runner, ns);
    await deleteNamespace(runner, ns);
    await killAll([...mountNamespacePids(ns), ...pods]);
    await releaseMachineMounts(runner, ns);
    rmSync(join('/var/run/frr', ns), { recursive: true, force: true });
    rmSync(join(FRR_RUN, ns), { recursive: true, force: true });
  }
  const paths = labPaths(repoRoot, cluster);
  removeCreatedMountpoints(paths.root);
  await releaseMountNsDir(runner);
  rmSync(join(paths.root, 'metadata.json'), { force: true });
  if (!keepState) {
    rmSync(join(paths.root, 'machines'), { recursive: true, force: true });
    rmSync(paths.secrets, { force: true });
  }
  return namespaces;
}
