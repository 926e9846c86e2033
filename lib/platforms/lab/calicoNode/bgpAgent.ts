/**
 * The lab's BGP agent: OURS, a substitute for the parts of calico-node that
 * cannot be built here (README, "Calico in the lab"). It runs on one
 * machine (its network and mount namespaces) and does, against the
 * Kubernetes datastore, what calico-node's startup, its IPAM block claim,
 * confd and parts of Felix do:
 *
 * - startup: the Node's BGP address annotation (projectcalico.org/IPv6Address);
 * - IPAM: claims an affine block of the IPPool (IPAMBlock + confirmed
 *   BlockAffinity, Calico's data model) and writes the CNI configuration
 *   with that block (addresses inside it come from the upstream host-local
 *   plugin: Calico's CNI plugin and IPAM cannot be built either), and keeps
 *   the IPAMBlock's allocations in step with host-local's leases;
 * - confd: computes confd's keys from the datastore (lib/calico/confd.ts)
 *   every second and runs n6-confd over Calico's own BIRD templates, which
 *   writes /etc/calico/confd/config/bird6*.cfg and reloads BIRD with
 *   `sv hup bird6` as confd does;
 * - runsv: keeps Debian's bird6 running on that configuration;
 * - two of Felix's jobs: service loop prevention (lib/calico/loopPrevention.ts)
 *   and policy (lib/calico/policy.ts), as nftables tables re-applied when
 *   the datastore changes and every 30 s.
 *
 * It polls the datastore every second (confd and Felix watch it). Routes to
 * workloads come from the CNI plugin, not from it. See the README.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { KubeError, type KubeClient } from '../../../kube/client.js';
import { formatPrefix, parsePrefix, type Prefix } from '../../../net/ipv6.js';
import { blockAllocations, cidrToName, confirmedAffinity, emptyBlock, freeBlocks } from './ipam.js';
import { confdKv, type DatastoreSnapshot } from './confd.js';
import { atRealtime } from '../machine/realtime.js';
import { advertisedServiceRanges, loopPreventionMode, loopPreventionScript } from './loopPrevention.js';
import { compilePolicy, workloadLabels, type PolicyInputs } from './policy.js';

export interface AgentOptions {
  readonly node: string;
  readonly address: string;
  /** Prefix length of the node's address on its uplink (/127 in the lab). */
  readonly prefixLength: number;
  readonly client: KubeClient;
  /** n6-confd and Calico's confd folder (conf.d/, templates/). */
  readonly confd: string;
  readonly confdir: string;
  /** Folder holding our `sv` (runit's, as far as confd's reload_cmd uses it). */
  readonly svDir: string;
  /** Namespace of the Secrets BGPPeer passwords refer to (calico-node's). */
  readonly namespace: string;
  readonly log: (line: string) => void;
  readonly intervalMs?: number;
  readonly cniConf?: string;
}

const CRD = '/apis/crd.projectcalico.org/v1';
const BIRD_CONFIG = '/etc/calico/confd/config/bird6.cfg';
const RUN_DIR = '/var/run/calico';
const KV_FILE = '/var/lib/calico/confd-kv.json';

type Obj = { metadata?: { name?: string; namespace?: string; annotations?: Record<string, string>; labels?: Record<string, string> }; spec?: Record<string, unknown> };
type List<T = Obj> = { items: T[] };

export type AgentSnapshot = DatastoreSnapshot & { readonly felixConfigurations: readonly Obj[]; readonly policy: PolicyInputs };

type Pod = { metadata: { name: string; namespace: string; labels?: Record<string, string> }; spec: { nodeName?: string; hostNetwork?: boolean }; status: { podIP?: string; phase?: string } };

export async function snapshot(client: KubeClient, namespace: string): Promise<AgentSnapshot> {
  // What confd's BGP syncer and route generator watch (core/v1 Endpoints, not EndpointSlices).
  const [bgpConfigurations, bgpPeers, bgpFilters, ipPools, nodes, blockAffinities, services, endpoints, felixConfigurations, gnps, nps, gnsets, namespaces, pods] = await Promise.all([
    client.get<List>(`${CRD}/bgpconfigurations`),
    client.get<List>(`${CRD}/bgppeers`),
    client.get<List>(`${CRD}/bgpfilters`),
    client.get<List>(`${CRD}/ippools`),
    client.get<List>('/api/v1/nodes'),
    client.get<List>(`${CRD}/blockaffinities`),
    client.get<List>('/api/v1/services'),
    client.get<List>('/api/v1/endpoints'),
    client.get<List>(`${CRD}/felixconfigurations`),
    client.get<List>(`${CRD}/globalnetworkpolicies`),
    client.get<List>('/apis/networking.k8s.io/v1/networkpolicies'),
    client.get<List>(`${CRD}/globalnetworksets`),
    client.get<List>('/api/v1/namespaces'),
    client.get<List<Pod>>('/api/v1/pods'),
  ]);
  if ((await client.get<List>(`${CRD}/networkpolicies`)).items.length > 0) throw new Error('Calico NetworkPolicies (namespaced, crd.projectcalico.org) are not supported by the lab\'s policy engine');
  // Felix's workload endpoints: pods with an address on a pod network, not finished.
  const workloads = pods.items
    .filter((p) => p.status.podIP && !p.spec.hostNetwork && p.spec.nodeName && p.status.phase !== 'Succeeded' && p.status.phase !== 'Failed')
    .map((p) => ({ namespace: p.metadata.namespace, name: p.metadata.name, ip: p.status.podIP!, node: p.spec.nodeName!, labels: workloadLabels(p.metadata.labels ?? {}, p.metadata.namespace) }));
  const serviceEndpoints = new Map<string, { ips: string[]; ports: Array<{ protocol: string; port: number }> }>();
  for (const e of endpoints.items as Array<Obj & { subsets?: Array<{ addresses?: Array<{ ip: string }>; ports?: Array<{ protocol?: string; port: number }> }> }>) {
    const ips = (e.subsets ?? []).flatMap((x) => (x.addresses ?? []).map((a) => a.ip));
    const ports = (e.subsets ?? []).flatMap((x) => (x.ports ?? []).map((pt) => ({ protocol: pt.protocol ?? 'TCP', port: pt.port })));
    serviceEndpoints.set(`${e.metadata?.namespace}/${e.metadata?.name}`, { ips, ports });
  }
  return {
    bgpConfigurations: bgpConfigurations.items,
    bgpPeers: bgpPeers.items,
    bgpFilters: bgpFilters.items,
    ipPools: ipPools.items,
    nodes: nodes.items,
    blockAffinities: blockAffinities.items,
    services: services.items,
    endpoints: endpoints.items,
    felixConfigurations: felixConfigurations.items,
    policy: { globalNetworkPolicies: gnps.items, networkPolicies: nps.items, globalNetworkSets: gnsets.items as PolicyInputs['globalNetworkSets'], namespaces: namespaces.items, workloads, serviceEndpoints },
    secrets: await secretsOf(client, namespace, bgpPeers.items),
  } as AgentSnapshot;
}

/** The Secrets the BGPPeers name, read one by one (calico-node may read only those). */
async function secretsOf(client: KubeClient, namespace: string, peers: readonly Obj[]): Promise<Record<string, Record<string, string>>> {
  const names = new Set<string>();
  for (const p of peers) {
    const ref = (p.spec?.password as { secretKeyRef?: { name?: string } } | undefined)?.secretKeyRef;
    if (ref?.name) names.add(ref.name);
  }
  const out: Record<string, Record<string, string>> = {};
  for (const name of [...names].sort()) {
    const s = await client.find<{ data?: Record<string, string> }>(`/api/v1/namespaces/${namespace}/secrets/${name}`);
    if (!s) continue;
    out[name] = Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
  }
  return out;
}

/** Calico startup: the node's BGP address on its Node object. */
export async function annotateNode(o: AgentOptions): Promise<void> {
  const value = `${o.address}/${o.prefixLength}`;
  const node = await o.client.get<Obj>(`/api/v1/nodes/${o.node}`);
  if (node.metadata?.annotations?.['projectcalico.org/IPv6Address'] === value) return;
  await o.client.mergePatch(`/api/v1/nodes/${o.node}`, { metadata: { annotations: { 'projectcalico.org/IPv6Address': value } } });
  o.log(`Node ${o.node}: projectcalico.org/IPv6Address=${value}`);
}

/** The node's affine block in the pool: the one it has, or a newly claimed one. */
export async function claimBlock(o: AgentOptions): Promise<Prefix> {
  const pools = (await o.client.get<List>(`${CRD}/ippools`)).items.filter((p) => !p.spec?.disabled && String(p.spec?.cidr ?? '').includes(':'));
  if (pools.length === 0) throw new Error('no enabled IPv6 IPPool in the datastore (apply clusters/<name>/fabric first)');
  const pool = pools[0]!;
  const cidr = parsePrefix(String(pool.spec!.cidr));
  const blockSize = Number(pool.spec!.blockSize ?? 122);
  const inPool = (c: string) => {
    const p = parsePrefix(c);
    return p.length >= cidr.length && (p.address >> BigInt(128 - cidr.length)) === (cidr.address >> BigInt(128 - cidr.length));
  };
  const affinities = (await o.client.get<List>(`${CRD}/blockaffinities`)).items;
  const mine = affinities.find((a) => a.spec?.node === o.node && a.spec?.state === 'confirmed' && inPool(String(a.spec?.cidr)));
  if (mine) return parsePrefix(String(mine.spec!.cidr));
  const taken = new Set((await o.client.get<List>(`${CRD}/ipamblocks`)).items.map((b) => formatPrefix(parsePrefix(String(b.spec?.cidr)))));
  for (const block of freeBlocks(cidr, blockSize, taken, o.node)) {
    try {
      await o.client.request('POST', `${CRD}/ipamblocks`, emptyBlock(block, o.node));
    } catch (e) {
      if (e instanceof KubeError && e.status === 409) continue; // another node claimed it first
      throw e;
    }
    await o.client.request('POST', `${CRD}/blockaffinities`, confirmedAffinity(block, o.node));
    o.log(`claimed block ${formatPrefix(block)} of pool ${pool.metadata?.name} (${formatPrefix(cidr)})`);
    return block;
  }
  throw new Error(`pool ${pool.metadata?.name} (${formatPrefix(cidr)}) has no free /${blockSize} block`);
}

const LEASES = '/var/lib/cni/networks/native6';

/** host-local's leases: address -> container ID (its files, named after the address). */
function leases(): Map<string, string> {
  const out = new Map<string, string>();
  if (!existsSync(LEASES)) return out;
  for (const f of readdirSync(LEASES)) {
    if (!f.includes(':')) continue; // lock, last_reserved_ip.0
    try {
      out.set(f, readFileSync(`${LEASES}/${f}`, 'utf8').split(/\r?\n/)[0]!.trim());
    } catch {
      // released meanwhile
    }
  }
  return out;
}

/** Keeps the IPAMBlock's allocations in step with host-local's leases (Calico IPAM's view of the block). */
async function syncAllocations(o: AgentOptions, block: Prefix): Promise<boolean> {
  const path = `${CRD}/ipamblocks/${cidrToName(formatPrefix(block))}`;
  const current = await o.client.get<{ metadata: { resourceVersion: string }; spec: Record<string, unknown> }>(path);
  const want = blockAllocations(block, leases());
  if (JSON.stringify(current.spec.allocations) === JSON.stringify(want.allocations) && JSON.stringify(current.spec.attributes) === JSON.stringify(want.attributes)) return false;
  await o.client.request('PUT', path, { ...current, spec: { ...current.spec, ...want } });
  return true;
}

/** The CNI configuration for the claimed block (what calico-node's install-cni would write). */
export function cniConfig(block: Prefix): string {
  const conflist = {
    cniVersion: '1.0.0',
    name: 'native6',
    plugins: [
      {
        type: 'ptp',
        ipMasq: false,
        mtu: 1500,
        ipam: { type: 'host-local', ranges: [[{ subnet: formatPrefix(block) }]], routes: [{ dst: '::/0' }], dataDir: '/var/lib/cni/networks' },
      },
    ],
  };
  return `${JSON.stringify(conflist, null, 2)}\n`;
}

function writeAtomic(path: string, content: string, mode: number): boolean {
  mkdirSync(dirname(path), { recursive: true });
  if (existsSync(path) && readFileSync(path, 'utf8') === content) return false;
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, content, { mode });
  renameSync(tmp, path);
  return true;
}

/** runsv for bird6: starts it once its configuration exists, restarts it when it dies. */
class BirdService {
  private child: ChildProcess | undefined;
  private restarts = 0;
  constructor(private readonly log: (l: string) => void) {}

  ensure(): void {
    if (this.child || !existsSync(BIRD_CONFIG)) return;
    mkdirSync(RUN_DIR, { recursive: true });
    // As calico-node's runit service runs it (-d: foreground, log to stderr); -P for our `sv hup`.
    // At a real-time priority: its BFD must answer within 300 ms on a host two cores share (lib/platforms/lab/machine/realtime.ts).
    const run = atRealtime('bird6', ['-d', '-R', '-s', `${RUN_DIR}/bird6.ctl`, '-c', BIRD_CONFIG, '-P', `${RUN_DIR}/bird6.pid`]);
    const child = spawn(run.command, run.args, { stdio: ['ignore', 'inherit', 'inherit'] });
    this.child = child;
    this.log(`bird6 started (pid ${child.pid}${this.restarts ? `, restart ${this.restarts}` : ''}; ${run.note})`);
    child.on('exit', (code, sig) => {
      this.log(`bird6 exited (${sig ?? code}); restarting`);
      this.child = undefined;
      this.restarts++;
    });
  }

  stop(): void {
    this.child?.kill('SIGTERM');
  }
}

const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));

/** Calico startup and the block claim, retried until the Node exists and the API answers. */
async function startup(o: AgentOptions, signal: AbortSignal): Promise<Prefix | undefined> {
  let last = '';
  while (!signal.aborted) {
    try {
      await annotateNode(o);
      return await claimBlock(o);
    } catch (e) {
      const msg = (e as Error).message;
      if (msg !== last) o.log(`startup: ${msg}; retrying`);
      last = msg;
      await sleep(2000);
    }
  }
  return undefined;
}

export async function runAgent(o: AgentOptions, signal: AbortSignal): Promise<void> {
  // A bird6 left by a previous run of the agent: stop it, this run supervises its own.
  try {
    process.kill(Number(readFileSync(`${RUN_DIR}/bird6.pid`, 'utf8').trim()), 'SIGTERM');
  } catch {
    // none
  }
  const block = await startup(o, signal);
  if (!block) return;
  if (writeAtomic(join(o.cniConf ?? '/etc/cni/net.d', '10-native6.conflist'), cniConfig(block), 0o644)) o.log(`CNI configuration for ${formatPrefix(block)}`);
  const bird = new BirdService(o.log);
  signal.addEventListener('abort', () => bird.stop());
  let lastError = '';
  let lastNft = '';
  let lastPolicy = '';
  // Like Felix, re-apply the whole dataplane now and then, whatever changed (or was removed) behind its back.
  let resyncAt = Date.now() + 30_000;
  while (!signal.aborted) {
    try {
      const snap = await snapshot(o.client, o.namespace);
      const force = Date.now() >= resyncAt;
      if (force) resyncAt = Date.now() + 30_000;
      // Felix's part the lab has: service loop prevention.
      const nft = loopPreventionScript(loopPreventionMode(snap.felixConfigurations), advertisedServiceRanges(snap.bgpConfigurations));
      if (nft !== lastNft || force) {
        const res = spawnSync('nft', ['-f', '-'], { input: nft, encoding: 'utf8' });
        if (res.status !== 0) throw new Error(`nft: ${res.stderr.trim()}`);
        if (nft !== lastNft) o.log(`service loop prevention: ${nft.split('\n').find((l) => l.includes('daddr'))?.trim() ?? 'none'}`);
        lastNft = nft;
      }
      // Felix's policy engine, ours: the workloads on this node under the datastore's policies.
      const policy = compilePolicy(snap.policy, o.node);
      if (policy.script !== lastPolicy || force) {
        const res = spawnSync('nft', ['-f', '-'], { input: policy.script, encoding: 'utf8' });
        if (res.status !== 0) throw new Error(`nft (policy): ${res.stderr.trim()}`);
        if (policy.script !== lastPolicy) o.log(`policy: ${policy.summary.map((w) => `${w.workload} in[${w.ingress.join(',')}] out[${w.egress.join(',')}]`).join('; ') || 'no local workloads'}`);
        lastPolicy = policy.script;
      }
      const kv = confdKv(snap, o.node);
      // The store holds BGP passwords: root only.
      writeAtomic(KV_FILE, `${JSON.stringify(kv, Object.keys(kv).sort(), 2)}\n`, 0o600);
      const res = spawnSync(o.confd, ['-confdir', o.confdir, '-kv', KV_FILE, '-only', 'bird6'], {
        env: { ...process.env, NODENAME: o.node, CALICO_ROUTER_ID: 'hash', PATH: `${o.svDir}:${process.env.PATH ?? ''}` },
        encoding: 'utf8',
      });
      const out = `${res.stdout ?? ''}${res.stderr ?? ''}`.trim();
      if (res.status !== 0) throw new Error(`n6-confd: ${out || `exit ${res.status}`}`);
      for (const line of out.split('\n')) if (line.endsWith(' updated')) o.log(`confd: ${line}`);
      try {
        if (await syncAllocations(o, block)) o.log(`IPAM: block ${formatPrefix(block)} allocations updated from host-local's leases`);
      } catch (e) {
        if (!(e instanceof KubeError && e.status === 409)) throw e; // written meanwhile: next round
      }
      bird.ensure();
      if (lastError) o.log('recovered');
      lastError = '';
    } catch (e) {
      const msg = (e as Error).message;
      if (msg !== lastError) o.log(`error: ${msg}`);
      lastError = msg;
    }
    await sleep(o.intervalMs ?? 1000);
  }
}
