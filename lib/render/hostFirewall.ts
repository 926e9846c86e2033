/**
 * The machines' own firewall (review bootstrap-2026-12 M10): what reaches a
 * machine's public addresses for the machine itself (the input hook; what
 * it forwards to pods and Services is Calico's and kube-proxy's business).
 * By default nothing; then:
 * - replies (established, related), the loopback, ICMP (neighbour
 *   discovery, router advertisements, path MTU, ping) and DHCPv6 from the
 *   link;
 * - BGP (179) and BFD (3784, 4784) from the machine's BGP peers only;
 * - the API (443) from anywhere: the API's ClusterIP is public by design,
 *   and it answers on the control planes' own addresses too, their IPv4
 *   included: the door of clients with IPv4 only (a GitHub-hosted runner's
 *   apply, docs/bootstrap.md "F3"), TLS-verified as kubernetes.default.svc;
 * - etcd (2379, 2380), the kubelet (10250) and kube-proxy's health (10256)
 *   from the cluster only: its block, and its machines' own addresses
 *   where they lie outside it (a metal cluster's uplinks);
 * - SSH (22) from the cluster and the spec's trusted sources (a metal
 *   cluster's apply comes in over SSH: from there);
 * - other IPv4, which a machine has for egress: replies and ICMP.
 * Everything else, NodePorts included, is dropped. The peers are learnt at
 * boot: the rendered file names them by a placeholder line that the
 * bootstrap fills (peerElements), or removes when the peers are on the link.
 * Loaded by the bootstrap before kubeadm, and at every boot by its unit.
 */
import { containsAddress, formatAddress, formatPrefix } from '../net/ipv6.js';
import type { AddressPlan } from '../plan/addressPlan.js';
import type { ClusterSpec } from '../cluster/cluster.js';

export const HOST_FIREWALL_TABLE = 'n6-host';
export const HOST_FIREWALL_FILE = '/etc/native6/host-firewall.nft';
/** The line the bootstrap replaces with the peers' elements (or deletes). */
export const PEER_ELEMENTS_PLACEHOLDER = '@BGP_PEER_ELEMENTS@';
export const CLUSTER_PORTS = [2379, 2380, 10250, 10256] as const;
export const BFD_PORTS = [3784, 4784] as const;

/** The placeholder's replacement for these peers: an elements line, or nothing when there are none. */
export function peerElements(peers: readonly string[]): string {
  return peers.length > 0 ? `elements = { ${peers.join(', ')} }` : '';
}

/** The cluster's own sources: its block, and the machines' own addresses where they lie outside it (metal: on their uplinks). */
export function clusterSources(spec: ClusterSpec, plan: AddressPlan): string[] {
  const machines = (spec.inventory?.machines ?? []).filter((m) => !containsAddress(plan.block, m.address)).map((m) => `${formatAddress(m.address)}/128`);
  return [formatPrefix(plan.block), ...machines];
}

export function hostFirewall(spec: ClusterSpec, plan: AddressPlan): string {
  const trusted = spec.policy.trustedSources.map(formatPrefix);
  return [
    `table inet ${HOST_FIREWALL_TABLE}`,
    `delete table inet ${HOST_FIREWALL_TABLE}`,
    `table inet ${HOST_FIREWALL_TABLE} {`,
    '  set bgp-peers {',
    '    type ipv6_addr',
    `    ${PEER_ELEMENTS_PLACEHOLDER}`,
    '  }',
    '  set cluster {',
    '    type ipv6_addr; flags interval',
    `    elements = { ${clusterSources(spec, plan).join(', ')} }`,
    '  }',
    ...(trusted.length > 0 ? ['  set trusted {', '    type ipv6_addr; flags interval', `    elements = { ${trusted.join(', ')} }`, '  }'] : []),
    '  chain input {',
    '    type filter hook input priority filter; policy drop;',
    '    ct state established,related accept',
    '    ct state invalid drop',
    '    iif lo accept',
    '    meta l4proto ipv6-icmp accept',
    '    meta l4proto icmp accept',
    '    ip6 saddr fe80::/10 udp dport 546 accept',
    '    ip6 saddr @bgp-peers tcp dport 179 accept',
    `    ip6 saddr @bgp-peers udp dport { ${BFD_PORTS.join(', ')} } accept`,
    '    tcp dport 443 accept',
    `    ip6 saddr @cluster tcp dport { ${CLUSTER_PORTS.join(', ')} } accept`,
    '    ip6 saddr @cluster tcp dport 22 accept',
    ...(trusted.length > 0 ? ['    ip6 saddr @trusted tcp dport 22 accept'] : []),
    '    counter comment "dropped: not for this machine"',
    '  }',
    '}',
    '',
  ].join('\n');
}
