/**
 * `npm run lab -- verify`: what the lab claims, checked on the running
 * system. Each check has a name, what was expected, what was observed, and
 * whether they agree; the report is written as JSON.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { credentialsFromKubeconfig, KubeClient } from '../../kube/client.js';
import { contains, containsAddress, formatAddress, formatPrefix, parseAddress, parsePrefix } from '../../net/ipv6.js';
import { mermaidTopology, svgTopology, type FabricPicture, type FabricRoute } from '../../report/topology.js';
import { namespacePids } from './netns.js';
import { onPod } from './machine.js';
import { signal } from './process.js';
import type { Runner } from './exec.js';
import type { LabContext } from './lab.js';
import { bgpPeerStates, CODE_ROOT, establishedSessions, readFabric } from './lab.js';
import { bgpPeers } from '../../render/calico.js';
import { FLUX_NAMESPACE } from '../../render/flux.js';
import { FluxNotReadyError, waitForKustomizations, type KustomizationState } from '../../flux/status.js';
import type { MetalDevice } from '../equinixMetal/metadata.js';
import { CHECK_FAMILIES, familyOf, NO_HOST_ROW, notApplicable, type FamilyId, type LabShape } from './checkFamilies.js';

export interface Check {
  readonly name: string;
  /** The family the check belongs to (checkFamilies.ts). */
  readonly family: FamilyId;
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
  /** The lab's shape as verify saw it, and the families that cannot apply to it, each with the reason. */
  readonly shape: LabShape;
  readonly notApplicable: ReadonlyArray<{ readonly family: FamilyId; readonly reason: string }>;
  /** The routes as the routers see them, and that picture as Mermaid (the SVG is written next to the report). */
  readonly fabric: FabricPicture;
  readonly mermaid: string;
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

/** What verify needs to know before it checks: the machines, and whether Flux is installed. */
async function labShape(ctx: LabContext): Promise<LabShape> {
  const machines = ctx.topology.machines;
  const controlPlanes = machines.filter((m) => m.machine.role === 'control-plane').length;
  if (!existsSync(adminConf(ctx))) return { controlPlanes, machines: machines.length, flux: false };
  // A 404 (no CRD, or no GitRepository) is "not installed"; any other error is thrown: verify cannot say.
  const source = await labAdminClient(ctx).find(`/apis/source.toolkit.fluxcd.io/v1/namespaces/${FLUX_NAMESPACE}/gitrepositories/flux-system`);
  return { controlPlanes, machines: machines.length, flux: source !== undefined };
}

/** The families verify runs, and those it cannot, with the reason; the latter can grow while verify runs. */
interface Families {
  applies(family: FamilyId): boolean;
  cannot(family: FamilyId, reason: string): void;
}

export async function runVerify(ctx: LabContext): Promise<VerifyReport> {
  const { topology: t, runner: r } = ctx;
  const shape = await labShape(ctx);
  const skipped = notApplicable(shape);
  const applies = (family: FamilyId) => !skipped.has(family);
  const families: Families = { applies, cannot: (family, reason) => void skipped.set(family, reason) };
  const checks: Check[] = [];
  const check: CheckFn = (name, expected, observed, ok = expected === observed) => checks.push({ name, family: familyOf(name), expected, observed, ok });
  const machines = t.machines;
  const plan = ctx.cluster.plan;
  const services = formatPrefix(plan.services);
  const allMachines = machines.map((m) => m.address).sort();

  // Each machine's pod blocks: its confirmed BlockAffinities in Calico's datastore.
  const blocks = new Map<string, string[]>();
  if (existsSync(adminConf(ctx))) {
    const admin = labAdminClient(ctx);
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
  if (existsSync(adminConf(ctx))) await verifyKubernetes(ctx, check, families);
  if (applies('flux')) await verifyFlux(ctx, check);
  // A family that applies and produced no check fails: a proof that silently stops being made is caught here.
  for (const family of CHECK_FAMILIES) {
    if (applies(family.id) && !checks.some((c) => c.family === family.id)) {
      checks.push({ name: `missing/${family.id}`, family: family.id, expected: `checks that ${family.proves}`, observed: 'no check of this family was produced', ok: false });
    }
  }
  const failed = checks.filter((c) => !c.ok).length;
  const picture = await fabricPicture(ctx);
  return {
    cluster: t.cluster,
    at: new Date().toISOString(),
    ok: failed === 0,
    passed: checks.length - failed,
    failed,
    checks,
    shape,
    notApplicable: [...skipped].map(([family, reason]) => ({ family, reason })),
    fabric: picture,
    mermaid: mermaidTopology(picture),
  };
}

/** Runs verify and writes its report beside the lab's state: JSON, Mermaid and SVG; the report and the JSON's path. */
export async function labVerify(ctx: LabContext): Promise<{ report: VerifyReport; path: string }> {
  const report = await runVerify(ctx);
  mkdirSync(ctx.paths.reports, { recursive: true });
  const base = join(ctx.paths.reports, `verify-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  const path = `${base}.json`;
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(`${base}.mmd`, report.mermaid);
  writeFileSync(`${base}.svg`, svgTopology(report.fabric));
  return { report, path };
}

/** Every router's view: its Established sessions and its routes inside the cluster's block, by next-hop machine. */
export async function fabricPicture(ctx: LabContext): Promise<FabricPicture> {
  const t = ctx.topology;
  const plan = ctx.cluster.plan;
  const block = parsePrefix(t.block);
  const byAddress = new Map(t.machines.map((m) => [m.address, m.machine.name]));
  const ranges = [plan.services, plan.loadBalancers, plan.externalIPs].filter((p): p is NonNullable<typeof p> => p !== undefined).map((p) => formatPrefix(p));
  const routers = [];
  for (const router of t.routers) {
    const sessions = await bgpPeerStates(ctx.runner, router.ns);
    const routes: FabricRoute[] = [];
    for (const route of await kernelRoutes(ctx.runner, router.ns)) {
      if (route.dst === 'default') continue;
      let prefix;
      try {
        prefix = parsePrefix(route.dst.includes('/') ? route.dst : `${route.dst}/128`);
      } catch {
        continue;
      }
      if (!contains(block, prefix) || byAddress.has(formatAddress(prefix.address))) continue;
      const via = nextHops(route).map((h) => byAddress.get(h) ?? h).sort();
      if (via.length === 0) continue;
      const text = formatPrefix(prefix);
      const kind: FabricRoute['kind'] = ranges.includes(text)
        ? 'service-range'
        : prefix.length === 128 && ranges.some((r) => contains(parsePrefix(r), prefix))
          ? 'service-128'
          : contains(plan.pods.pool, prefix) && prefix.length === plan.pods.blockSize
            ? 'pod-block'
            : 'other';
      routes.push({ prefix: text, via, kind });
    }
    routes.sort((a, b) => a.prefix.localeCompare(b.prefix));
    const up = t.machines.filter((m) => sessions.get(m.address) === 'Established').map((m) => m.machine.name);
    routers.push({ name: router.ns, peerIP: router.peerIP, sessions: up, routes });
  }
  return { cluster: t.cluster, routers, machines: t.machines.map((m) => ({ name: m.machine.name, address: m.address, role: m.machine.role })) };
}

/** The lab cluster's admin client (kubeadm's admin.conf; its server is the API ClusterIP). */
/** When Flux is installed: every Kustomization Ready at its source's current revision. */
async function verifyFlux(ctx: LabContext, check: CheckFn): Promise<void> {
  const admin = labAdminClient(ctx);
  let states: readonly KustomizationState[];
  try {
    states = await waitForKustomizations(admin, { timeoutMs: 10_000 });
  } catch (e) {
    if (!(e instanceof FluxNotReadyError)) throw e;
    states = e.states;
  }
  for (const s of states) {
    check(`flux/${s.name}`, 'Ready at the source revision', s.reconciled ? 'Ready at the source revision' : `Ready=${s.ready ?? 'Unknown'} ${s.reason ?? ''}: ${s.sourceProblem ?? s.message ?? ''}`.trim());
  }
}

export function labAdminClient(ctx: LabContext): KubeClient {
  return new KubeClient(credentialsFromKubeconfig(readFileSync(adminConf(ctx), 'utf8')));
}

export function adminConf(ctx: LabContext): string {
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

async function verifyKubernetes(ctx: LabContext, check: CheckFn, families: Families): Promise<void> {
  const { applies } = families;
  const t = ctx.topology;
  const admin = labAdminClient(ctx);
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

  await verifyWorkloads(ctx, admin, check, families);

  // Hang (SIGSTOP, not kill) one control plane: every process of the machine stops answering.
  const victim = controlPlanes[controlPlanes.length - 1];
  if (victim && applies('api-with-control-plane-hung')) {
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

type PodItem = { metadata: { name: string; uid: string; labels?: Record<string, string> }; spec: { nodeName?: string }; status: { podIP?: string } };
type EndpointsItem = { subsets?: Array<{ addresses?: Array<{ ip: string; nodeName?: string }> }> };

/** Runs a command inside a pod's network namespace (the lab kubelet's pod-<uid> in the node's mount namespace). */
async function inPod(ctx: LabContext, pod: PodItem, command: string[]): Promise<string> {
  const node = ctx.topology.machines.find((m) => m.machine.name === pod.spec.nodeName);
  if (!node) return '';
  const [cmd, argv] = onPod(node.ns, pod.metadata.uid, command[0]!, command.slice(1));
  const res = await ctx.runner.run(cmd, argv, { allowFail: true, timeoutMs: 10_000 });
  return res.stdout.trim();
}

/** The nodes that hold a ready endpoint of a Service. */
async function endpointNodes(admin: KubeClient, ns: string, name: string): Promise<string[]> {
  const ep = await admin.find<EndpointsItem>(`/api/v1/namespaces/${ns}/endpoints/${name}`);
  return [...new Set((ep?.subsets ?? []).flatMap((s) => (s.addresses ?? []).map((a) => a.nodeName ?? '')).filter(Boolean))].sort();
}

/** Next hops of each /128 on each router, as "router: ip via a,b; …". */
async function singleRoutes(ctx: LabContext, ips: readonly string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const router of ctx.topology.routers) {
    const routes = await kernelRoutes(ctx.runner, router.ns);
    for (const ip of ips) out.set(`${router.ns} ${ip}`, nextHops(findRoute(routes, `${ip}/128`)).join(',') || 'none');
  }
  return out;
}

async function verifyWorkloads(ctx: LabContext, admin: KubeClient, check: CheckFn, families: Families): Promise<void> {
  await verifyEchoPaths(ctx, admin, check, families.applies);
  await verifyLocalService(ctx, admin, check, families.applies);
  const matrix = await policyMatrix(ctx, admin);
  if (matrix) {
    if (!matrix.host && families.applies('policy-matrix-host-row')) families.cannot('policy-matrix-host-row', NO_HOST_ROW);
    for (const c of matrix.cells) check(`policy/${c.source}->${c.destination}`, c.expected, c.observed);
    const allowed = matrix.cells.filter((c) => c.expected === 'deny' && c.observed === 'allow').length;
    const denied = matrix.cells.filter((c) => c.expected === 'allow' && c.observed === 'deny').length;
    check('policy/matrix', `${matrix.cells.length} cells: 0 unexpectedly allowed, 0 unexpectedly denied`, `${matrix.cells.length} cells: ${allowed} unexpectedly allowed, ${denied} unexpectedly denied`);
  }
}

export interface MatrixCell {
  readonly source: string;
  readonly destination: string;
  readonly expected: 'allow' | 'deny';
  readonly observed: 'allow' | 'deny';
}

/**
 * Every source (the internet, a node, a pod of each kind in the echo
 * namespace) against every destination (each kind of pod, each Service, the
 * API server), expected by the zero-trust baseline and the demo app's
 * policies (written out here, not computed by the engine under test) vs
 * observed: a new TCP connection and an HTTP answer within 3 s is "allow".
 * `overrides` changes expectations (a test that changes a policy).
 */
export async function policyMatrix(ctx: LabContext, admin: KubeClient, overrides: Readonly<Record<string, 'allow' | 'deny'>> = {}): Promise<{ cells: MatrixCell[]; host: string | undefined } | undefined> {
  const t = ctx.topology;
  const pods = (await admin.get<{ items: PodItem[] }>('/api/v1/namespaces/echo/pods')).items.filter((p) => p.status.podIP && !(p.metadata as { deletionTimestamp?: string }).deletionTimestamp);
  const echo = pods.filter((p) => p.metadata.labels?.app === 'echo');
  const internal = pods.find((p) => p.metadata.labels?.app === 'internal');
  if (echo.length < 2 || !internal) return undefined;
  const svc = async (name: string) => (await admin.get<{ spec: { clusterIP: string } }>(`/api/v1/namespaces/echo/services/${name}`)).spec.clusterIP;
  const api = formatAddress(ctx.cluster.plan.apiServer);
  const destinations: Array<{ name: string; url: (from: string) => string }> = [
    { name: 'pod:echo', url: (from) => `http://[${(echo.find((p) => p.metadata.name !== from) ?? echo[0]!).status.podIP}]:8080/` },
    { name: 'pod:internal', url: () => `http://[${internal.status.podIP}]:8080/` },
    { name: 'service:echo-cluster', url: () => '' },
    { name: 'service:internal', url: () => '' },
    { name: 'api-server', url: () => `https://[${api}]/readyz` },
  ];
  const echoCluster = await svc('echo-cluster');
  const internalSvc = await svc('internal');
  destinations[2]!.url = () => `http://[${echoCluster}]/`;
  destinations[3]!.url = () => `http://[${internalSvc}]/`;
  // A node that holds none of the echo namespace's pods (its own pods it reaches unpoliced, as with Calico).
  const busy = new Set(pods.map((p) => p.spec.nodeName));
  const host = t.machines.find((m) => !busy.has(m.machine.name));
  const curl = (url: string) => ['curl', '-sk', '-o', '/dev/null', '-m', '3', '-w', '%{http_code}', url];
  type Source = { name: string; podName?: string; run: (url: string) => Promise<string>; expect: Record<string, 'allow' | 'deny'> };
  const sources: Source[] = [
    {
      name: 'internet',
      run: async (url) => (await ctx.runner.run(curl(url)[0]!, curl(url).slice(1), { ns: t.internet.ns, allowFail: true, timeoutMs: 8000 })).stdout.trim(),
      expect: { 'pod:echo': 'allow', 'pod:internal': 'deny', 'service:echo-cluster': 'allow', 'service:internal': 'deny', 'api-server': 'allow' },
    },
    ...(host
      ? [
          {
            name: `host:${host.machine.name}`,
            run: async (url: string) => (await ctx.runner.run(curl(url)[0]!, curl(url).slice(1), { ns: host.ns, allowFail: true, timeoutMs: 8000 })).stdout.trim(),
            expect: { 'pod:echo': 'allow', 'pod:internal': 'deny', 'service:echo-cluster': 'allow', 'service:internal': 'deny', 'api-server': 'allow' } as Record<string, 'allow' | 'deny'>,
          },
        ]
      : []),
    {
      name: 'pod:echo',
      podName: echo[0]!.metadata.name,
      run: (url) => inPod(ctx, echo[0]!, curl(url)),
      expect: { 'pod:echo': 'deny', 'pod:internal': 'allow', 'service:echo-cluster': 'deny', 'service:internal': 'allow', 'api-server': 'allow' },
    },
    {
      name: 'pod:internal',
      podName: internal.metadata.name,
      run: (url) => inPod(ctx, internal, curl(url)),
      expect: { 'pod:echo': 'deny', 'service:echo-cluster': 'deny', 'service:internal': 'deny', 'api-server': 'allow' },
    },
  ];
  const cells: MatrixCell[] = [];
  for (const s of sources) {
    for (const d of destinations) {
      const base = s.expect[d.name];
      if (!base) continue;
      const key = `${s.name}->${d.name}`;
      const code = await s.run(d.url(s.podName ?? ''));
      cells.push({ source: s.name, destination: d.name, expected: overrides[key] ?? base, observed: /^[1-5]\d\d$/.test(code) ? 'allow' : 'deny' });
    }
  }
  return { cells, host: host?.machine.name };
}

/** echo-local (externalTrafficPolicy Local): /128s only via the endpoints' nodes, the client's own address at the pod, and the routes follow a move. */
async function verifyLocalService(ctx: LabContext, admin: KubeClient, check: CheckFn, applies: (family: FamilyId) => boolean): Promise<void> {
  const t = ctx.topology;
  const svc = await admin.find<{ spec: { clusterIP: string; externalIPs?: string[]; externalTrafficPolicy?: string } }>('/api/v1/namespaces/echo/services/echo-local');
  if (!svc || svc.spec.externalTrafficPolicy !== 'Local') return;
  const ips = [svc.spec.clusterIP, ...(svc.spec.externalIPs ?? [])].map((x) => formatAddress(parseAddress(x)));
  const addressOf = (names: readonly string[]) => t.machines.filter((m) => names.includes(m.machine.name)).map((m) => m.address).sort().join(',') || 'none';
  const expectRoutes = async (nodes: string[], timeoutMs: number) => {
    const want = addressOf(nodes);
    const start = Date.now();
    let got = await singleRoutes(ctx, ips);
    while ([...got.values()].some((v) => v !== want) && Date.now() - start < timeoutMs) {
      await new Promise((res) => setTimeout(res, 200));
      got = await singleRoutes(ctx, ips);
    }
    return { want, got, ms: Date.now() - start };
  };
  const nodes = await endpointNodes(admin, 'echo', 'echo-local');
  const before = await expectRoutes(nodes, 15_000);
  for (const [k, v] of before.got) check(`routes/${k.split(' ')[0]}/local-service/${k.split(' ')[1]}`, `/128 via ${before.want} (${nodes.join(', ')})`, `/128 via ${v}${v === before.want ? ` (${nodes.join(', ')})` : ''}`);
  const external = svc.spec.externalIPs?.[0];
  if (external) {
    const answers = await askEcho(ctx, `http://[${external}]/`, 10);
    const clients = [...new Set(answers.map((a) => a.client))];
    const servedBy = [...new Set(answers.map((a) => a.node))].sort();
    check('services/echo-local/external-ip-client-address', `10/10 answered by pods on ${nodes.join(', ')}, client ${t.internet.client}`, `${answers.length}/10 answered by pods on ${servedBy.join(', ')}, client ${clients.join(', ') || 'none'}`);
  }
  // Move: cordon one endpoint node and delete its echo pods; the /128s must follow the new endpoints.
  const from = nodes[0];
  if (!from || !applies('local-service-follows-endpoints')) return;
  await admin.mergePatch(`/api/v1/nodes/${from}`, { spec: { unschedulable: true } });
  try {
    const pods = await admin.get<{ items: PodItem[] }>('/api/v1/namespaces/echo/pods?labelSelector=app%3Decho');
    for (const p of pods.items.filter((x) => x.spec.nodeName === from)) await admin.request('DELETE', `/api/v1/namespaces/echo/pods/${p.metadata.name}`);
    const start = Date.now();
    let after = await endpointNodes(admin, 'echo', 'echo-local');
    while (after.includes(from) && Date.now() - start < 60_000) {
      await new Promise((res) => setTimeout(res, 500));
      after = await endpointNodes(admin, 'echo', 'echo-local');
    }
    const moved = await expectRoutes(after, 30_000);
    const ok = !after.includes(from) && [...moved.got.values()].every((v) => v === moved.want);
    check('routes/local-service-follows-endpoints', `endpoints leave ${from}; every /128 via ${moved.want} on both routers`, ok ? `endpoints leave ${from}; every /128 via ${moved.want} on both routers` : `endpoints on ${after.join(', ') || 'none'}; routes ${[...moved.got.values()].join(' | ')}`, ok);
    ctx.log(`verify: echo-local moved off ${from} (endpoints now ${after.join(', ') || 'none'}); routes followed ${moved.ms} ms after the endpoints`);
  } finally {
    await admin.mergePatch(`/api/v1/nodes/${from}`, { spec: { unschedulable: null } });
    // Leave the lab as verify found it: every echo Deployment available again.
    const start = Date.now();
    while (Date.now() - start < 90_000) {
      const d = await admin.get<{ items: Array<{ spec: { replicas?: number }; status: { availableReplicas?: number } }> }>('/apis/apps/v1/namespaces/echo/deployments');
      if (d.items.every((x) => (x.status.availableReplicas ?? 0) >= (x.spec.replicas ?? 1))) break;
      await new Promise((res) => setTimeout(res, 500));
    }
  }
}

async function verifyEchoPaths(ctx: LabContext, admin: KubeClient, check: CheckFn, applies: (family: FamilyId) => boolean): Promise<void> {
  const client = ctx.topology.internet.client;
  const pods = await admin.get<{ items: PodItem[] }>('/api/v1/namespaces/echo/pods');
  if (pods.items.length === 0) return;
  // Pod to pod across nodes, no NAT: the server sees the client pod's own address. The one pod-to-pod
  // flow the app's policies allow: echo -> internal.
  const running = pods.items.filter((x) => x.status.podIP);
  const internals = running.filter((x) => x.metadata.labels?.app === 'internal');
  const pair = running.filter((x) => x.metadata.labels?.app === 'echo').flatMap((a) => internals.filter((b) => b.spec.nodeName !== a.spec.nodeName).map((b) => [a, b] as const))[0];
  if (applies('pod-to-pod-across-nodes')) {
    if (pair) {
      const [a, b] = pair;
      const out = await inPod(ctx, a, ['curl', '-s', '-m', '3', `http://[${b.status.podIP}]:8080/`]);
      let seen = 'no answer';
      try {
        const ans = JSON.parse(out) as EchoAnswer;
        seen = `${ans.node} sees client ${ans.client}`;
      } catch {
        // no answer
      }
      check(`pods/echo/pod-to-pod-across-nodes-no-nat`, `${b.spec.nodeName} sees client ${a.status.podIP}`, seen);
    } else {
      check('pods/echo/pod-to-pod-across-nodes-no-nat', 'an echo pod and the internal pod on two nodes', `echo and internal pods on ${new Set(running.map((p) => p.spec.nodeName)).size} node(s)`);
    }
  }
  for (const p of pods.items.filter((x) => x.metadata.labels?.app === 'echo')) {
    const [answer] = p.status.podIP ? await askEcho(ctx, `http://[${p.status.podIP}]:8080/`, 1) : [];
    check(`pods/echo/${p.metadata.name}/from-internet-no-nat`, `answers from ${p.spec.nodeName}, sees client ${client}`, answer ? `answers from ${answer.node}, sees client ${answer.client}` : 'no answer');
  }
  const svc = await admin.get<{ spec: { clusterIP: string; externalIPs?: string[] } }>('/api/v1/namespaces/echo/services/echo-cluster');
  const affinities = await admin.get<{ items: Array<{ spec?: { node?: string; cidr?: string; state?: string } }> }>('/apis/crd.projectcalico.org/v1/blockaffinities');
  for (const [what, ip] of [['cluster-ip', svc.spec.clusterIP], ...(svc.spec.externalIPs ?? []).map((x) => ['external-ip', x])] as Array<[string, string]>) {
    const answers = await askEcho(ctx, `http://[${ip}]/`, 20);
    const byPod = new Set(answers.map((a) => a.pod));
    // kube-proxy masquerades external clients to the node that took the flow: the sources show which nodes ECMP chose.
    const ingress = new Set(answers.map((a) => a.client));
    check(`services/echo-cluster/${what}-from-internet`, '20/20 answered, by every echo pod', `${answers.length}/20 answered, by ${byPod.size === pods.items.filter((x) => x.metadata.labels?.app === 'echo').length ? 'every echo pod' : `${byPod.size} pod(s)`}`);
    // Which node took each flow: the masquerade address (ETP Cluster) is the ingress node's: its
    // uplink address, or (the pod is local) the host side of the pod's link, inside the node's block.
    const perNode = new Map<string, number>();
    for (const a of answers) {
      const addr = parseAddress(a.client);
      const m = ctx.topology.machines.find((x) => x.address === formatAddress(addr));
      const byBlock = affinities.items.find((b) => b.spec?.state === 'confirmed' && b.spec.cidr && containsAddress(parsePrefix(b.spec.cidr), addr));
      const key = m?.machine.name ?? byBlock?.spec?.node ?? a.client;
      perNode.set(key, (perNode.get(key) ?? 0) + 1);
    }
    const spread = [...perNode].sort(([x], [y]) => x.localeCompare(y)).map(([n, c]) => `${n} ${c}`).join(', ');
    if (applies('cluster-service-ecmp-spread')) check(`services/echo-cluster/${what}-ecmp-spread`, 'flows over 2 or more nodes', `flows over ${perNode.size} node(s): ${spread}`, perNode.size >= 2);
    ctx.log(`verify: echo-cluster ${what} ${ip}: ${answers.length}/20 answered (${answers.retried} on a second try) through ${ingress.size} distinct ingress addresses (ECMP)`);
  }
}
