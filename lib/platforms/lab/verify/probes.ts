/**
 * The lab's probes and queries, used by verify and by the bring-up: the
 * kernel's routes in a namespace, the admin client, HTTP probes and the echo
 * server's answers from a namespace, a command inside a pod, a Service's
 * endpoint nodes and the routers' /128s.
 */
import { labProgramArgv } from '../programLaunch.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { kubeClient, type KubeClient } from '../../../kube/client.js';
import { formatAddress, formatPrefix, parseAddress, parsePrefix } from '../../../net/ipv6.js';
import { onPod } from '../machine/machine.js';
import type { Runner } from '../../../exec/run.js';
import type { LabContext } from '../lab.js';
import { CODE_ROOT } from '../codeRoot.js';

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

export function findRoute(routes: readonly KernelRoute[], prefix: string): KernelRoute | undefined {
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

export async function ping(r: Runner, ns: string, from: string, to: string): Promise<boolean> {
  const res = await r.run('ping', ['-6', '-c', '1', '-W', '2', '-I', from, to], { ns, allowFail: true, timeoutMs: 5000 });
  return res.code === 0;
}

/** The lab cluster's admin client (kubeadm's admin.conf; its server is the API ClusterIP). */
export function labAdminClient(ctx: LabContext): KubeClient {
  return kubeClient(readFileSync(adminConf(ctx), 'utf8'));
}

export function adminConf(ctx: LabContext): string {
  return join(ctx.paths.machine(ctx.topology.machines[0]!.machine.name), 'root/etc/kubernetes/admin.conf');
}

export interface ProbeResult {
  readonly ok: boolean;
  readonly attempts: number;
  readonly successes: number;
  readonly consecutive: number;
  /** Attempts that got no answer at all in time (dropped, not refused). */
  readonly timeouts: number;
  readonly ms: number;
  readonly last: string;
}

/** HTTP(S) probes from inside a namespace (lib/platforms/lab/programs/probe.ts), e.g. the internet's client address. */
export async function probeFrom(ctx: LabContext, ns: string, args: { url: string; ca?: string; servername?: string; source?: string; need?: number; timeoutS?: number; expect?: string }): Promise<ProbeResult> {
  const argv = [...labProgramArgv('probe'), '--url', args.url];
  if (args.ca) argv.push('--ca', args.ca);
  if (args.servername) argv.push('--servername', args.servername);
  if (args.source) argv.push('--source', args.source);
  if (args.need) argv.push('--need', String(args.need));
  if (args.timeoutS) argv.push('--timeout', String(args.timeoutS));
  if (args.expect) argv.push('--expect', args.expect);
  const res = await ctx.runner.run('sh', ['-c', 'cd "$0" && exec "$@"', CODE_ROOT, ...argv], { ns, allowFail: true, timeoutMs: ((args.timeoutS ?? 30) + 15) * 1000 });
  try {
    return JSON.parse(res.stdout.trim().split('\n').pop() ?? '') as ProbeResult;
  } catch {
    return { ok: false, attempts: 0, successes: 0, consecutive: 0, timeouts: 0, ms: 0, last: (res.stderr || res.stdout).trim().slice(0, 300) };
  }
}

export interface EchoAnswer {
  pod: string;
  node: string;
  client: string;
}

/** Asks the echo server `count` times over new connections from the internet's client; the answers, parsed. */
export async function askEcho(ctx: LabContext, url: string, count: number): Promise<EchoAnswer[] & { retried: number }> {
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

/**
 * Asks in rounds of `count` until `enough` holds of every answer so far or `max` were asked: which
 * node or pod ECMP and kube-proxy pick is a hash of the flow, so a fixed number of requests can miss
 * one by chance (10 over two nodes: 1 in 512). Each round is still all-or-nothing in `answers`.
 */
export async function askEchoUntil(ctx: LabContext, url: string, count: number, max: number, enough: (answers: readonly EchoAnswer[]) => boolean): Promise<{ asked: number; answers: EchoAnswer[]; retried: number }> {
  const answers: EchoAnswer[] = [];
  let asked = 0;
  let retried = 0;
  while (asked < max) {
    const round = await askEcho(ctx, url, Math.min(count, max - asked));
    asked += Math.min(count, max - asked);
    answers.push(...round);
    retried += round.retried;
    if (answers.length < asked || enough(answers)) break;
  }
  return { asked, answers, retried };
}

export type PodItem = { metadata: { name: string; uid: string; labels?: Record<string, string> }; spec: { nodeName?: string }; status: { podIP?: string } };

type EndpointsItem = { subsets?: Array<{ addresses?: Array<{ ip: string; nodeName?: string }> }> };

/** Runs a command inside a pod's network namespace (the lab kubelet's pod-<uid> in the node's mount namespace). */
export async function inPod(ctx: LabContext, pod: PodItem, command: string[]): Promise<string> {
  const node = ctx.topology.machines.find((m) => m.machine.name === pod.spec.nodeName);
  if (!node) return '';
  const [cmd, argv] = onPod(node.ns, pod.metadata.uid, command[0]!, command.slice(1));
  const res = await ctx.runner.run(cmd, argv, { allowFail: true, timeoutMs: 10_000 });
  return res.stdout.trim();
}

/** The nodes that hold a ready endpoint of a Service. */
export async function endpointNodes(admin: KubeClient, ns: string, name: string): Promise<string[]> {
  const ep = await admin.find<EndpointsItem>(`/api/v1/namespaces/${ns}/endpoints/${name}`);
  return [...new Set((ep?.subsets ?? []).flatMap((s) => (s.addresses ?? []).map((a) => a.nodeName ?? '')).filter(Boolean))].sort();
}

/** Next hops of each /128 on each router, as "router: ip via a,b; …". */
export async function singleRoutes(ctx: LabContext, ips: readonly string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const router of ctx.topology.routers) {
    const routes = await kernelRoutes(ctx.runner, router.ns);
    for (const ip of ips) out.set(`${router.ns} ${ip}`, nextHops(findRoute(routes, `${ip}/128`)).join(',') || 'none');
  }
  return out;
}
