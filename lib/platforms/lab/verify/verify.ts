/**
 * `npm run lab -- verify`: what the lab claims, checked on the running
 * system. Each check has a name, what was expected, what was observed, and
 * whether they agree; the report is written as JSON.
 */
import { verifySecretsSealed } from './sealed.js';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { contains, formatAddress, formatPrefix, parseAddress, parsePrefix } from '../../../net/ipv6.js';
import { mermaidTopology, svgTopology, type FabricPicture, type FabricRoute } from '../../../report/topology.js';
import { namespacePids } from '../machine/netns.js';
import { signal } from '../machine/process.js';
import type { LabContext } from '../lab.js';
import { readFabric } from '../../../render/read.js';
import { bgpPeerStates, establishedSessions } from '../lab.js';
import { machinesBelow } from '../topology.js';
import { bgpPeers } from '../../../render/calico.js';
import { FLUX_NAMESPACE } from '../../../render/flux.js';
import { FluxNotReadyError, waitForKustomizations, type KustomizationState } from '../../../flux/status.js';
import type { Device } from '../../../cluster/devices.js';
import { verifyBoot } from './boot.js';
import { CHECK_FAMILIES, familyOf, notApplicable, type FamilyId, type LabShape } from './checkFamilies.js';
import { type Check, type CheckFn, type Families } from './check.js';
import { adminConf, findRoute, kernelRoutes, labAdminClient, nextHops, ping, probeFrom } from './probes.js';
import { verifyWorkloads } from './workloads.js';
import { verifyPolicyAttacks } from './attacks.js';
import { verifyClientView } from './clientView.js';
import type { ClientView } from './clientViewSummary.js';
import { verifyEgressClients, verifyInternetDns, verifyNewNamespaceEgress, verifyTranslators } from './egress.js';
import { verifyClusterDns } from './dns.js';
import { verifyTranslatorRestart } from './nat64Recovery.js';
import { LAB_INTERNET_V4 } from '../provider/provider.js';
import { API_TLS_NAME } from '../../../render/kubeadm.js';

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
  /** What the internet's client saw while a worker was hung (client-during-node-hang), when that family ran. */
  readonly clientView?: ClientView;
}

/** What verify needs to know before it checks: the machines, and whether Flux is installed. */
async function labShape(ctx: LabContext): Promise<LabShape> {
  const machines = ctx.topology.machines;
  const controlPlanes = machines.filter((m) => m.machine.role === 'control-plane').length;
  const nat64 = ctx.cluster.plan.nat64 !== undefined;
  // Said only of a metal cluster (a rack lab): the lab's own shape stays as it was.
  const metal = ctx.topology.rack !== undefined ? { metal: true } : {};
  if (!existsSync(adminConf(ctx))) return { controlPlanes, machines: machines.length, flux: false, nat64, ...metal };
  // A 404 (no CRD, or no GitRepository) is "not installed"; any other error is thrown: verify cannot say.
  const source = await labAdminClient(ctx).find(`/apis/source.toolkit.fluxcd.io/v1/namespaces/${FLUX_NAMESPACE}/gitrepositories/flux-system`);
  return { controlPlanes, machines: machines.length, flux: source !== undefined, nat64, ...metal };
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
    const below = machinesBelow(t, router);
    const established = await establishedSessions(r, router.ns, below.map((m) => m.address));
    check(`bgp/${router.ns}/sessions-established`, `${below.length}`, `${established}`);
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
  const fabric = readFabric(ctx.repoRoot, ctx.cluster);
  for (const m of applies('metadata-bgp-peers') ? machines : []) {
    const res = await r.run('curl', ['-s', '-m', '3', `http://[${t.internet.metadata}]/metadata`], { ns: m.ns, allowFail: true, timeoutMs: 6000 });
    let observed = 'no answer';
    try {
      const device = JSON.parse(res.stdout) as Device;
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
  await verifyBoot(ctx, check);
  await verifyInternetDns(ctx, check);
  if (applies('nat64-translators')) await verifyTranslators(ctx, check);
  const clientView = existsSync(adminConf(ctx)) ? await verifyKubernetes(ctx, check, families) : undefined;
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
    ...(clientView ? { clientView } : {}),
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

/**
 * Every router's view: its Established sessions and its routes inside the
 * cluster's block, by next-hop machine; and, when the plan has a NAT64
 * prefix, the egress path: each machine translating its own pods' packets
 * to the IPv4 internet (the lab's 192.0.2.0/24) with its own IPv4.
 */
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
  const machines = t.machines.map((m) => ({ name: m.machine.name, address: m.address, role: m.machine.role }));
  if (!plan.nat64) return { cluster: t.cluster, routers, machines };
  const egress = { nat64: formatPrefix(plan.nat64), internetV4: LAB_INTERNET_V4, machines: t.machines.map((m) => ({ name: m.machine.name, ipv4: m.ipv4.address })) };
  return { cluster: t.cluster, routers, machines, egress };
}

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

async function verifyKubernetes(ctx: LabContext, check: CheckFn, families: Families): Promise<ClientView | undefined> {
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
  await verifySecretsSealed(ctx, admin, check);

  const fromInternet = () => probeFrom(ctx, t.internet.ns, { url: `https://[${apiServer}]/readyz`, ca, need: 10, timeoutS: 60, expect: 'ok' });
  const normal = await fromInternet();
  check('api/clusterip-from-internet', '10 answers in a row', normal.ok ? '10 answers in a row' : `${normal.successes}/${normal.attempts} answered; last: ${normal.last}`);
  // The door of a runner with IPv4 only (lib/workflows/apiWays.ts): each control plane's public IPv4,
  // from the internet's IPv4 client, the certificate checked as kubernetes.default.svc.
  for (const cp of controlPlanes) {
    const v4 = await probeFrom(ctx, t.internet.ns, { url: `https://${cp.ipv4.address}/readyz`, ca, servername: API_TLS_NAME, need: 3, timeoutS: 30, expect: 'ok' });
    check(`api/ipv4-door-from-internet/${cp.machine.name}`, '3 answers in a row', v4.ok ? '3 answers in a row' : `${v4.successes}/${v4.attempts} answered; last: ${v4.last}`);
  }

  await verifyWorkloads(ctx, admin, check, families);
  await verifyPolicyAttacks(ctx, admin, check);
  const clientView = applies('client-during-node-hang') ? await verifyClientView(ctx, admin, check, families) : undefined;
  if (applies('cluster-dns')) await verifyClusterDns(ctx, admin, check, families);
  if (applies('ipv4-egress')) await verifyEgressClients(ctx, admin, check, families);
  if (applies('nat64-translator-restart')) await verifyTranslatorRestart(ctx, admin, check, families);
  if (applies('ipv4-egress-new-namespace')) await verifyNewNamespaceEgress(ctx, admin, check);

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
      const sessions = await Promise.all(t.routers.map(async (r) => (await establishedSessions(ctx.runner, r.ns, machinesBelow(t, r).map((m) => m.address))) === machinesBelow(t, r).length));
      const slices2 = await admin.get<{ items: Array<{ endpoints?: Array<{ addresses: string[] }> }> }>('/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dkubernetes').catch(() => ({ items: [] }));
      const n = slices2.items.flatMap((sl) => sl.endpoints ?? []).length;
      back = sessions.every(Boolean) && n === controlPlanes.length;
      if (!back) await new Promise((res) => setTimeout(res, 1000));
    }
    check(`recovery/${victim.machine.name}-after-hang`, 'BGP sessions and API endpoint back within 90 s', back ? 'BGP sessions and API endpoint back within 90 s' : 'not back after 90 s');
    ctx.log(`verify: ${victim.machine.name} back in BGP and in the kubernetes Service ${((Date.now() - start) / 1000).toFixed(1)} s after SIGCONT`);
  }
  return clientView;
}
