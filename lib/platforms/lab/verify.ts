/**
 * `npm run lab -- verify`: what the lab claims, checked on the running
 * system. Each check has a name, what was expected, what was observed, and
 * whether they agree; the report is written as JSON.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { credentialsFromKubeconfig, KubeClient } from '../../kube/client.js';
import { formatAddress, formatPrefix, parseAddress, parsePrefix } from '../../net/ipv6.js';
import { namespacePids } from './netns.js';
import { signal } from './process.js';
import type { Runner } from './exec.js';
import type { LabContext } from './lab.js';
import { CODE_ROOT, establishedSessions, readFabric } from './lab.js';
import { bgpPeers } from '../../render/calico.js';
import type { MetalDevice } from '../equinixMetal/metadata.js';

export interface Check {
  readonly name: string;
  readonly expected: string;
  readonly observed: string;
  readonly ok: boolean;
}

export interface VerifyReport {
  readonly cluster: string;
  readonly at: string;
  readonly ok: boolean;
  readonly passed: number;
  readonly failed: number;
  readonly checks: readonly Check[];
}

interface KernelRoute {
  dst: string;
  gateway?: string;
  dev?: string;
  protocol?: string;
  type?: string;
  nexthops?: Array<{ gateway?: string; dev?: string }>;
}

export async function kernelRoutes(r: Runner, ns: string): Promise<KernelRoute[]> {
  const { stdout } = await r.run('ip', ['-j', '-6', 'route', 'show'], { ns });
  return JSON.parse(stdout) as KernelRoute[];
}

/** Next hops of a route in canonical text, sorted. */
export function nextHops(route: KernelRoute | undefined): string[] {
  if (!route) return [];
  const hops = route.nexthops ? route.nexthops.map((h) => h.gateway) : [route.gateway];
  return hops
    .filter((h): h is string => typeof h === 'string')
    .map((h) => formatAddress(parseAddress(h)))
    .sort();
}

function findRoute(routes: readonly KernelRoute[], prefix: string): KernelRoute | undefined {
  const want = formatPrefix(parsePrefix(prefix));
  return routes.find((x) => {
    const dst = x.dst === 'default' ? '::/0' : x.dst.includes('/') ? x.dst : `${x.dst}/128`;
    try {
      return formatPrefix(parsePrefix(dst)) === want;
    } catch {
      return false;
    }
  });
}

async function ping(r: Runner, ns: string, from: string, to: string): Promise<boolean> {
  const res = await r.run('ping', ['-6', '-c', '1', '-W', '2', '-I', from, to], { ns, allowFail: true, timeoutMs: 5000 });
  return res.code === 0;
}

export async function runVerify(ctx: LabContext): Promise<VerifyReport> {
  const { topology: t, runner: r } = ctx;
  const checks: Check[] = [];
  const check = (name: string, expected: string, observed: string, ok = expected === observed) => checks.push({ name, expected, observed, ok });
  const machines = t.machines;
  const plan = ctx.cluster.plan;
  const services = formatPrefix(plan.services);
  const allMachines = machines.map((m) => m.address).sort();

  // Each machine's pod blocks: its confirmed BlockAffinities in Calico's datastore.
  const blocks = new Map<string, string[]>();
  if (existsSync(adminConf(ctx))) {
    const admin = new KubeClient(credentialsFromKubeconfig(readFileSync(adminConf(ctx), 'utf8')));
    const list = await admin
      .get<{ items: Array<{ spec?: { node?: string; cidr?: string; state?: string } }> }>('/apis/crd.projectcalico.org/v1/blockaffinities')
      .catch(() => ({ items: [] }));
    for (const a of list.items) {
      if (a.spec?.state !== 'confirmed' || !a.spec.node || !a.spec.cidr) continue;
      blocks.set(a.spec.node, [...(blocks.get(a.spec.node) ?? []), formatPrefix(parsePrefix(a.spec.cidr))]);
    }
  }
  for (const router of t.routers) {
    const established = await establishedSessions(r, router.ns);
    check(`bgp/${router.ns}/sessions-established`, `${machines.length}`, `${established}`);
    const routes = await kernelRoutes(r, router.ns);
    for (const m of machines) {
      const mine = blocks.get(m.machine.name) ?? [];
      if (mine.length === 0) check(`routes/${router.ns}/pod-block/${m.machine.name}`, 'a confirmed block affinity', 'none in the datastore');
      for (const block of mine) {
        check(`routes/${router.ns}/pod-block/${m.machine.name}/${block}`, `${block} via ${m.address}`, `${block} via ${nextHops(findRoute(routes, block)).join(',') || 'none'}`);
      }
    }
    check(`routes/${router.ns}/services-ecmp`, `${services} via ${allMachines.join(',')}`, `${services} via ${nextHops(findRoute(routes, services)).join(',') || 'none'}`);
  }
  // Each machine reads its own metadata, as a device does; the BGPPeers made from it by the cloud path's
  // code must be exactly the ones rendered into the cluster's tree.
  const fabric = readFabric(ctx);
  for (const m of machines) {
    const res = await r.run('curl', ['-s', '-m', '3', `http://[${t.internet.metadata}]/metadata`], { ns: m.ns, allowFail: true, timeoutMs: 6000 });
    let observed = 'no answer';
    try {
      const device = JSON.parse(res.stdout) as MetalDevice;
      const fromMetadata = JSON.stringify(bgpPeers([device]));
      const rendered = JSON.stringify(fabric.filter((o) => o.kind === 'BGPPeer' && (o.spec as { node?: string }).node === m.machine.name));
      observed = device.hostname !== m.machine.name ? `metadata of ${device.hostname}` : fromMetadata === rendered ? 'its BGPPeers, as rendered' : 'BGPPeers that differ from the rendered ones';
    } catch {
      observed = res.stdout.trim().slice(0, 100) || 'no answer';
    }
    check(`metadata/${m.machine.name}/bgp-peers`, 'its BGPPeers, as rendered', observed);
  }
  for (const m of machines) {
    const routes = await kernelRoutes(r, m.ns);
    const dflt = findRoute(routes, '::/0');
    check(`routes/${m.machine.name}/downward-default`, 'default route from BGP', dflt && dflt.protocol === 'bird' ? 'default route from BGP' : dflt ? `default route (${dflt.protocol ?? 'static'})` : 'none');
    check(`ping/internet->${m.machine.name}`, 'reply', (await ping(r, t.internet.ns, t.internet.client, m.address)) ? 'reply' : 'no reply');
  }
  if (existsSync(adminConf(ctx))) await verifyKubernetes(ctx, check);
  const failed = checks.filter((c) => !c.ok).length;
  return { cluster: t.cluster, at: new Date().toISOString(), ok: failed === 0, passed: checks.length - failed, failed, checks };
}

function adminConf(ctx: LabContext): string {
  return join(ctx.paths.machine(ctx.topology.machines[0]!.machine.name), 'root/etc/kubernetes/admin.conf');
}

export interface ProbeResult {
  readonly ok: boolean;
  readonly attempts: number;
  readonly successes: number;
  readonly consecutive: number;
  readonly ms: number;
  readonly last: string;
}

/** HTTP(S) probes from inside a namespace (scripts/lab/probe.ts), e.g. the internet's client address. */
export async function probeFrom(ctx: LabContext, ns: string, args: { url: string; ca?: string; source?: string; need?: number; timeoutS?: number; expect?: string }): Promise<ProbeResult> {
  const argv = ['--import', 'tsx', join(CODE_ROOT, 'scripts/lab/probe.ts'), '--url', args.url];
  if (args.ca) argv.push('--ca', args.ca);
  if (args.source) argv.push('--source', args.source);
  if (args.need) argv.push('--need', String(args.need));
  if (args.timeoutS) argv.push('--timeout', String(args.timeoutS));
  if (args.expect) argv.push('--expect', args.expect);
  const res = await ctx.runner.run('sh', ['-c', 'cd "$0" && exec "$@"', CODE_ROOT, process.execPath, ...argv], { ns, allowFail: true, timeoutMs: ((args.timeoutS ?? 30) + 15) * 1000 });
  try {
    return JSON.parse(res.stdout.trim().split('\n').pop() ?? '') as ProbeResult;
  } catch {
    return { ok: false, attempts: 0, successes: 0, consecutive: 0, ms: 0, last: (res.stderr || res.stdout).trim().slice(0, 300) };
  }
}

type CheckFn = (name: string, expected: string, observed: string, ok?: boolean) => void;

async function verifyKubernetes(ctx: LabContext, check: CheckFn): Promise<void> {
  const t = ctx.topology;
  const admin = new KubeClient(credentialsFromKubeconfig(readFileSync(adminConf(ctx), 'utf8')));
  const ca = join(ctx.paths.machine(t.machines[0]!.machine.name), 'root/etc/kubernetes/pki/ca.crt');
  const apiServer = formatAddress(ctx.cluster.plan.apiServer);
  const controlPlanes = t.machines.filter((m) => m.machine.role === 'control-plane');

  // From the host, with the kubeconfig kubeadm wrote (server: the ClusterIP).
  let hostReadyz = '';
  try {
    hostReadyz = String(await admin.request('GET', '/readyz')).trim();
  } catch (e) {
    hostReadyz = (e as Error).message;
  }
  check('api/clusterip-from-host-kubeconfig', 'ok', hostReadyz);

  const nodes = await admin.get<{ items: Array<{ metadata: { name: string }; status: { conditions?: Array<{ type: string; status: string }>; addresses?: Array<{ type: string; address: string }> } }> }>('/api/v1/nodes');
  for (const m of t.machines) {
    const n = nodes.items.find((x) => x.metadata.name === m.machine.name);
    const ready = n?.status.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
    const ip = n?.status.addresses?.find((a) => a.type === 'InternalIP')?.address;
    check(`nodes/${m.machine.name}`, `Ready, InternalIP ${m.address}`, n ? `${ready ? 'Ready' : 'NotReady'}, InternalIP ${ip}` : 'not registered');
  }
  const slices = await admin.get<{ items: Array<{ endpoints?: Array<{ addresses: string[] }> }> }>('/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dkubernetes');
  const eps = slices.items.flatMap((sl) => (sl.endpoints ?? []).flatMap((e) => e.addresses)).map((a) => formatAddress(parseAddress(a))).sort();
  check('api/kubernetes-service-endpoints', controlPlanes.map((m) => m.address).sort().join(','), eps.join(','));
  const pods = await admin.get<{ items: Array<{ metadata: { name: string }; status: { phase?: string } }> }>('/api/v1/namespaces/kube-system/pods');
  const etcd = pods.items.filter((p) => p.metadata.name.startsWith('etcd-') && p.status.phase === 'Running').length;
  check('etcd/members-running', `${controlPlanes.length}`, `${etcd}`);

  const fromInternet = () => probeFrom(ctx, t.internet.ns, { url: `https://[${apiServer}]/readyz`, ca, need: 10, timeoutS: 60, expect: 'ok' });
  const normal = await fromInternet();
  check('api/clusterip-from-internet', '10 answers in a row', normal.ok ? '10 answers in a row' : `${normal.successes}/${normal.attempts} answered; last: ${normal.last}`);

  await verifyWorkloads(ctx, admin, check);

  // Hang (SIGSTOP, not kill) one control plane: every process of the machine stops answering.
  const victim = controlPlanes[controlPlanes.length - 1];
  if (victim && controlPlanes.length > 1) {
    const pids = await namespacePids(ctx.runner, victim.ns);
    for (const pid of pids) signal(pid, 'SIGSTOP');
    try {
      const hung = await fromInternet();
      check(
        `api/clusterip-from-internet-with-${victim.machine.name}-hung`,
        '10 answers in a row within 60 s',
        hung.ok ? '10 answers in a row within 60 s' : `${hung.successes}/${hung.attempts} answered; last: ${hung.last}`,
      );
      ctx.log(`verify: with ${victim.machine.name} hung, the API answered 10 in a row after ${hung.ms} ms (${hung.attempts} attempts)`);
    } finally {
      for (const pid of pids) signal(pid, 'SIGCONT');
    }
    // Leave the lab as verify found it: the machine back in BGP and its API server back in the Service.
    const start = Date.now();
    let back = false;
    while (!back && Date.now() - start < 90_000) {
      const sessions = await Promise.all(t.routers.map((r) => establishedSessions(ctx.runner, r.ns)));
      const slices2 = await admin.get<{ items: Array<{ endpoints?: Array<{ addresses: string[] }> }> }>('/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dkubernetes').catch(() => ({ items: [] }));
      const n = slices2.items.flatMap((sl) => sl.endpoints ?? []).length;
      back = sessions.every((c) => c === t.machines.length) && n === controlPlanes.length;
      if (!back) await new Promise((res) => setTimeout(res, 1000));
    }
    check(`recovery/${victim.machine.name}-after-hang`, 'BGP sessions and API endpoint back within 90 s', back ? 'BGP sessions and API endpoint back within 90 s' : 'not back after 90 s');
    ctx.log(`verify: ${victim.machine.name} back in BGP and in the kubernetes Service ${((Date.now() - start) / 1000).toFixed(1)} s after SIGCONT`);
  }
}

interface EchoAnswer {
  pod: string;
  node: string;
  client: string;
}

/** Asks the echo server `count` times over new connections from the internet's client; the answers, parsed. */
async function askEcho(ctx: LabContext, url: string, count: number): Promise<EchoAnswer[] & { retried: number }> {
  // No --interface: the internet's route to the cluster has the client address as its source.
  // A connection that fails is tried once more, as a client would; the first tries are counted apart.
  const once = `curl -s -m 3 '${url}'`;
  const script = `for i in $(seq 1 ${count}); do out=$(${once}); if [ -z "$out" ]; then echo RETRY; out=$(${once}); fi; echo "$out"; done`;
  const res = await ctx.runner.run('sh', ['-c', script], { ns: ctx.topology.internet.ns, allowFail: true, timeoutMs: count * 8000 + 5000 });
  const lines = res.stdout.split('\n');
  return Object.assign(
    lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as EchoAnswer),
    { retried: lines.filter((l) => l === 'RETRY').length },
  );
}

async function verifyWorkloads(ctx: LabContext, admin: KubeClient, check: CheckFn): Promise<void> {
  const client = ctx.topology.internet.client;
  const pods = await admin.get<{ items: Array<{ metadata: { name: string; labels?: Record<string, string> }; spec: { nodeName?: string }; status: { podIP?: string } }> }>('/api/v1/namespaces/echo/pods');
  if (pods.items.length === 0) return;
  for (const p of pods.items.filter((x) => x.metadata.labels?.app === 'echo')) {
    const [answer] = p.status.podIP ? await askEcho(ctx, `http://[${p.status.podIP}]:8080/`, 1) : [];
    check(`pods/echo/${p.metadata.name}/from-internet-no-nat`, `answers from ${p.spec.nodeName}, sees client ${client}`, answer ? `answers from ${answer.node}, sees client ${answer.client}` : 'no answer');
  }
  const svc = await admin.get<{ spec: { clusterIP: string; externalIPs?: string[] } }>('/api/v1/namespaces/echo/services/echo-cluster');
  for (const [what, ip] of [['cluster-ip', svc.spec.clusterIP], ...(svc.spec.externalIPs ?? []).map((x) => ['external-ip', x])] as Array<[string, string]>) {
    const answers = await askEcho(ctx, `http://[${ip}]/`, 20);
    const byPod = new Set(answers.map((a) => a.pod));
    // kube-proxy masquerades external clients to the node that took the flow: the sources show which nodes ECMP chose.
    const ingress = new Set(answers.map((a) => a.client));
    check(`services/echo-cluster/${what}-from-internet`, '20/20 answered, by every echo pod', `${answers.length}/20 answered, by ${byPod.size === pods.items.filter((x) => x.metadata.labels?.app === 'echo').length ? 'every echo pod' : `${byPod.size} pod(s)`}`);
    ctx.log(`verify: echo-cluster ${what} ${ip}: ${answers.length}/20 answered (${answers.retried} on a second try) through ${ingress.size} distinct ingress addresses (ECMP)`);
  }
}
