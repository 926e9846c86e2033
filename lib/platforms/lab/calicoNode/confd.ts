/**
 * confd's key/value store for one node, computed from the Kubernetes
 * datastore the way Calico v3.28's confd backend computes it
 * (confd/pkg/backends/calico: client.go, routes.go; libcalico-go's BGP
 * syncer and KDD conversions), for the IPv6 BIRD templates.
 *
 * Pure: the lab's BGP agent lists the objects and hands them in. This is
 * OUR code standing in for confd's (which cannot be built here; README,
 * "Calico in the lab"); the templates that turn these keys into BIRD's
 * configuration are Calico's own. Every Calico feature this does not
 * reproduce (peerSelector, nodeSelector on peers, BGPFilters, reverse
 * peerings between Calico nodes, the node-to-node mesh, IPv4) is refused
 * with an error naming the object, never silently ignored.
 */
import { containsAddress, formatAddress, formatPrefix, parseAddress, parsePrefix, type Prefix } from '../../../net/ipv6.js';

type Meta = { name?: string; namespace?: string; annotations?: Record<string, string>; labels?: Record<string, string> };
export type CalicoObject = { metadata?: Meta; spec?: Record<string, unknown> };
export type ServiceObject = {
  metadata?: Meta;
  spec?: { type?: string; clusterIP?: string; externalIPs?: string[]; externalTrafficPolicy?: string; loadBalancerIP?: string };
  status?: { loadBalancer?: { ingress?: Array<{ ip?: string }> } };
};
export type EndpointsObject = { metadata?: Meta; subsets?: Array<{ addresses?: Array<{ ip?: string; nodeName?: string }> }> };

export interface DatastoreSnapshot {
  readonly bgpConfigurations: readonly CalicoObject[];
  readonly bgpPeers: readonly CalicoObject[];
  readonly bgpFilters?: readonly CalicoObject[];
  readonly ipPools: readonly CalicoObject[];
  readonly nodes: readonly CalicoObject[];
  readonly blockAffinities: readonly CalicoObject[];
  readonly services: readonly ServiceObject[];
  readonly endpoints: readonly EndpointsObject[];
  /** Secrets in calico-node's namespace: name -> key -> decoded value. */
  readonly secrets: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

export class ConfdInputError extends Error {
  override name = 'ConfdInputError';
}

const G = '/calico/bgp/v1/global';
const H = (node: string) => `/calico/bgp/v1/host/${node}`;
/** A CIDR as a key segment: its first '/' becomes '-'. */
const dash = (cidr: string) => cidr.replace('/', '-');

function canonicalIp(text: string): string {
  return formatAddress(parseAddress(text));
}

/** The address part of projectcalico.org/IPv6Address ("addr" or "addr/len"), canonical; "" if absent or bad. */
function nodeIPv6(node: CalicoObject): string {
  const a = node.metadata?.annotations?.['projectcalico.org/IPv6Address'];
  if (!a) return '';
  try {
    return canonicalIp(a.split('/')[0]!);
  } catch {
    return '';
  }
}

/** confd's loglevel mapping: debug and info kept, anything else none. */
function logLevel(severity: unknown): string | undefined {
  if (typeof severity !== 'string' || severity === '') return undefined;
  const l = severity.toLowerCase();
  return l === 'debug' || l === 'info' ? l : 'none';
}

function cidrsOf(spec: Record<string, unknown>, field: string): string[] {
  return ((spec[field] as Array<{ cidr?: string }> | undefined) ?? []).map((c) => String(c.cidr ?? ''));
}

function encapMode(mode: unknown): string {
  return mode === 'Always' ? 'always' : mode === 'CrossSubnet' ? 'cross-subnet' : '';
}

function name(o: { metadata?: Meta }): string {
  return o.metadata?.name ?? '(unnamed)';
}

export function confdKv(s: DatastoreSnapshot, self: string): Record<string, string> {
  const kv: Record<string, string> = {
    [`${G}/as_num`]: '64512',
    [`${G}/node_mesh`]: '{"enabled": true}',
    [`${G}/loglevel`]: 'info',
  };
  if ((s.bgpFilters ?? []).length > 0) throw new ConfdInputError(`BGPFilter ${name(s.bgpFilters![0]!)}: BGPFilters are not supported by the lab's confd substitute; remove it`);

  // BGPConfiguration default (global) and node.<name> (per node).
  let serviceCidrs: { cluster: string[]; external: string[]; lb: string[] } = { cluster: [], external: [], lb: [] };
  for (const c of s.bgpConfigurations) {
    const spec = c.spec ?? {};
    const n = name(c);
    if (n === 'default') {
      if (spec.asNumber !== undefined) kv[`${G}/as_num`] = String(spec.asNumber);
      if (spec.nodeToNodeMeshEnabled !== undefined) kv[`${G}/node_mesh`] = JSON.stringify({ enabled: Boolean(spec.nodeToNodeMeshEnabled) });
      const lvl = logLevel(spec.logSeverityScreen);
      if (lvl) kv[`${G}/loglevel`] = lvl;
      if (typeof spec.listenPort === 'number' && spec.listenPort !== 0) kv[`${G}/listen_port`] = String(spec.listenPort);
      if (typeof spec.bindMode === 'string') kv[`${G}/bind_mode`] = spec.bindMode;
      if (Array.isArray(spec.ignoredInterfaces)) kv[`${G}/ignored_interfaces`] = spec.ignoredInterfaces.join(',');
      if (spec.prefixAdvertisements !== undefined) throw new ConfdInputError(`BGPConfiguration default: prefixAdvertisements are not supported by the lab's confd substitute`);
      serviceCidrs = { cluster: cidrsOf(spec, 'serviceClusterIPs'), external: cidrsOf(spec, 'serviceExternalIPs'), lb: cidrsOf(spec, 'serviceLoadBalancerIPs') };
      if (serviceCidrs.external.length) kv[`${G}/svc_external_ips`] = serviceCidrs.external.join(',');
      if (serviceCidrs.cluster.length) kv[`${G}/svc_cluster_ips`] = serviceCidrs.cluster.join(',');
      if (serviceCidrs.lb.length) kv[`${G}/svc_loadbalancer_ips`] = serviceCidrs.lb.join(',');
    } else if (n.startsWith('node.')) {
      const node = n.slice('node.'.length);
      const lvl = logLevel(spec.logSeverityScreen);
      if (lvl) kv[`${H(node)}/loglevel`] = lvl;
      if (typeof spec.listenPort === 'number' && spec.listenPort !== 0) kv[`${H(node)}/listen_port`] = String(spec.listenPort);
    }
  }
  if (JSON.parse(kv[`${G}/node_mesh`]!).enabled) {
    throw new ConfdInputError('BGPConfiguration default: the node-to-node mesh is on (nodeToNodeMeshEnabled unset or true); native6 runs without it and the lab does not reproduce it');
  }

  // Nodes: every node's BGP keys.
  const nodeIps = new Map<string, string>();
  for (const node of s.nodes) {
    const n = name(node);
    const ip6 = nodeIPv6(node);
    kv[`${H(n)}/ip_addr_v4`] = '';
    kv[`${H(n)}/ip_addr_v6`] = ip6;
    kv[`${H(n)}/rr_cluster_id`] = node.metadata?.annotations?.['projectcalico.org/RouteReflectorClusterID'] ?? '';
    const a = node.metadata?.annotations?.['projectcalico.org/IPv6Address'];
    if (ip6 && a) {
      const len = a.includes('/') ? Number(a.split('/')[1]) : 128;
      const net = parsePrefix(`${ip6}/${len}`, true);
      kv[`${H(n)}/network_v6`] = formatPrefix({ address: net.address & (((1n << 128n) - 1n) ^ ((1n << BigInt(128 - len)) - 1n)), length: len });
    }
    const asn = node.metadata?.annotations?.['projectcalico.org/ASNumber'];
    if (asn) kv[`${H(n)}/as_num`] = asn;
    if (ip6) nodeIps.set(ip6, n);
  }

  // BGPPeers.
  const peers = [...s.bgpPeers].sort((a, b) => name(a).localeCompare(name(b)));
  for (const p of peers) {
    const spec = p.spec ?? {};
    if (spec.peerSelector || spec.nodeSelector) throw new ConfdInputError(`BGPPeer ${name(p)}: peerSelector and nodeSelector are not supported by the lab's confd substitute; name the node and the peerIP`);
    const ip = canonicalIp(String(spec.peerIP ?? '').replace(/^\[|\](:\d+)?$/g, ''));
    if (String(spec.peerIP).includes(']:')) throw new ConfdInputError(`BGPPeer ${name(p)}: a peer port is not supported by the lab's confd substitute`);
    if (nodeIps.has(ip)) throw new ConfdInputError(`BGPPeer ${name(p)}: peering with another Calico node (${ip}) needs confd's reverse peerings, which the lab's substitute does not do`);
    let reachableBy = '';
    if (spec.reachableBy !== undefined && spec.reachableBy !== '') {
      try {
        reachableBy = canonicalIp(String(spec.reachableBy));
      } catch {
        continue; // confd skips the whole BGPPeer
      }
    }
    const ref = (spec.password as { secretKeyRef?: { name?: string; key?: string } } | undefined)?.secretKeyRef;
    const password = ref?.name && ref.key ? (s.secrets[ref.name]?.[ref.key] ?? null) : null;
    const restart = typeof spec.maxRestartTime === 'string' ? String(Math.round(durationSeconds(spec.maxRestartTime))) : '';
    const value = JSON.stringify({
      ip,
      as_num: String(spec.asNumber ?? 0),
      rr_cluster_id: '',
      password,
      source_addr: typeof spec.sourceAddress === 'string' ? spec.sourceAddress : 'UseNodeIP',
      port: 0,
      keep_next_hop: Boolean(spec.keepOriginalNextHop),
      restart_time: restart,
      calico_node: false,
      num_allow_local_as: Number(spec.numAllowedLocalASNumbers ?? 0),
      ttl_security: Number(spec.ttlSecurity ?? 0),
      reachable_by: reachableBy,
      filters: Array.isArray(spec.filters) && spec.filters.length ? spec.filters : null,
    });
    const node = typeof spec.node === 'string' ? spec.node : '';
    const key = node ? `${H(node)}/peer_v6/${ip}` : `${G}/peer_v6/${ip}`;
    if (node && kv[`${G}/peer_v6/${ip}`] !== undefined) continue; // a global peer with that address wins
    if (kv[key] === undefined) kv[key] = value;
  }

  // IPPools.
  for (const pool of [...s.ipPools].sort((a, b) => name(a).localeCompare(name(b)))) {
    const spec = pool.spec ?? {};
    const cidr = String(spec.cidr ?? '');
    if (!cidr.includes(':')) continue;
    const canonical = formatPrefix(parsePrefix(cidr, true));
    const key = `/calico/v1/ipam/v6/pool/${dash(canonical)}`;
    if (kv[key] !== undefined) continue;
    const ipipMode = encapMode(spec.ipipMode);
    kv[key] = JSON.stringify({
      cidr: canonical,
      ipip: ipipMode ? 'tunl0' : '',
      ipip_mode: ipipMode,
      vxlan_mode: encapMode(spec.vxlanMode),
      masquerade: Boolean(spec.natOutgoing),
      ipam: !spec.disabled,
      disabled: Boolean(spec.disabled),
      disableBGPExport: Boolean(spec.disableBGPExport),
    });
  }

  // This node's block affinities (pending ones are not stored).
  for (const a of s.blockAffinities) {
    const spec = a.spec ?? {};
    if (spec.node !== self || spec.deleted === 'true' || spec.state === 'pending') continue;
    const cidr = formatPrefix(parsePrefix(String(spec.cidr), true));
    if (!cidr.includes(':')) continue;
    kv[`/calico/ipam/v2/host/${self}/ipv6/block/${dash(cidr)}`] = JSON.stringify({ state: spec.state, deleted: false });
  }

  // Service ranges: announced by every node that is not excluded, kept from every kernel.
  const selfNode = s.nodes.find((n) => name(n) === self);
  const excluded = selfNode?.metadata?.labels?.['node.kubernetes.io/exclude-from-external-load-balancers'] === 'true';
  const ranges = [...serviceCidrs.cluster, ...serviceCidrs.external, ...serviceCidrs.lb.filter((c) => !c.endsWith('/128'))].filter((c) => c.includes(':'));
  for (const cidr of ranges) {
    kv[`/calico/rejectcidrsv6/${dash(cidr)}`] = cidr;
    if (!excluded) kv[`/calico/staticroutesv6/${dash(cidr)}`] = cidr;
  }

  // Local Services: a /128 per address, from nodes with a ready endpoint.
  if (!excluded) {
    const parsed = (list: string[]) => list.filter((c) => c.includes(':')).map((c) => parsePrefix(c, true));
    const external = parsed(serviceCidrs.external);
    const lb = parsed(serviceCidrs.lb);
    const inside = (ip: string, within: Prefix[]) => within.some((p) => containsAddress(p, parseAddress(ip)));
    const endpoints = new Map(s.endpoints.map((e) => [`${e.metadata?.namespace}/${e.metadata?.name}`, e]));
    for (const svc of s.services) {
      const ep = endpoints.get(`${svc.metadata?.namespace}/${svc.metadata?.name}`);
      if (!ep) continue; // confd needs the Endpoints object
      const spec = svc.spec ?? {};
      if (!['ClusterIP', 'NodePort', 'LoadBalancer', undefined].includes(spec.type)) continue;
      if (!spec.clusterIP || spec.clusterIP === 'None' || !spec.clusterIP.includes(':')) continue;
      if (spec.externalTrafficPolicy !== 'Local') continue;
      const local = (ep.subsets ?? []).some((sub) => (sub.addresses ?? []).some((a) => a.nodeName === self && (a.ip ?? '').includes(':')));
      if (!local) continue;
      const ips: string[] = [];
      if (serviceCidrs.cluster.length) ips.push(spec.clusterIP);
      for (const ip of spec.externalIPs ?? []) if (ip.includes(':') && inside(ip, external)) ips.push(ip);
      for (const ing of svc.status?.loadBalancer?.ingress ?? []) if (ing.ip?.includes(':') && inside(ing.ip, lb)) ips.push(ing.ip);
      for (const ip of ips) kv[`/calico/staticroutesv6/${ip}-128`] = `${ip}/128`;
    }
  }
  return kv;
}

/** Seconds in a Kubernetes duration ("120s", "2m", "1h30m"). */
function durationSeconds(d: string): number {
  let total = 0;
  for (const m of d.matchAll(/(\d+(?:\.\d+)?)(h|m|s|ms)/g)) {
    const v = Number(m[1]);
    total += m[2] === 'h' ? v * 3600 : m[2] === 'm' ? v * 60 : m[2] === 's' ? v : v / 1000;
  }
  return total;
}
