/**
 * What a client sees while a node dies: verify hangs a worker that holds an
 * echo pod (SIGSTOP of every process on it, as the failover checks do) while
 * the internet's client keeps new connections and established ones going to
 * echo-cluster (ECMP over every node, kube-proxy to any pod) and echo-local
 * (a /128 from the pods' nodes only), and keeps the hang until the node's pod
 * has left echo-cluster's endpoints (the node controller's verdict), then a
 * few seconds more. The figures go in verify's report (clientView) and in
 * `npm run bench -- failover`.
 */
import { labProgramArgv } from '../programLaunch.js';
import { spawn } from 'node:child_process';
import type { KubeClient } from '../../../kube/client.js';
import { containsAddress, formatAddress, parseAddress, parsePrefix } from '../../../net/ipv6.js';
import type { LabContext } from '../lab.js';
import { establishedSessions } from '../lab.js';
import { namespacePids } from '../machine/netns.js';
import { signal } from '../machine/process.js';
import { CODE_ROOT } from '../codeRoot.js';
import { machinesBelow } from '../topology.js';
import { type CheckFn, type Families } from './check.js';
import { type PodItem } from './probes.js';
import { clientViewLines, summarizeClientView, type ClientStreamResult, type ClientView } from './clientViewSummary.js';

/** How long after the pod left the endpoints new connections may still fail: kube-proxy's sync (1 s) and a SYN's retransmission. */
const AFTER_ENDPOINTS_MS = 5_000;
/** The hang is kept this long after the pod left the endpoints, to see that failures stopped. */
const TAIL_MS = 6_000;
/** Well beyond the node controller's grace (NODE_FAILURE in lib/render/kubeadm.ts: 20 s; Kubernetes' default is 50 s): a guard against a hang that never ends. */
const MAX_HANG_MS = 120_000;

interface Stream {
  readonly ready: Promise<void>;
  stop(): Promise<ClientStreamResult>;
}

function startStream(ctx: LabContext, targets: Record<string, string>): Stream {
  const argv = ['netns', 'exec', ctx.topology.internet.ns, ...labProgramArgv('clientStream')];
  for (const [name, url] of Object.entries(targets)) argv.push('--target', `${name}=${url}`);
  argv.push('--interval-ms', '50', '--timeout-ms', '3000', '--established', '12', '--duration', String((MAX_HANG_MS + 60_000) / 1000));
  const child = spawn('ip', argv, { cwd: CODE_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((res) => child.on('close', res));
  const ready = new Promise<void>((res, rej) => {
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
      if (err.includes('streaming')) res();
    });
    void exited.then((code) => rej(new Error(`the client stream ended before it streamed (exit ${code}): ${err.trim().slice(0, 300)}`)));
  });
  return {
    ready,
    async stop() {
      child.kill('SIGTERM');
      const code = await exited;
      if (code !== 0) throw new Error(`the client stream failed (exit ${code}): ${err.trim().slice(0, 300)}`);
      return JSON.parse(out.trim().split('\n').pop() ?? '') as ClientStreamResult;
    },
  };
}

const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));

/** The ready endpoints' addresses of a Service. */
async function readyEndpoints(admin: KubeClient, ns: string, service: string): Promise<Set<string>> {
  const slices = await admin.get<{ items: Array<{ endpoints?: Array<{ addresses: string[]; conditions?: { ready?: boolean } }> }> }>(
    `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices?labelSelector=${encodeURIComponent(`kubernetes.io/service-name=${service}`)}`,
  );
  return new Set(slices.items.flatMap((s) => s.endpoints ?? []).filter((e) => e.conditions?.ready !== false).flatMap((e) => e.addresses.map((a) => formatAddress(parseAddress(a)))));
}

export interface ClientViewRun {
  readonly view: ClientView;
  /** The hung node's pod left echo-cluster's endpoints while it was hung. */
  readonly endpointsLeft: boolean;
  /** The node back in BGP with its routers and its echo pod back in the endpoints, after the hang (within 120 s). */
  readonly back: boolean;
  readonly backMs: number;
}

/** Hangs a worker with an echo pod under the client stream; what the client saw, or why it cannot be done on this lab. */
export async function measureClientView(ctx: LabContext, admin: KubeClient): Promise<ClientViewRun | { readonly cannot: string }> {
  const t = ctx.topology;
  const pods = (await admin.get<{ items: PodItem[] }>('/api/v1/namespaces/echo/pods?labelSelector=app%3Decho')).items.filter((p) => p.spec.nodeName && p.status.podIP);
  const podNodes = new Set(pods.map((p) => p.spec.nodeName!));
  const victim = t.machines.find((m) => m.machine.role !== 'control-plane' && podNodes.has(m.machine.name));
  if (!victim || podNodes.size < 2) return { cannot: !victim ? 'no worker runs an echo pod: hanging a control plane is the API check' : 'every echo pod runs on one node: with it hung none is left' };
  const external = async (name: string) => (await admin.get<{ spec: { externalIPs?: string[] } }>(`/api/v1/namespaces/echo/services/${name}`)).spec.externalIPs?.[0];
  const cluster = await external('echo-cluster');
  const local = await external('echo-local');
  if (!cluster || !local) throw new Error('verify: echo-cluster and echo-local need an external IP each (clusters/<name>/apps/public-addresses.yaml)');
  const victimPods = new Set(pods.filter((p) => p.spec.nodeName === victim.machine.name).map((p) => formatAddress(parseAddress(p.status.podIP!))));

  // The node a client address names: a machine's own address, or an address of its pod blocks (kube-proxy masquerades to one).
  const affinities = await admin.get<{ items: Array<{ spec?: { node?: string; cidr?: string; state?: string } }> }>('/apis/crd.projectcalico.org/v1/blockaffinities');
  const blocks = affinities.items.filter((a) => a.spec?.node && a.spec.cidr).map((a) => ({ node: a.spec!.node!, prefix: parsePrefix(a.spec!.cidr!) }));
  const entryOf = (client: string): string | undefined => {
    try {
      const a = parseAddress(client);
      return t.machines.find((m) => formatAddress(parseAddress(m.address)) === formatAddress(a))?.machine.name ?? blocks.find((b) => containsAddress(b.prefix, a))?.node;
    } catch {
      return undefined;
    }
  };

  const pids = await namespacePids(ctx.runner, victim.ns);
  const stream = startStream(ctx, { 'echo-cluster': `http://[${cluster}]/`, 'echo-local': `http://[${local}]/` });
  let hungAt = 0;
  let resumedAt = 0;
  let endpointsLeftAt: number | undefined;
  let result: ClientStreamResult;
  try {
    await stream.ready;
    await sleep(2000);
    hungAt = Date.now();
    for (const pid of pids) signal(pid, 'SIGSTOP');
    try {
      while (Date.now() - hungAt < MAX_HANG_MS) {
        const ready = await readyEndpoints(admin, 'echo', 'echo-cluster').catch(() => undefined);
        if (ready && ![...victimPods].some((ip) => ready.has(ip))) {
          endpointsLeftAt = Date.now();
          break;
        }
        await sleep(250);
      }
      await sleep(TAIL_MS);
    } finally {
      resumedAt = Date.now();
      for (const pid of pids) signal(pid, 'SIGCONT');
    }
  } finally {
    result = await stream.stop();
  }
  const view = summarizeClientView(result, { victim: victim.machine.name, hungAt, resumedAt, ...(endpointsLeftAt !== undefined ? { endpointsLeftAt } : {}) }, entryOf);
  for (const line of clientViewLines(view)) ctx.log(`verify: ${line}`);
  ctx.log(`verify: ${victim.machine.name}'s pod left echo-cluster's endpoints ${endpointsLeftAt !== undefined ? `${((endpointsLeftAt - hungAt) / 1000).toFixed(1)} s after the hang` : `not within ${MAX_HANG_MS / 1000} s`}`);

  // Leave the lab as verify found it: the node back in BGP, Ready, its pods in the endpoints again.
  const start = Date.now();
  let back = false;
  while (!back && Date.now() - start < 120_000) {
    const sessions = await Promise.all(t.routers.filter((r) => machinesBelow(t, r).some((m) => m.machine.name === victim.machine.name)).map((r) => establishedSessions(ctx.runner, r.ns, [victim.address])));
    const ready = await readyEndpoints(admin, 'echo', 'echo-cluster').catch(() => new Set<string>());
    back = sessions.every((n) => n === 1) && [...victimPods].every((ip) => ready.has(ip));
    if (!back) await sleep(1000);
  }
  return { view, endpointsLeft: endpointsLeftAt !== undefined, back, backMs: Date.now() - start };
}

export async function verifyClientView(ctx: LabContext, admin: KubeClient, check: CheckFn, families: Families): Promise<ClientView | undefined> {
  const run = await measureClientView(ctx, admin);
  if ('cannot' in run) {
    families.cannot('client-during-node-hang', run.cannot);
    return undefined;
  }
  const { view } = run;
  const name = view.victim;
  const [ecmp, loc] = [view.targets.find((x) => x.target === 'echo-cluster')!, view.targets.find((x) => x.target === 'echo-local')!];
  // echo-local: the hung node's /128 is withdrawn by BFD (or the hold time), then every flow goes to a live pod's node.
  const withdrawMs = (ctx.timers.bfd ? 0 : ctx.timers.hold * 1000) + 3000;
  const lastOf = (x: typeof ecmp) => (x.lastFailureMs === undefined ? 'no failure' : `the last failure ${(x.lastFailureMs / 1000).toFixed(1)} s after the hang`);
  check(
    `client/echo-local/new-connections-with-${name}-hung`,
    `every new connection answered from ${withdrawMs / 1000} s after the hang (the routers' withdrawal)`,
    `${loc.failedWhileHung}/${loc.attemptsWhileHung} failed, ${lastOf(loc)}`,
    loc.lastFailureMs === undefined || loc.lastFailureMs < withdrawMs,
  );
  check(
    `client/echo-local/established-with-${name}-hung`,
    `0 of ${loc.throughSurvivors} connections to pods on surviving nodes broke`,
    `${loc.brokeThroughSurvivors} of ${loc.throughSurvivors} connections to pods on surviving nodes broke`,
  );
  // echo-cluster: kube-proxy on every node keeps sending a share of new flows to the hung node's pod until it leaves the endpoints.
  const left = view.endpointsLeftMs;
  check(
    `client/echo-cluster/new-connections-with-${name}-hung`,
    `every new connection answered from ${AFTER_ENDPOINTS_MS / 1000} s after ${name}'s pod left the endpoints`,
    left === undefined ? `its pod still in the endpoints after ${MAX_HANG_MS / 1000} s` : `${ecmp.failedWhileHung}/${ecmp.attemptsWhileHung} failed, ${lastOf(ecmp)}, the pod out of the endpoints after ${(left / 1000).toFixed(1)} s`,
    left !== undefined && (ecmp.lastFailureMs === undefined || ecmp.lastFailureMs < left + AFTER_ENDPOINTS_MS),
  );

  check(`client/${name}-back-after-hang`, 'BGP sessions and its echo pod back in the endpoints within 120 s', run.back ? 'BGP sessions and its echo pod back in the endpoints within 120 s' : 'not back after 120 s');
  return view;
}
