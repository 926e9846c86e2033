/**
 * Calico's fabric for one cluster: the pod IPPool, the BGP configuration
 * (no node-to-node mesh, Service ranges advertised), one BGPPeer per node
 * and provider router, Felix settings, the cluster's network sets, and the
 * RBAC that lets calico-node read the BGP passwords. Written as
 * crd.projectcalico.org/v1 objects, as Calico's Kubernetes datastore keeps
 * them.
 */
import { formatAddress, formatPrefix, parseAddress } from '../net/ipv6.js';
import type { AddressPlan } from '../plan/addressPlan.js';
import type { ClusterSpec } from '../cluster/cluster.js';
import { publicIPv6, type Device } from '../cluster/devices.js';
import type { KubeObject } from '../kube/objects.js';
import type { Manifest } from './yaml.js';

export const CALICO_API = 'crd.projectcalico.org/v1';
/** Where calico-node runs (the manifest install); BGP password Secrets live here. */
export const CALICO_NAMESPACE = 'kube-system';
export const CALICO_NODE_SERVICE_ACCOUNT = 'calico-node';
/** The Secret apply creates in the cluster: one key per node, the node's MD5 password. Never in git. */
export const BGP_SECRET = 'bgp-md5';
/** Label of the GlobalNetworkSets the baseline policies select. */
export const NETWORK_LABEL = 'native6.dev/network';
/** NETWORK_LABEL's value on the set of the NAT64 prefix: the way to the IPv4 internet. */
export const NAT64_NETWORK = 'nat64';

export function ipPool(plan: AddressPlan): Manifest {
  return {
    apiVersion: CALICO_API,
    kind: 'IPPool',
    metadata: { name: 'pods' },
    spec: {
      cidr: formatPrefix(plan.pods.pool),
      blockSize: plan.pods.blockSize,
      ipipMode: 'Never',
      vxlanMode: 'Never',
      natOutgoing: false,
      nodeSelector: 'all()',
      allowedUses: ['Workload'],
      disableBGPExport: false,
    },
  };
}

export function bgpConfiguration(spec: ClusterSpec, plan: AddressPlan): Manifest {
  const cidrs = (p: { address: bigint; length: number } | undefined) => (p ? [{ cidr: formatPrefix(p) }] : undefined);
  return {
    apiVersion: CALICO_API,
    kind: 'BGPConfiguration',
    metadata: { name: 'default' },
    spec: {
      asNumber: spec.network.localASN,
      nodeToNodeMeshEnabled: false,
      logSeverityScreen: 'Info',
      serviceClusterIPs: cidrs(plan.services),
      ...(plan.externalIPs ? { serviceExternalIPs: cidrs(plan.externalIPs) } : {}),
      ...(plan.loadBalancers ? { serviceLoadBalancerIPs: cidrs(plan.loadBalancers) } : {}),
    },
  };
}

export function felixConfiguration(): Manifest {
  return {
    apiVersion: CALICO_API,
    kind: 'FelixConfiguration',
    metadata: { name: 'default' },
    spec: {
      ipv6Support: true,
      bpfEnabled: false,
      xdpEnabled: false,
      logSeverityScreen: 'Info',
      // Traffic to an advertised Service address that no Service holds is dropped, not routed back out.
      serviceLoopPrevention: 'Drop',
    },
  };
}

/** A Kubernetes-safe name for one node's peering with one router. */
export function peerName(node: string, peerIP: string): string {
  const tail = formatAddress(parseAddress(peerIP)).replace(/:/g, '-');
  return `${node}-${tail.endsWith('-') ? `${tail}0` : tail}`.replace(/^-/, '0-');
}

/** One BGPPeer per device and per IPv6 router it peers with, from the provider's metadata. */
export function bgpPeers(devices: readonly Device[]): Manifest[] {
  const out: Manifest[] = [];
  for (const device of [...devices].sort((a, b) => a.hostname.localeCompare(b.hostname))) {
    const v6 = publicIPv6(device);
    for (const n of device.bgp_neighbors) {
      if (n.address_family !== 6) continue;
      for (const peer of n.peer_ips) {
        const peerIP = formatAddress(parseAddress(peer));
        out.push({
          apiVersion: CALICO_API,
          kind: 'BGPPeer',
          metadata: { name: peerName(device.hostname, peerIP) },
          spec: {
            node: device.hostname,
            peerIP,
            asNumber: n.peer_as,
            sourceAddress: 'UseNodeIP',
            // Multihop peers sit behind the device's gateway: pin a /128 route to them through it.
            ...(n.multihop && v6 ? { reachableBy: formatAddress(parseAddress(v6.gateway)) } : {}),
            ...(n.md5_enabled ? { password: { secretKeyRef: { name: BGP_SECRET, key: device.hostname } } } : {}),
          },
        });
      }
    }
  }
  return out;
}

/**
 * The cluster's own ranges, the sources its policy options name, and the
 * NAT64 prefix (when pods reach IPv4 through it), as Calico network sets.
 */
export function networkSets(spec: ClusterSpec, plan: AddressPlan): Manifest[] {
  const set = (name: string, label: string, nets: string[]): Manifest => ({
    apiVersion: CALICO_API,
    kind: 'GlobalNetworkSet',
    metadata: { name, labels: { [NETWORK_LABEL]: label } },
    spec: { nets },
  });
  return [
    // The nodes: the plan's node range, or the machines' own addresses where the spec lists them (metal).
    set('cluster', 'cluster', [...(spec.inventory ? spec.inventory.machines.map((m) => `${formatAddress(m.address)}/128`) : [formatPrefix(plan.nodes)]), formatPrefix(plan.pods.pool)]),
    set('public-sources', 'public', spec.policy.publicSources.map(formatPrefix)),
    set('trusted-sources', 'trusted', spec.policy.trustedSources.map(formatPrefix)),
    ...(plan.nat64 ? [set('nat64', NAT64_NETWORK, [formatPrefix(plan.nat64)])] : []),
  ];
}

/**
 * The BGP password Secret the BGPPeers reference, one key per node. Never
 * rendered into the tree (it holds the passwords): apply's bootstrap and the
 * lab apply it to the cluster directly.
 */
export function bgpPasswordSecret(passwords: ReadonlyMap<string, string>): KubeObject {
  const data: Record<string, string> = {};
  for (const [node, password] of [...passwords].sort(([x], [y]) => x.localeCompare(y))) data[node] = Buffer.from(password, 'utf8').toString('base64');
  return { apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata: { name: BGP_SECRET, namespace: CALICO_NAMESPACE }, data };
}

/** Lets calico-node read the BGP password Secret (and nothing else). */
export function bgpSecretAccess(): Manifest[] {
  return [
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'calico-bgp-passwords', namespace: CALICO_NAMESPACE },
      rules: [{ apiGroups: [''], resources: ['secrets'], resourceNames: [BGP_SECRET], verbs: ['get', 'list', 'watch'] }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'calico-bgp-passwords', namespace: CALICO_NAMESPACE },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'calico-bgp-passwords' },
      subjects: [{ kind: 'ServiceAccount', name: CALICO_NODE_SERVICE_ACCOUNT, namespace: CALICO_NAMESPACE }],
    },
  ];
}
