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
 *   and, when they changed, runs n6-confd over Calico's own BIRD templates, which
 *   writes /etc/calico/confd/config/bird6*.cfg and reloads BIRD with
 *   `sv hup bird6` as confd does;
 * - runsv: keeps Debian's bird6 running on that configuration;
 * - two of Felix's jobs: service loop prevention (lib/calico/loopPrevention.ts)
 *   and policy (lib/calico/policy.ts), as nftables tables re-applied when
 *   the datastore changes and every 30 s.
 *
 * It keeps a copy of the datastore by watches, as confd and Felix do
 * (datastore.ts), and works when the copy changes. Routes to
 * workloads come from the CNI plugin, not from it. See the README.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { KubeError, type KubeClient } from '../../../kube/client.js';
import { formatPrefix, parsePrefix, type Prefix } from '../../../net/ipv6.js';
import { blockAllocations, cidrToName, confirmedAffinity, emptyBlock, freeBlocks } from './ipam.js';
import { confdKv } from './confd.js';
import { Datastore, secretsOf, snapshotOf, type Obj } from './datastore.js';
import { atRealtime } from '../machine/realtime.js';
import { advertisedServiceRanges, loopPreventionMode, loopPreventionScript } from './loopPrevention.js';
import { compilePolicy } from './policy.js';

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

type List<T = Obj> = { items: T[] };

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

/** When confd's templates last changed (their files' times and sizes). */
function templatesStamp(confdir: string): string {
  const dir = join(confdir, 'templates');
  if (!existsSync(dir)) return '';
  return readdirSync(dir)
    .sort()
    .map((f) => {
      const st = statSync(join(dir, f));
      return `${f}:${st.mtimeMs}:${st.size}`;
    })
    .join(',');
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
  // The datastore's copy, kept by watches; a change marks the dataplane for a new pass.
  let dirty = true;
  const datastore = new Datastore(o.client, () => (dirty = true), o.log);
  const watching = datastore.run(signal);
  let lastError = '';
  let lastNft = '';
  let lastPolicy = '';
  let lastKv = '';
  let localSeen = '';
  let localAt = 0;
  // Like Felix, re-apply the whole dataplane now and then, whatever changed (or was removed) behind its back.
  let resyncAt = Date.now() + 30_000;
  while (!signal.aborted) {
    const now = Date.now();
    if (now - localAt >= 1000) {
      // What the datastore does not tell: host-local's leases (a pod started here), confd's templates
      // (the ConfigMap calico-node mounts, written again), and bird6 alive.
      localAt = now;
      const seen = `${[...leases()].sort().join(',')} ${templatesStamp(o.confdir)}`;
      if (seen !== localSeen) {
        dirty = true;
        lastKv = '';
      }
      localSeen = seen;
      if (lastNft) bird.ensure();
    }
    const force = now >= resyncAt;
    if (!(dirty || force) || !datastore.synced) {
      await sleep(o.intervalMs ?? 100);
      continue;
    }
    dirty = false;
    if (force) resyncAt = now + 30_000;
    try {
      const snap = snapshotOf(datastore.lists(), await secretsOf(o.client, o.namespace, datastore.lists().bgpPeers));
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
      const kvText = `${JSON.stringify(kv, Object.keys(kv).sort(), 2)}\n`;
      // The store holds BGP passwords: root only. confd runs when its keys changed (it watches them), or on the resync.
      if (kvText !== lastKv || force) {
        writeAtomic(KV_FILE, kvText, 0o600);
        const res = spawnSync(o.confd, ['-confdir', o.confdir, '-kv', KV_FILE, '-only', 'bird6'], {
          env: { ...process.env, NODENAME: o.node, CALICO_ROUTER_ID: 'hash', PATH: `${o.svDir}:${process.env.PATH ?? ''}` },
          encoding: 'utf8',
        });
        const out = `${res.stdout ?? ''}${res.stderr ?? ''}`.trim();
        if (res.status !== 0) throw new Error(`n6-confd: ${out || `exit ${res.status}`}`);
        for (const line of out.split('\n')) if (line.endsWith(' updated')) o.log(`confd: ${line}`);
        lastKv = kvText;
      }
      try {
        if (await syncAllocations(o, block)) o.log(`IPAM: block ${formatPrefix(block)} allocations updated from host-local's leases`);
      } catch (e) {
        if (!(e instanceof KubeError && e.status === 409)) throw e; // written meanwhile: next round
        dirty = true;
      }
      bird.ensure();
      if (lastError) o.log('recovered');
      lastError = '';
    } catch (e) {
      const msg = (e as Error).message;
      if (msg !== lastError) o.log(`error: ${msg}`);
      lastError = msg;
      dirty = true;
      await sleep(1000);
    }
  }
  await watching;
}
