/**
 * The cluster's DNS (issue #14): the Corefile of kubeadm's CoreDNS (the
 * `coredns` Deployment in kube-system, behind the `kube-dns` Service), in
 * the ConfigMap kube-system/coredns that the Deployment mounts. Rendered
 * into the cluster's fabric (clusters/<name>/fabric/coredns.yaml), which is
 * applied before Flux (apply's bootstrap on Equinix Metal, the lab's Calico
 * datastore phase) and then kept by Flux: CoreDNS has this Corefile before
 * anything in the cluster needs a name resolved.
 *
 * It is kubeadm v1.35's default Corefile (CoreDNSConfigMap in
 * cmd/kubeadm/app/phases/addons/dns/manifests.go), line for line, with two
 * changes, each explained by a comment in the Corefile itself:
 * - forward: to the platform's resolvers (SpecRules.resolvers), not to
 *   /etc/resolv.conf. CoreDNS's pods are IPv6-only like every pod, and the
 *   nodes' resolvers are IPv4 (Equinix Metal's; the lab's, which is no
 *   kinder): an IPv4 resolver is reached as its address under the NAT64
 *   prefix (RFC 6052), translated by the node's TAYGA like any pod's packet.
 *   The baseline lets CoreDNS through its IPv4 guard and only to port 53
 *   (lib/render/policies.ts).
 * - dns64, when the cluster has a NAT64 prefix: an AAAA question whose name
 *   has only A records is answered with those addresses under the prefix.
 *
 * Cluster names. CoreDNS runs its plugins in the order of its plugin.cfg,
 * not the Corefile's; in v1.13.1 that is ... dns64, ..., cache, ...,
 * kubernetes, ..., forward. So dns64 sees every AAAA answer, the kubernetes
 * plugin's too, and acts only on a NOERROR answer without AAAA records, by
 * asking A for the same name and mapping each A record into the prefix.
 * The kubernetes plugin answers an IPv6-only cluster's Services and pods
 * with AAAA records (kept as they are), a name that does not exist with
 * NXDOMAIN (kept: RFC 6147 §5.1.2), and has no A record for them: the
 * cluster's own addresses are never synthesized, and cluster traffic never
 * goes through NAT64. A cluster-zone name is given a NAT64 address only
 * where the kubernetes plugin itself answers with an IPv4 address, which
 * is outside the cluster: an ExternalName Service's target (the CNAME's
 * A records), a headless Service whose EndpointSlices a user wrote with
 * IPv4 addresses, and kubeadm's `pods insecure` form a-b-c-d.<ns>.pod,
 * which echoes any IPv4 address written in it. For each, the synthesized
 * address is the only way an IPv6-only pod reaches that IPv4 address, and
 * the baseline's guard still decides who may.
 *
 * Pure: the same spec and plan give the same bytes.
 */
import { formatAddress, formatPrefix, isIPv4, parseAddress, synthesize } from '../net/ipv6.js';
import type { AddressPlan } from '../plan/addressPlan.js';
import type { ClusterSpec } from '../cluster/cluster.js';
import { unreachableResolvers } from '../cluster/egress.js';
import { CLUSTER_DOMAIN } from './kubeadm.js';
import type { Manifest } from './yaml.js';

/** kubeadm's ConfigMap for CoreDNS, the one its coredns Deployment mounts (key Corefile). */
export const COREDNS_NAMESPACE = 'kube-system';
export const COREDNS_CONFIGMAP = 'coredns';

export interface Upstream {
  /** The resolver as the platform gives it. */
  readonly resolver: string;
  /** The address CoreDNS sends to: the resolver itself (IPv6, canonical), or its address under the NAT64 prefix (IPv4). */
  readonly address: string;
  /** True for an IPv4 resolver, reached through the node's translator. */
  readonly throughNat64: boolean;
}

/**
 * The resolvers CoreDNS forwards to, as its IPv6-only pods reach them. An
 * IPv4 resolver is left out without a NAT64 prefix; none left is refused,
 * naming spec.egress.ipv4 (the decoder refuses such a spec first).
 */
export function upstreams(spec: ClusterSpec, plan: AddressPlan): Upstream[] {
  if (spec.resolvers.length === 0) throw new Error(`platform ${spec.platform} gives its machines no resolver (SpecRules.resolvers): the cluster's DNS of ${spec.file} has nothing to forward to`);
  const refusal = plan.nat64 ? undefined : unreachableResolvers('none', spec.platform, spec.resolvers);
  if (refusal) throw new Error(`${spec.file}: spec.egress.ipv4: ${refusal.message}. Fix: ${refusal.fix}`);
  return spec.resolvers.flatMap((resolver): Upstream[] => {
    if (isIPv4(resolver)) return plan.nat64 ? [{ resolver, address: synthesize(plan.nat64, resolver), throughNat64: true }] : [];
    return [{ resolver, address: formatAddress(parseAddress(resolver)), throughNat64: false }];
  });
}

/** Comment lines, wrapped at about 100 columns, each under `indent`. */
function comment(indent: string, text: string): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && `${indent}# ${line} ${word}`.length > 100) {
      out.push(`${indent}# ${line}`);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(`${indent}# ${line}`);
  return out;
}

/** The Corefile: kubeadm v1.35's default, its two changes commented where they are. */
export function corefile(spec: ClusterSpec, plan: AddressPlan): string {
  const ups = upstreams(spec, plan);
  const dropped = spec.resolvers.filter((r) => !ups.some((u) => u.resolver === r));
  const how = ups.map((u) => (u.throughNat64 ? `${u.resolver} as ${u.address}` : `${u.address} (IPv6)`)).join(', ');
  const i = '    ';
  const lines = [
    `# The DNS of cluster ${spec.name}, rendered by native6 from ${spec.file} (lib/render/coredns.ts, npm run render):`,
    '# kubeadm v1.35\'s default Corefile with two changes, each under a "native6:" comment.',
    '.:53 {',
    `${i}errors`,
    `${i}health {`,
    `${i}   lameduck 5s`,
    `${i}}`,
    `${i}ready`,
    `${i}kubernetes ${CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {`,
    `${i}   pods insecure`,
    `${i}   fallthrough in-addr.arpa ip6.arpa`,
    `${i}   ttl 30`,
    `${i}}`,
    `${i}prometheus :9153`,
    ...(plan.nat64
      ? [
          ...comment(
            i,
            `native6: DNS64. An AAAA question for a name with only A records is answered with those addresses under the cluster's NAT64 prefix (RFC 6052), which every node translates to IPv4. A name with an AAAA record keeps it. CoreDNS runs dns64 before kubernetes and forward whatever the order here (its plugin.cfg), and dns64 changes only answers without AAAA: ${CLUSTER_DOMAIN} names keep the kubernetes plugin's AAAA answers.`,
          ),
          `${i}dns64 {`,
          `${i}   prefix ${formatPrefix(plan.nat64)}`,
          `${i}}`,
        ]
      : []),
    ...comment(
      i,
      [
        `native6: the platform's resolvers (${spec.platform}: ${how}) instead of /etc/resolv.conf.`,
        ...(ups.some((u) => u.throughNat64) ? ["These pods are IPv6-only: they reach an IPv4 resolver only as its address under the NAT64 prefix, through their node's translator."] : []),
        ...(dropped.length > 0 ? [`Left out: ${dropped.join(', ')} (IPv4, and this cluster has no NAT64).`] : []),
      ].join(' '),
    ),
    `${i}forward . ${ups.map((u) => u.address).join(' ')} {`,
    `${i}   max_concurrent 1000`,
    `${i}}`,
    `${i}cache 30 {`,
    `${i}   disable success ${CLUSTER_DOMAIN}`,
    `${i}   disable denial ${CLUSTER_DOMAIN}`,
    `${i}}`,
    `${i}loop`,
    `${i}reload`,
    `${i}loadbalance`,
    '}',
  ];
  return `${lines.join('\n')}\n`;
}

/**
 * The ConfigMap kubeadm creates (name, namespace, key Corefile; kubeadm puts
 * no labels on it), for a forced server-side apply over kubeadm's: the
 * applier then owns data.Corefile. Flux must never delete it (CoreDNS would
 * lose its configuration), whatever becomes of the fabric.
 */
export function corednsConfigMap(spec: ClusterSpec, plan: AddressPlan): Manifest {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: COREDNS_CONFIGMAP,
      namespace: COREDNS_NAMESPACE,
      annotations: { 'kustomize.toolkit.fluxcd.io/prune': 'disabled' },
    },
    data: { Corefile: corefile(spec, plan) },
  };
}
