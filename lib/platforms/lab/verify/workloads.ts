/** Verify's workload checks: the echo paths (pod to pod, from the internet, echo-cluster and its ECMP spread), echo-local's /128s and their move, the policy matrix. */
import type { KubeClient } from '../../../kube/client.js';
import { containsAddress, formatAddress, parseAddress, parsePrefix } from '../../../net/ipv6.js';
import type { LabContext } from '../lab.js';
import { NO_HOST_ROW, type FamilyId } from './checkFamilies.js';
import { type CheckFn, type Families } from './check.js';
import { type EchoAnswer, type PodItem, askEcho, askEchoUntil, endpointNodes, inPod, singleRoutes } from './probes.js';
import { policyMatrix } from './policyMatrix.js';

export async function verifyWorkloads(ctx: LabContext, admin: KubeClient, check: CheckFn, families: Families): Promise<void> {
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
    // Rounds of 10 (at most 40) until every endpoint node answered: one round can miss one by chance.
    const { asked, answers } = await askEchoUntil(ctx, `http://[${external}]/`, 10, 40, (a) => nodes.every((n) => a.some((x) => x.node === n)));
    const clients = [...new Set(answers.map((a) => a.client))];
    const servedBy = [...new Set(answers.map((a) => a.node))].sort();
    check('services/echo-local/external-ip-client-address', `every request answered, by pods on ${nodes.join(', ')}, client ${t.internet.client}`, `${answers.length === asked ? 'every request' : `${answers.length}/${asked}`} answered, by pods on ${servedBy.join(', ')}, client ${clients.join(', ') || 'none'}`);
  }
  // Move: cordon one endpoint node and delete its echo pods; the /128s must follow the new endpoints.
  const from = nodes[0];
  if (!from || !applies('local-service-follows-endpoints')) return;
  await admin.mergePatch(`/api/v1/nodes/${from}`, { spec: { unschedulable: true } });
  try {
    const pods = await admin.get<{ items: PodItem[] }>('/api/v1/namespaces/echo/pods?labelSelector=app%3Decho');
    for (const p of pods.items.filter((x) => x.spec.nodeName === from)) await admin.delete(`/api/v1/namespaces/echo/pods/${p.metadata.name}`);
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
    // Rounds of 20 (at most 60) until every echo pod answered: kube-proxy's pick is random per flow.
    const echoPods = pods.items.filter((x) => x.metadata.labels?.app === 'echo').length;
    const { asked, answers, retried } = await askEchoUntil(ctx, `http://[${ip}]/`, 20, 60, (a) => new Set(a.map((x) => x.pod)).size >= echoPods);
    const byPod = new Set(answers.map((a) => a.pod));
    // kube-proxy masquerades external clients to the node that took the flow: the sources show which nodes ECMP chose.
    const ingress = new Set(answers.map((a) => a.client));
    check(`services/echo-cluster/${what}-from-internet`, 'every request answered, by every echo pod', `${answers.length === asked ? 'every request' : `${answers.length}/${asked}`} answered, by ${byPod.size === echoPods ? 'every echo pod' : `${byPod.size} pod(s)`}`);
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
    ctx.log(`verify: echo-cluster ${what} ${ip}: ${answers.length}/${asked} answered (${retried} on a second try) through ${ingress.size} distinct ingress addresses (ECMP)`);
  }
}
