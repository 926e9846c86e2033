/**
 * A lab machine switched off and on again, as a power cut does to a real
 * machine. Off: every process of the machine is killed (SIGKILL, no
 * shutdown), its kernel state is gone (links, addresses, routes, nftables,
 * conntrack; its /run), its disk stays. On: it comes up as a real machine does and nothing more: the
 * provider's network (the addresses and static default that Equinix Metal's
 * image configures at every boot), then its init system: the kubelet and the
 * units the bootstrap enabled (multi-user.target.wants), the host firewall
 * first. Whatever comes back after that comes back by itself.
 */
import { existsSync, readdirSync } from 'node:fs';
import { FIREWALL_UNIT, ROUTES_UNIT, UNIT_DIR } from '../../../render/bootstrap.js';
import { LAB_PATH, machineRoot } from '../kubernetes/boot.js';
import { adminClient, boot, nodeNetworking, readyz, startKubelet, writeProviderResolvConf, writeUserConfig } from '../kubernetes/controlPlane.js';
import { API_SERVER_PORT } from '../../../render/kubeadm.js';
import { rmSync } from 'node:fs';
import { establishedSessions, hasBgpDefault, type LabContext } from '../lab.js';
import { waitFor, type Look } from '../../../phases/wait.js';
import { labAdminClient } from '../verify/probes.js';
import { buildMachines } from '../provider/network.js';
import { machinesBelow, type MachineNode } from '../topology.js';
import { diskPath, ensureMachineMounts, mountNamespacePids, podPids, releaseMachineMounts, runOnMachine } from './machine.js';
import { namespacePids } from './netns.js';
import { processAlive, signal } from './process.js';
import { formatAddress, parseAddress } from '../../../net/ipv6.js';

/**
 * Kills every process of the machine at once and drops what its kernel held:
 * its memory (/run, where the pods' network namespaces are bound) and its
 * network state (every link but the loopback, and so the routers' ends of
 * its links; its routes, addresses, nftables and conntrack). The network
 * namespace itself stays (other machines' mount namespaces hold references
 * to it, so the kernel would not free it), emptied; the disk stays.
 */
export async function powerOff(ctx: LabContext, m: MachineNode): Promise<number> {
  const r = ctx.runner;
  // Its pods' programs too: each in a mount namespace of its own, in the pod's network namespace.
  const pids = [...new Set([...mountNamespacePids(m.ns), ...(await namespacePids(r, m.ns)), ...(await podPids(r, m.ns))])];
  for (const pid of pids) signal(pid, 'SIGKILL');
  for (let i = 0; i < 50 && pids.some(processAlive); i++) await new Promise((res) => setTimeout(res, 100));
  await runOnMachine(r, m.ns, 'umount', ['-l', '/run'], { allowFail: true });
  const links = JSON.parse((await r.run('ip', ['-j', 'link', 'show'], { ns: m.ns })).stdout || '[]') as Array<{ ifname: string }>;
  for (const link of links) if (link.ifname !== 'lo') await r.run('ip', ['link', 'del', 'dev', link.ifname], { ns: m.ns, allowFail: true });
  await r.run('ip', ['-6', 'route', 'flush', 'table', 'main'], { ns: m.ns, allowFail: true });
  await r.run('ip', ['-6', 'addr', 'flush', 'dev', 'lo', 'scope', 'global'], { ns: m.ns, allowFail: true });
  await r.run('nft', ['flush', 'ruleset'], { ns: m.ns });
  await r.run('conntrack', ['-F'], { ns: m.ns, allowFail: true });
  return pids.length;
}

/** What systemd starts before the kubelet: the host firewall (before the network), the peers' routes. */
const FIRST = [FIREWALL_UNIT, ROUTES_UNIT];

/**
 * Switches the machine on: its network, its disk, then its init system as
 * systemd runs it: the sysctls (systemd-sysctl), the host firewall and the
 * peers' routes (waited for), the kubelet, the other enabled units (not
 * waited for). Returns the units started, in order.
 */
export async function powerOn(ctx: LabContext, m: MachineNode): Promise<string[]> {
  await buildMachines(ctx.runner, { ...ctx.topology, machines: [m] });
  const root = machineRoot(ctx, m);
  await ensureMachineMounts(ctx.runner, m.ns, root, ctx.paths.root);
  const env = { ...process.env, PATH: LAB_PATH };
  await runOnMachine(ctx.runner, m.ns, 'sysctl', ['--system'], { env });
  const enabled = ['multi-user.target.wants', 'timers.target.wants'].flatMap((target) => {
    const wants = diskPath(root, `${UNIT_DIR}/${target}`);
    return existsSync(wants) ? readdirSync(wants) : [];
  });
  const first = FIRST.filter((u) => enabled.includes(u));
  const rest = enabled.filter((u) => !FIRST.includes(u)).sort();
  for (const unit of first) await runOnMachine(ctx.runner, m.ns, 'systemctl', ['start', unit], { env, timeoutMs: 60_000 });
  startKubelet(ctx, m);
  for (const unit of rest) await runOnMachine(ctx.runner, m.ns, 'systemctl', ['start', '--no-block', unit], { env });
  return [...first, ...rest];
}

export interface RestartFigures {
  /** Processes killed. */
  readonly killed: number;
  /** From the power coming back until every check of `back` held. */
  readonly backMs: number;
  readonly units: Readonly<Record<string, readonly string[]>>;
}

/**
 * Every machine of the lab switched off at once, then on: nothing else is
 * done. Waits (up to `timeoutMs`) until the cluster is back by itself: both
 * routers have every machine's session, every node's kubelet renewed its
 * Lease since the power came back and the Node is Ready, the API
 * answers through its ClusterIP from the host, every pod the kubelets
 * run is running again since and Ready, and every machine's kube-proxy
 * translates to every ready endpoint of every Service (a pod's new address
 * reaches the kube-proxies some seconds after its Ready); `look` says what
 * is still missing, in the error when it never comes.
 */
export async function restartAll(ctx: LabContext, timeoutMs = 600_000): Promise<RestartFigures> {
  let killed = 0;
  for (const m of ctx.topology.machines) killed += await powerOff(ctx, m);
  const on = Date.now();
  const units: Record<string, readonly string[]> = {};
  for (const m of ctx.topology.machines) units[m.machine.name] = await powerOn(ctx, m);
  await waitFor('the lab back after every machine was restarted at once', (look) => back(ctx, on, look), { timeoutMs, intervalMs: 2000, log: ctx.log });
  return { killed, backMs: Date.now() - on, units };
}

type RestartPod = {
  metadata: { name: string; namespace: string; annotations?: Record<string, string> };
  spec: { nodeName?: string };
  status?: { conditions?: Array<{ type: string; status: string }>; containerStatuses?: Array<{ state?: { running?: { startedAt?: string }; waiting?: { reason?: string } } }> };
};

/** A pod back after the restart: its program started since, and Ready; one the lab does not run (NotRunnableInLab) is not waited for. */
export function podBack(p: RestartPod, since: number): boolean {
  const state = p.status?.containerStatuses?.[0]?.state;
  if (state?.waiting?.reason === 'NotRunnableInLab') return true;
  const started = Date.parse(state?.running?.startedAt ?? '');
  // startedAt has whole seconds: a start in the second of `since` counts.
  return Number.isFinite(started) && started >= Math.floor(since / 1000) * 1000 && p.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
}

type EndpointSlice = {
  metadata: { namespace: string; labels?: Record<string, string> };
  addressType: string;
  endpoints?: Array<{ addresses: string[]; conditions?: { ready?: boolean } }> | null;
  ports?: Array<{ port?: number; protocol?: string }> | null;
};

/**
 * The ready endpoints of the Services (`namespace/service [address]:port`) that a
 * kube-proxy's nftables table (`nft list table ip6 kube-proxy`) does not translate to:
 * kube-proxy's endpoint chains end in `dnat to [address]:port` (as nft lists an ip6 table).
 */
export function untranslated(slices: readonly EndpointSlice[], table: string): string[] {
  const out: string[] = [];
  const dnatTargets = new Set([...table.matchAll(/\bdnat (?:ip6 )?to (\[[0-9a-f:.]+\]:\d+)/g)].map((m) => m[1]!));
  for (const s of slices) {
    if (s.addressType !== 'IPv6') continue;
    const service = `${s.metadata.namespace}/${s.metadata.labels?.['kubernetes.io/service-name'] ?? '?'}`;
    for (const e of s.endpoints ?? []) {
      if (e.conditions?.ready === false) continue;
      for (const address of e.addresses) {
        for (const p of s.ports ?? []) {
          if (p.port === undefined) continue;
          const target = `[${formatAddress(parseAddress(address))}]:${p.port}`;
          if (!dnatTargets.has(target)) out.push(`${service} ${target}`);
        }
      }
    }
  }
  return out;
}

/** `restarted`: the machines whose kubelets and pods must have started again since `since` (the others' need only be Ready). */
async function back(ctx: LabContext, since: number, look: Look, restarted: readonly MachineNode[] = ctx.topology.machines): Promise<string | false> {
  const again = new Set(restarted.map((m) => m.machine.name));
  const missing: string[] = [];
  for (const router of ctx.topology.routers) {
    const below = machinesBelow(ctx.topology, router).map((m) => m.address);
    const n = await establishedSessions(ctx.runner, router.ns, below);
    if (n !== below.length) missing.push(`${router.ns}: ${n}/${below.length} sessions`);
  }
  // A session Established is not yet its routes: back means each machine has its default from BGP again.
  for (const m of ctx.topology.machines) if (!(await hasBgpDefault(ctx.runner, m.ns))) missing.push(`${m.machine.name} without its default route from BGP`);
  try {
    const admin = labAdminClient(ctx);
    const nodes = await admin.get<{ items: Array<{ metadata: { name: string }; status?: { conditions?: Array<{ type: string; status: string }> } }> }>('/api/v1/nodes');
    for (const m of ctx.topology.machines) {
      const node = nodes.items.find((n) => n.metadata.name === m.machine.name);
      if (node?.status?.conditions?.find((c) => c.type === 'Ready')?.status !== 'True') missing.push(`${m.machine.name} not Ready`);
      if (!again.has(m.machine.name)) continue;
      const lease = await admin.get<{ spec?: { renewTime?: string } }>(`/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${m.machine.name}`).catch(() => undefined);
      if (!lease?.spec?.renewTime || Date.parse(lease.spec.renewTime) < since) missing.push(`${m.machine.name}'s kubelet has not renewed its Lease since the restart`);
    }
    // The workloads too: every pod the kubelets run is running again since the restart, and Ready
    // (a pod's address in the API is its new sandbox's only once its kubelet reported it).
    const pods = await admin.get<{ items: RestartPod[] }>('/api/v1/pods');
    const notBack = pods.items.filter((p) => p.spec.nodeName && !p.metadata.annotations?.['kubernetes.io/config.mirror'] && !podBack(p, again.has(p.spec.nodeName) ? since : 0));
    if (notBack.length > 0) missing.push(`${notBack.length} pod(s) not running and Ready (since the restart on a restarted machine) (${notBack.slice(0, 3).map((p) => `${p.metadata.namespace}/${p.metadata.name}`).join(', ')}${notBack.length > 3 ? ', …' : ''})`);
    const slices = (await admin.get<{ items: EndpointSlice[] }>('/apis/discovery.k8s.io/v1/endpointslices')).items;
    for (const m of ctx.topology.machines) {
      const table = (await runOnMachine(ctx.runner, m.ns, 'nft', ['list', 'table', 'ip6', 'kube-proxy'], { allowFail: true })).stdout;
      const left = untranslated(slices, table);
      if (left.length > 0) missing.push(`${m.machine.name}'s kube-proxy without ${left.length} endpoint(s) (${left.slice(0, 2).join(', ')}${left.length > 2 ? ', …' : ''})`);
    }
  } catch (e) {
    missing.push(`the API through its ClusterIP: ${(e as Error).message.split('\n')[0]}`);
  }
  ctx.log(`restart: ${missing.length ? `waiting for ${missing.join('; ')}` : 'back'}`);
  // What is still missing goes into the error, should it never come back.
  look.seen(missing.join('; '));
  return missing.length === 0 && 'back';
}

/**
 * A machine replaced in place, as a dead machine is by a new one with the same name and address
 * (the lab, the metal platform): switched off, its disk and everything it held gone, then a new
 * machine booted from its user-data, joined by its bootstrap alone (a first control plane finds the
 * cluster answering and joins it; a control plane removes the etcd member its former self left),
 * then its node networking as at bring-up. Returns the seconds until the lab was back as after a
 * restart (its sessions, its default from BGP, its Node Ready and Lease renewed, its pods started
 * since and Ready, every pod Ready, every kube-proxy translating every ready endpoint).
 */
export async function replaceMachine(ctx: LabContext, m: MachineNode): Promise<{ killed: number; joinedS: number }> {
  const killed = await powerOff(ctx, m);
  await releaseMachineMounts(ctx.runner, m.ns);
  rmSync(ctx.paths.machine(m.machine.name), { recursive: true, force: true });
  const start = Date.now();
  await buildMachines(ctx.runner, { ...ctx.topology, machines: [m] });
  writeProviderResolvConf(machineRoot(ctx, m));
  await ensureMachineMounts(ctx.runner, m.ns, machineRoot(ctx, m), ctx.paths.root);
  startKubelet(ctx, m);
  await boot(ctx, m);
  // The lab makes its components' kubeconfigs with kubeadm on the first control plane (its CA key came with the join).
  if (m === ctx.topology.machines[0]) writeUserConfig(ctx, m);
  await nodeNetworking(ctx, m);
  if (m.machine.role === 'control-plane') {
    await waitFor(`${m.machine.name}'s API server answering /readyz`, () => readyz(adminClient(ctx, `https://[${m.address}]:${API_SERVER_PORT}`)), { timeoutMs: 180_000, intervalMs: 2000, log: ctx.log });
  }
  // Its API server answering is not the machine back: its BGP sessions (calico-node's BIRD) and its pods come later.
  await waitFor(`the lab back after ${m.machine.name} was replaced`, (look) => back(ctx, start, look, [m]), { timeoutMs: 300_000, intervalMs: 2000, log: ctx.log });
  return { killed, joinedS: (Date.now() - start) / 1000 };
}
