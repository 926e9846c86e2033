/**
 * The lab's Kubernetes, for real: every machine boots from the bootstrap a
 * real machine runs (boot.ts: `kubeadm init` or `kubeadm join` whole, from
 * its boot unit), static pods run by the lab's process kubelet, stacked
 * etcd, and the API endpoint on the `kubernetes` Service's ClusterIP.
 *
 * The order of operations breaks the ClusterIP's chicken-and-egg:
 *   1. the first control plane's bootstrap translates the ClusterIP to its
 *      own API server (apiBootstrapNat), so its own programs reach the API
 *      before anything is routed;
 *   2. Calico's datastore is filled (CRDs, the rendered fabric, the BGP
 *      password Secret) and the first node's networking starts: kube-proxy,
 *      then its BGP agent, which announces the Service range — the other
 *      machines now reach the ClusterIP through the routers (their static
 *      default), i.e. the first control plane;
 *   3. every other machine joins through that endpoint and starts its
 *      networking in the same order (kube-proxy before its announcement, so
 *      a machine never attracts Service traffic it cannot translate);
 *   4. each control plane's API handover unit drops its translation once
 *      its own kube-proxy serves the ClusterIP (connections made through it
 *      keep theirs): the Service range, announced by every machine, carries
 *      the endpoint (ECMP to any machine, kube-proxy to any healthy API
 *      server).
 */
import { labProgramArgv } from '../programLaunch.js';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { waitUntil, type Look } from '../../../phases/wait.js';
import { kubeClient, type KubeClient } from '../../../kube/client.js';
import { formatAddress } from '../../../net/ipv6.js';
import { probeFrom } from '../verify/probes.js';
import { API_SERVER_PORT } from '../../../render/kubeadm.js';
import { pidAlive } from '../provider/daemons.js';
import type { LabContext, Phase } from '../lab.js';
import { CODE_ROOT } from '../codeRoot.js';
import { BGP_SESSIONS_PHASE, sessionEstablished } from '../lab.js';
import { bgpPasswordSecret, CALICO_NAMESPACE, CALICO_NODE_SERVICE_ACCOUNT } from '../../../render/calico.js';
import { calicoCrds, calicoNodeRbac, FIELD_MANAGER, installConfdFolder } from './calicoInstall.js';
import { applyObjects, crdsEstablished, type KubeObject } from '../../../kube/objects.js';
import { confdBinary } from '../../../toolchain/pins.js';
import { diskPath, ensureMachineMounts, mountNsFile, runOnMachine } from '../machine/machine.js';
import { LAB_INTERNET_HOSTS } from '../provider/provider.js';
import { machineBgpPasswords } from '../state.js';
import { routersAbove, type MachineNode } from '../topology.js';
import { bootMachine, bootState, clusterConfigWithoutSecrets, handoverState, KUBECONFIG_USER_CONFIG, LAB_PATH } from './boot.js';

function machineRoot(ctx: LabContext, m: MachineNode): string {
  return join(ctx.paths.machine(m.machine.name), 'root');
}

function apiServerAddress(ctx: LabContext): string {
  return formatAddress(ctx.cluster.plan.apiServer);
}

async function kubeadm(ctx: LabContext, m: MachineNode, args: readonly string[], timeoutMs = 120_000) {
  return runOnMachine(ctx.runner, m.ns, join(ctx.binDir, 'kubeadm'), args, { timeoutMs, env: { ...process.env, PATH: LAB_PATH } });
}

export function adminClient(ctx: LabContext, server?: string): KubeClient {
  const first = ctx.topology.machines[0]!;
  const text = readFileSync(join(machineRoot(ctx, first), 'etc/kubernetes/admin.conf'), 'utf8');
  return kubeClient(text, server ? { server } : {});
}

/** The bring-up's waits: a look a second, every failed look logged; a FatalError ends the wait. */
function waitFor(what: string, timeoutMs: number, check: (look?: Look) => Promise<boolean>, log: (l: string) => void): Promise<void> {
  return waitUntil(what, check, { timeoutMs, intervalMs: 1000, log, fatal: (e) => e instanceof FatalError });
}

export async function readyz(client: KubeClient): Promise<boolean> {
  const body = await client.request<string>('GET', '/readyz');
  return String(body).trim() === 'ok';
}

/** Starts the machine's kubelet (the lab's), unless it runs; true when started. */
export function startKubelet(ctx: LabContext, m: MachineNode): boolean {
  const dir = ctx.paths.machine(m.machine.name);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const pidFile = join(dir, 'kubelet.pid');
  if (pidAlive(pidFile)) return false;
  const out = openSync(join(ctx.paths.logs, `${m.machine.name}.kubelet.log`), 'a');
  const args = [
    `--net=/run/netns/${m.ns}`,
    `--mount=${mountNsFile(m.ns)}`,
    `--wd=${CODE_ROOT}`,
    '--',
    // Restarted when it fails, as systemd restarts a kubelet; a clean exit (SIGTERM) ends the loop.
    'sh',
    '-c',
    'until "$@"; do echo "kubelet exited ($?), restarting in 2 s"; sleep 2; done',
    'kubelet',
    ...labProgramArgv('kubelet'),
    '--machine',
    m.machine.name,
    '--address',
    m.address,
    '--version',
    ctx.cluster.spec.kubernetesVersion,
    '--bin',
    ctx.binDir,
    '--logs',
    ctx.paths.logs,
    '--status',
    join(dir, 'kubelet-status.json'),
    '--processes',
    join(dir, 'processes.json'),
    '--cni-bin',
    ctx.cniBinDir,
    '--code-root',
    CODE_ROOT,
  ];
  const child = spawn('nsenter', args, { cwd: CODE_ROOT, detached: true, stdio: ['ignore', out, out] });
  writeFileSync(pidFile, `${child.pid}\n`);
  child.unref();
  return true;
}

/** Fails at once (instead of waiting out a timeout) when a machine's kubelet is gone. */
function assertKubeletAlive(ctx: LabContext, m: MachineNode): void {
  if (!pidAlive(join(ctx.paths.machine(m.machine.name), 'kubelet.pid'))) {
    throw new FatalError(`the lab kubelet of ${m.machine.name} is not running: see ${join(ctx.paths.logs, `${m.machine.name}.kubelet.log`)}`);
  }
}

/**
 * The machine image's /etc/resolv.conf: the provider's resolver over IPv4
 * only, as Equinix Metal's images pointed at its IPv4 resolvers
 * (147.75.207.207, .208). An IPv6-only pod cannot reach it: the cluster's
 * DNS must not forward there directly.
 */
export function writeProviderResolvConf(root: string): void {
  const file = diskPath(root, '/etc/resolv.conf');
  const text = `# The lab provider's resolver (IPv4 only, as Equinix Metal's were)\nnameserver ${LAB_INTERNET_HOSTS.resolver.ipv4}\n`;
  if (existsSync(file) && readFileSync(file, 'utf8') === text) return;
  mkdirSync(dirname(file), { recursive: true });
  rmSync(file, { force: true });
  writeFileSync(file, text);
}

function cacheDir(ctx: LabContext): string {
  return join(ctx.binDir, '..');
}

/** One process the machine's kubelet supervises (its processes.json). */
export type ProcessEntry = { id: string; argv: string[]; env?: Record<string, string> };

/**
 * Adds or replaces one of the processes the machine's kubelet supervises
 * (processes.json); true when the entry is new or changed (the kubelet
 * starts or restarts it).
 */
export function setProcess(ctx: LabContext, m: MachineNode, entry: ProcessEntry): boolean {
  const file = join(ctx.paths.machine(m.machine.name), 'processes.json');
  const list: { processes: ProcessEntry[] } = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { processes: ProcessEntry[] }) : { processes: [] };
  const old = list.processes.find((p) => p.id === entry.id);
  if (old && JSON.stringify(old) === JSON.stringify(entry)) return false;
  const processes = [...list.processes.filter((p) => p.id !== entry.id), entry].sort((a, b) => a.id.localeCompare(b.id));
  writeSecretFile(file, `${JSON.stringify({ processes }, null, 2)}\n`);
  return true;
}

const memo = new WeakMap<LabContext, Map<string, Promise<string>>>();

/** A client certificate kubeconfig from the cluster CA (kubeadm kubeconfig user on the first control plane), made once per run. */
function userKubeconfig(ctx: LabContext, client: string): Promise<string> {
  let m = memo.get(ctx);
  if (!m) memo.set(ctx, (m = new Map()));
  let p = m.get(client);
  if (!p) {
    const cp1 = ctx.topology.machines[0]!;
    p = kubeadm(ctx, cp1, ['kubeconfig', 'user', '--client-name', client, '--config', KUBECONFIG_USER_CONFIG]).then((r) => r.stdout);
    m.set(client, p);
  }
  return p;
}

/**
 * kube-proxy as kubeadm deploys it: its DaemonSet's pod on the machine (the
 * host network, kubeadm's ConfigMap, the kube-proxy ServiceAccount's token),
 * run by the machine's kubelet once it is registered. Waits until the pod runs.
 * After a full restart nothing here runs: the kubelet finds the pod through the
 * API, which a worker reaches through the ClusterIP by the routers until its own
 * kube-proxy serves it (the service loop prevention drops forwarded traffic only).
 */
async function kubeProxyPod(ctx: LabContext, m: MachineNode): Promise<void> {
  const client = adminClient(ctx, `https://[${ctx.topology.machines[0]!.address}]:${API_SERVER_PORT}`);
  await waitFor(`the kube-proxy DaemonSet's pod running on ${m.machine.name}`, 120_000, async (look) => {
    assertKubeletAlive(ctx, m);
    const pods = (await client.get<{ items: Array<{ metadata: { name: string }; spec: { nodeName?: string }; status: { phase?: string; containerStatuses?: Array<{ state?: { running?: object; waiting?: { reason?: string; message?: string } } }> } }> }>(
      `/api/v1/namespaces/kube-system/pods?labelSelector=${encodeURIComponent('k8s-app=kube-proxy')}&fieldSelector=${encodeURIComponent(`spec.nodeName=${m.machine.name}`)}`,
    )).items;
    const state = pods[0]?.status.containerStatuses?.[0]?.state;
    look?.seen(pods[0] ? `${pods[0].metadata.name}: ${pods[0].status.phase ?? '?'}${state?.waiting ? ` (${state.waiting.reason}: ${state.waiting.message ?? ''})` : ''}` : 'no pod yet');
    return state?.running !== undefined;
  }, ctx.log);
}

/** Where kubectl apply puts a kind first: Namespaces and CRDs before what lives in them or is of their kinds. */
const APPLY_FIRST = ['Namespace', 'CustomResourceDefinition'];

/**
 * A kustomization built with the kustomize inside the pinned kubectl (`kubectl kustomize`, no API call),
 * then server-side applied through the product's client, Namespaces and CRDs first: what Flux does with a path.
 */
async function kustomizeApply(ctx: LabContext, client: KubeClient, dir: string): Promise<number> {
  const built = await ctx.runner.run(join(ctx.binDir, 'kubectl'), ['kustomize', dir], { timeoutMs: 60_000 });
  const objects = parseAllDocuments(built.stdout)
    .map((d) => d.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => o !== null);
  const rank = (o: KubeObject) => (APPLY_FIRST.includes(o.kind) ? APPLY_FIRST.indexOf(o.kind) : APPLY_FIRST.length);
  return applyObjects(client, [...objects].sort((a, b) => rank(a) - rank(b)), FIELD_MANAGER);
}

/** The lab's BGP agent (ours, in place of calico-node: lib/platforms/lab/bgpAgent.ts) under the machine's kubelet. */
async function startBgpAgent(ctx: LabContext, m: MachineNode): Promise<void> {
  // calico-node's identity: its ServiceAccount's user name, bound by calicoNodeRbac() and the rendered Role for the BGP passwords.
  const conf = await userKubeconfig(ctx, `system:serviceaccount:${CALICO_NAMESPACE}:${CALICO_NODE_SERVICE_ACCOUNT}`);
  writeSecretFile(join(machineRoot(ctx, m), 'etc/calico/calico-node.kubeconfig'), conf);
  // Through the first control plane's own address: the ClusterIP is not announced before the first agent runs.
  const confdir = await installConfdFolder(ctx, m, adminClient(ctx, `https://[${ctx.topology.machines[0]!.address}]:${API_SERVER_PORT}`));
  const cache = cacheDir(ctx);
  setProcess(ctx, m, {
    id: 'calico-node/bgp-agent',
    argv: [
      ...labProgramArgv('bgp-agent'),
      '--node',
      m.machine.name,
      '--address',
      m.address,
      '--prefix-length',
      String(m.prefixLength),
      '--kubeconfig',
      '/etc/calico/calico-node.kubeconfig',
      '--confd',
      confdBinary(cache),
      '--confdir',
      confdir,
      '--sv-dir',
      join(CODE_ROOT, 'lib/platforms/lab/programs/sbin'),
    ],
  });
}

/**
 * A joined machine's networking, in order: kube-proxy until it translates
 * the API ClusterIP, then the BGP agent until both routers have its session.
 */
export async function nodeNetworking(ctx: LabContext, m: MachineNode): Promise<void> {
  await kubeProxyPod(ctx, m);
  const ip = apiServerAddress(ctx);
  await waitFor(`kube-proxy on ${m.machine.name} serving the API ClusterIP`, 120_000, async () => {
    assertKubeletAlive(ctx, m);
    return (await runOnMachine(ctx.runner, m.ns, 'nft', ['list', 'table', 'ip6', 'kube-proxy'], { allowFail: true })).stdout.includes(ip);
  }, ctx.log);
  await startBgpAgent(ctx, m);
  // A guard against a hang, not a target: a replaced first control plane under a loaded CI took over 120 s here.
  await waitFor(`${m.machine.name}'s BGP sessions with both routers`, 300_000, async () => {
    assertKubeletAlive(ctx, m);
    const up = await Promise.all(routersAbove(ctx.topology, m).map((r) => sessionEstablished(ctx.runner, r.ns, m.address)));
    return up.every(Boolean);
  }, ctx.log);
}

/**
 * Boots the machine from its bootstrap (boot.ts) and waits until its boot unit is done: its kubeadm
 * init or join succeeded. The unit retries by itself; a wait that ends says where it stands and why.
 */
export async function boot(ctx: LabContext, m: MachineNode): Promise<string> {
  assertKubeletAlive(ctx, m);
  const how = await bootMachine(ctx, m);
  let last = '';
  try {
    await waitFor(`${m.machine.name}'s bootstrap (kubeadm ${m === ctx.topology.machines[0] ? 'init' : 'join'})`, 600_000, async () => {
      assertKubeletAlive(ctx, m);
      const state = bootState(ctx, m);
      if (state.status !== last) ctx.log(`${m.machine.name} boot: ${(last = state.status)}`);
      return state.done;
    }, ctx.log);
  } catch (e) {
    const state = bootState(ctx, m);
    throw new Error(`${(e as Error).message}\n${m.machine.name}'s boot: ${state.status}\n${state.log}`);
  }
  return how;
}

/** An error no retry can fix. */
class FatalError extends Error {
  override name = 'FatalError';
}

function writeSecretFile(path: string, content: string): boolean {
  mkdirSync(join(path, '..'), { recursive: true });
  if (existsSync(path) && readFileSync(path, 'utf8') === content) return false;
  writeFileSync(path, content, { mode: 0o600 });
  return true;
}

/** The configuration the lab's `kubeadm kubeconfig user` runs with on the first control plane (no secret in it). */
export function writeUserConfig(ctx: LabContext, cp1: MachineNode): void {
  writeSecretFile(join(machineRoot(ctx, cp1), KUBECONFIG_USER_CONFIG), clusterConfigWithoutSecrets(ctx, cp1));
}

/** The machine's disk and its mount namespace, and the provider's resolv.conf on it (idempotent). */
export async function machineDisk(ctx: LabContext, m: MachineNode): Promise<void> {
  writeProviderResolvConf(machineRoot(ctx, m));
  await ensureMachineMounts(ctx.runner, m.ns, machineRoot(ctx, m), ctx.paths.root);
}

export const CONTROL_PLANE_PHASES: readonly Phase[] = [
  {
    name: 'machine mounts',
    async run(ctx) {
      for (const m of ctx.topology.machines) await machineDisk(ctx, m);
      return `a disk (/etc, /usr/local, /var over the host's), private /etc/kubernetes, /var/lib/etcd, /run ... on ${ctx.topology.machines.length} machines`;
    },
  },
  {
    name: 'kubelets',
    async run(ctx) {
      let started = 0;
      for (const m of ctx.topology.machines) if (startKubelet(ctx, m)) started++;
      return `${started} started, ${ctx.topology.machines.length - started} running`;
    },
  },
  {
    name: 'first control plane',
    async run(ctx) {
      const cp1 = ctx.topology.machines[0]!;
      const how = await boot(ctx, cp1);
      writeUserConfig(ctx, cp1);
      await waitFor('the first API server answering /readyz', 180_000, async () => {
        assertKubeletAlive(ctx, cp1);
        return readyz(adminClient(ctx, `https://[${cp1.address}]:${API_SERVER_PORT}`));
      }, ctx.log);
      return `${cp1.machine.name} (${how}): etcd, kube-apiserver on [${cp1.address}]:${API_SERVER_PORT}, controller-manager, scheduler; endpoint ${apiServerAddress(ctx)} held by ${cp1.machine.name}`;
    },
  },
  {
    name: 'Calico datastore',
    async run(ctx) {
      const cp1 = ctx.topology.machines[0]!;
      // Nothing is routed to the ClusterIP yet: talk to the first API server directly.
      const server = `https://[${cp1.address}]:${API_SERVER_PORT}`;
      const admin = adminClient(ctx, server);
      const crds = calicoCrds(cacheDir(ctx));
      await applyObjects(admin, crds, FIELD_MANAGER);
      await waitFor('the Calico CRDs established', 60_000, () => crdsEstablished(admin, crds), ctx.log);
      await applyObjects(admin, calicoNodeRbac(), FIELD_MANAGER);
      // The apply flow's job on the cloud: the BGP passwords, never in git.
      await applyObjects(admin, [bgpPasswordSecret(machineBgpPasswords(ctx.paths, ctx.topology))], FIELD_MANAGER);
      const fabric = await kustomizeApply(ctx, admin, join(ctx.repoRoot, 'clusters', ctx.cluster.spec.name, 'fabric'));
      await nodeNetworking(ctx, cp1);
      return `${crds.length} CRDs (Calico v3.28.5), calico-node RBAC, Secret bgp-md5, ${fabric} objects of clusters/${ctx.cluster.spec.name}/fabric; ${cp1.machine.name} announces`;
    },
  },
  {
    name: 'machines join',
    async run(ctx) {
      // The control planes' joins one after another (kubeadm joins stacked etcd members one at a time),
      // the workers side by side with them; each machine's networking as soon as it joined, while the
      // next control plane joins.
      const controlPlanes = ctx.topology.machines.filter((m) => m.machine.role === 'control-plane').slice(1);
      const workers = ctx.topology.machines.filter((m) => m.machine.role === 'worker');
      const joined: string[] = [];
      const networking = async (m: MachineNode, how: string, t: number): Promise<void> => {
        await nodeNetworking(ctx, m);
        if (m.machine.role === 'control-plane') {
          await waitFor(`${m.machine.name}'s API server answering /readyz`, 180_000, () => readyz(adminClient(ctx, `https://[${m.address}]:${API_SERVER_PORT}`)), ctx.log);
        }
        if (how !== 'done') joined.push(`${m.machine.name} ${((Date.now() - t) / 1000).toFixed(1)} s`);
      };
      const results = await Promise.allSettled([
        (async () => {
          const after: Array<Promise<void>> = [];
          try {
            for (const m of controlPlanes) {
              const t = Date.now();
              const how = await boot(ctx, m);
              after.push(networking(m, how, t));
            }
          } finally {
            const done = await Promise.allSettled(after);
            const failed = done.find((r): r is PromiseRejectedResult => r.status === 'rejected');
            if (failed) throw failed.reason;
          }
        })(),
        ...workers.map(async (m) => {
          const t = Date.now();
          await networking(m, await boot(ctx, m), t);
        }),
      ]);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      if (joined.length === 0) return 'all joined';
      return `side by side: control planes ${controlPlanes.map((m) => m.machine.name).join(', ') || 'none'} one after another (stacked etcd), workers ${workers.map((m) => m.machine.name).join(', ') || 'none'} together; joined from their bootstrap, each with its networking: ${joined.join(', ')}`;
    },
  },
  {
    name: 'node networking',
    async run(ctx) {
      // Done machine by machine as they joined; this finds it done (or finishes it on a re-run).
      for (const m of ctx.topology.machines) await nodeNetworking(ctx, m);
      return `kube-proxy (nftables) and the BGP agent on ${ctx.topology.machines.length} machines`;
    },
  },
  BGP_SESSIONS_PHASE,
  {
    name: 'API endpoint handover',
    async run(ctx) {
      // Each control plane's handover unit drops its translation once its own kube-proxy serves the ClusterIP.
      const controlPlanes = ctx.topology.machines.filter((m) => m.machine.role === 'control-plane');
      await waitFor('every control plane\'s API handover', 120_000, async () => {
        const states = controlPlanes.map((m) => `${m.machine.name}: ${handoverState(ctx, m)}`);
        ctx.log(`handover: ${states.join('; ')}`);
        return controlPlanes.every((m) => handoverState(ctx, m) === 'handed over');
      }, ctx.log);
      await waitFor('the API server through its ClusterIP (ECMP, kube-proxy)', 60_000, () => readyz(adminClient(ctx)), ctx.log);
      return `${apiServerAddress(ctx)}:443 now reached through the Service range from every machine (${controlPlanes.length} control planes handed over)`;
    },
  },
  {
    name: 'workloads',
    async run(ctx) {
      // The zero-trust baseline, then the cluster's apps overlay, in the order of the Flux chain
      // (fabric -> policies -> apps), built with the kustomize inside kubectl and server-side applied.
      const admin = adminClient(ctx);
      await kustomizeApply(ctx, admin, join(ctx.repoRoot, 'policies', 'baseline'));
      const apps = await kustomizeApply(ctx, admin, join(ctx.repoRoot, 'clusters', ctx.cluster.spec.name, 'apps'));
      await waitFor('the demo pods Ready', 120_000, async () => {
        const deployments = await admin.get<{ items: Array<{ spec: { replicas?: number }; status: { availableReplicas?: number; updatedReplicas?: number } }> }>('/apis/apps/v1/namespaces/echo/deployments');
        return deployments.items.length > 0 && deployments.items.every((d) => (d.status.availableReplicas ?? 0) === (d.spec.replicas ?? 1) && (d.status.updatedReplicas ?? 0) === (d.spec.replicas ?? 1));
      }, ctx.log);
      // Available pods are not yet served everywhere: wait until every machine's kube-proxy has the
      // endpoints, i.e. the public Service answers new connections from the internet, 10 in a row.
      // An attempt that times out is a node that did not yet translate the Service (its packets dropped
      // by the loop prevention): the lab test wants none, the Service known everywhere long before.
      const svc = await admin.get<{ spec: { clusterIP: string; externalIPs?: string[] } }>('/api/v1/namespaces/echo/services/echo-cluster');
      const served: string[] = [];
      for (const ip of [svc.spec.clusterIP, ...(svc.spec.externalIPs ?? [])]) {
        const probe = await probeFrom(ctx, ctx.topology.internet.ns, { url: `http://[${ip}]/healthz`, need: 10, timeoutS: 60 });
        if (!probe.ok) throw new Error(`echo-cluster on ${ip} does not answer the internet: ${probe.successes}/${probe.attempts}, last ${probe.last}`);
        served.push(`${ip} 10 in a row in ${probe.attempts} attempts, ${probe.timeouts} timed out`);
      }
      return `${apps} objects from clusters/${ctx.cluster.spec.name}/apps applied; every Deployment available and served (${served.join('; ')})`;
    },
  },
];
