/**
 * The families of `verify`'s checks: what each proves, which check names
 * belong to it, and when it cannot apply to a lab of a given shape (one
 * machine has no second node to spread flows over, one control plane has
 * none to fail over to, a lab without Flux has no Kustomization).
 *
 * Verify runs every family that applies and reports the others as not
 * applicable, with the reason; a family that applies and produced no check
 * fails verify, so a check that silently stops being produced is caught.
 */

export interface CheckFamily {
  readonly id: string;
  /** What the family proves, in a line. */
  readonly proves: string;
  /** The names of its checks. */
  readonly names: RegExp;
}

export const CHECK_FAMILIES = [
  {
    id: 'machine-bootstrap',
    proves: "every machine booted from the bootstrap a real machine runs: its boot unit done, its units enabled, its own firewall loaded; every control plane's API handover done",
    names: /^boot\/[^/]+\/(done|units-enabled|host-firewall|api-handover)$/,
  },
  { id: 'bgp-sessions', proves: 'each router has a BGP session Established with every machine', names: /^bgp\/[^/]+\/sessions-established$/ },
  { id: 'pod-block-routes', proves: "every machine's pod blocks on both routers, via that machine", names: /^routes\/[^/]+\/pod-block\// },
  { id: 'service-range-ecmp', proves: 'the Service range on both routers via every machine (ECMP)', names: /^routes\/[^/]+\/services-ecmp$/ },
  { id: 'metadata-bgp-peers', proves: "the BGPPeers made from each machine's metadata are the rendered ones", names: /^metadata\/[^/]+\/bgp-peers$/ },
  { id: 'downward-default', proves: 'each machine has its default route from BGP', names: /^routes\/[^/]+\/downward-default$/ },
  { id: 'internet-to-node', proves: 'the internet reaches every machine', names: /^ping\/internet->/ },
  { id: 'nodes-ready', proves: 'every machine is a Ready node with its address', names: /^nodes\/[^/]+$/ },
  {
    id: 'api-clusterip',
    proves: "the API server through its ClusterIP from the host and the internet, every control plane behind the kubernetes Service, every etcd member running, Secrets sealed where etcd keeps them",
    names: /^(api\/clusterip-from-host-kubeconfig|api\/kubernetes-service-endpoints|etcd\/members-running|etcd\/secrets-sealed-at-rest|api\/clusterip-from-internet)$/,
  },
  {
    id: 'api-ipv4-door',
    proves: "every control plane's API server over IPv4 from the internet's IPv4 client, its certificate checked as kubernetes.default.svc: the door of a runner with IPv4 only",
    names: /^api\/ipv4-door-from-internet\/[^/]+$/,
  },
  {
    id: 'client-during-node-hang',
    proves: "what the internet's client sees while a worker with an echo pod is hung: echo-local's new connections answered once the routers withdrew it, its established ones to live pods unbroken; echo-cluster's answered once the pod left the endpoints; the node back after",
    names: /^client\/.+$/,
  },
  { id: 'api-with-control-plane-hung', proves: 'the API through its ClusterIP while a control plane is hung, and the machine back after', names: /^(api\/clusterip-from-internet-with-.+-hung|recovery\/.+-after-hang)$/ },
  { id: 'pod-to-pod-across-nodes', proves: 'a pod reaches a pod on another node and is seen with its own address (no NAT)', names: /^pods\/echo\/pod-to-pod-across-nodes-no-nat$/ },
  { id: 'pods-from-internet', proves: "the internet reaches every echo pod, which sees the client's own address", names: /^pods\/echo\/[^/]+\/from-internet-no-nat$/ },
  { id: 'cluster-service', proves: 'echo-cluster answers on its ClusterIP and external IP from the internet, by every pod', names: /^services\/echo-cluster\/(cluster-ip|external-ip)-from-internet$/ },
  { id: 'cluster-service-ecmp-spread', proves: "echo-cluster's flows enter through two or more nodes", names: /^services\/echo-cluster\/(cluster-ip|external-ip)-ecmp-spread$/ },
  {
    id: 'local-service-routes',
    proves: "echo-local's /128s only via the nodes of its endpoints, and the client's own address at the pod",
    names: /^(routes\/[^/]+\/local-service\/.+|services\/echo-local\/external-ip-client-address)$/,
  },
  { id: 'local-service-follows-endpoints', proves: "echo-local's /128s follow its endpoints to another node", names: /^routes\/local-service-follows-endpoints$/ },
  { id: 'policy-matrix', proves: 'the zero-trust matrix from the internet and from pods: every cell as the policies say', names: /^policy\/(matrix|(internet|pod:[^>]+)->.+)$/ },
  {
    id: 'policy-attacks',
    proves: "what the baseline must refuse, tried: a new namespace's pod labelled as a trusted network gets nothing from the label, a pod on the host's network is refused there (Pod Security), and the internet gets no answer from the cluster's DNS (UDP, TCP)",
    names: /^policy\/attack\/.+$/,
  },
  { id: 'policy-matrix-host-row', proves: 'the matrix from a node that runs none of the pods', names: /^policy\/host:[^>]+->.+$/ },
  { id: 'flux', proves: 'every Kustomization Ready at its source revision', names: /^flux\/.+$/ },
  { id: 'internet-dns', proves: "the internet's resolver answers as today's internet: an A-only name has no AAAA, a dual-stack name has one, other names do not exist", names: /^dns\/internet\/.+$/ },
  {
    id: 'cluster-dns',
    proves: "from a pod, through its resolv.conf: the cluster's DNS names the API server's ClusterIP, synthesizes an A-only name under the NAT64 prefix, leaves a name with an AAAA alone, says NXDOMAIN for a name that does not exist",
    names: /^dns\/pod\/.+$/,
  },
  {
    id: 'nat64-translator-restart',
    proves: "a node's translator killed is back within seconds for its pods (Restart=always), and another node's pods keep their IPv4 egress meanwhile",
    names: /^nat64\/[^/]+\/(translator-killed|egress-while-.+-translator-down)$/,
  },
  { id: 'nat64-translators', proves: 'every node runs its NAT64 translator: TAYGA up, the NAT64 prefix routed to it, its IPv4 rules loaded', names: /^nat64\/[^/]+\/translator$/ },
  {
    id: 'ipv4-egress',
    proves: "the permitted pod reaches the IPv4-only host through NAT64 with its node's IPv4; pods reach the IPv6 host with their own addresses; the pod without the label is denied IPv4, by the guard's rule as its counter shows",
    names: /^egress\/(ipv4-allowed|ipv6-only)->.+$/,
  },
  {
    id: 'ipv4-egress-new-namespace',
    proves: "a namespace made while verify runs gets no IPv4 egress: its pod is denied the IPv4-only host by the guard's rule, as its counter shows",
    names: /^egress\/new-namespace->.+$/,
  },
] as const satisfies readonly CheckFamily[];

export type FamilyId = (typeof CHECK_FAMILIES)[number]['id'];

/** The family a check's name belongs to; a name of no family is a bug in verify, and throws. */
export function familyOf(name: string): FamilyId {
  const matches = CHECK_FAMILIES.filter((f) => f.names.test(name));
  if (matches.length !== 1) throw new Error(`verify: check ${name} belongs to ${matches.length === 0 ? 'no family' : `${matches.length} families (${matches.map((f) => f.id).join(', ')})`}`);
  return matches[0]!.id;
}

/** What verify knows of the lab before it checks: its machines, and what runs on them. */
export interface LabShape {
  readonly controlPlanes: number;
  readonly machines: number;
  /** Flux is installed (its GitRepository exists). */
  readonly flux: boolean;
  /** Pods reach IPv4 through NAT64 (spec.egress.ipv4: nat64). */
  readonly nat64: boolean;
  /** A metal cluster (a rack lab): its machines' routers are the spec's, there is no metadata service. */
  readonly metal?: boolean;
}

/**
 * Why the policy matrix has no host row, when every machine runs a pod of
 * the demo app's namespace at the time the matrix is taken (a node reaches
 * its own pods unpoliced, as with Calico). Pods move during verify, so this
 * is decided when the matrix runs, not from the shape.
 */
export const NO_HOST_ROW = 'every machine runs a pod of the echo namespace: no node is left to test from as a host without local pods';

/** The families that cannot apply to a lab of this shape, each with the reason. */
export function notApplicable(shape: LabShape): Map<FamilyId, string> {
  const out = new Map<FamilyId, string>();
  if (shape.controlPlanes < 2) out.set('api-with-control-plane-hung', `${shape.controlPlanes} control plane: with it hung no API server is left to answer (3 survive the loss of one)`);
  if (shape.machines < 2) {
    const one = `${shape.machines} machine`;
    out.set('pod-to-pod-across-nodes', `${one}: every pod runs on it, there is no other node to reach`);
    out.set('cluster-service-ecmp-spread', `${one}: every flow enters through it, there is nothing to spread over`);
    out.set('local-service-follows-endpoints', `${one}: there is no other node for the endpoints to move to`);
    out.set('client-during-node-hang', `${one}: with it hung no node is left to answer`);
  }
  if (shape.machines < 2) out.set('policy-matrix-host-row', NO_HOST_ROW);
  if (!shape.nat64) {
    out.set('nat64-translators', 'the spec says spec.egress.ipv4: none: no node translates');
    out.set('ipv4-egress', 'the spec says spec.egress.ipv4: none: no pod reaches IPv4');
    out.set('ipv4-egress-new-namespace', 'the spec says spec.egress.ipv4: none: no pod reaches IPv4, there is no NAT64 prefix to be denied');
    out.set('nat64-translator-restart', 'the spec says spec.egress.ipv4: none: no node translates');
  }
  if (shape.metal) out.set('metadata-bgp-peers', "a metal cluster has no metadata service: each machine's routers are the spec's (its bootstrap's discovery), rendered from the same lines");
  if (!shape.flux) {
    out.set('flux', shape.metal ? "Flux is not installed: the rack lab does not install it yet (metal refuses an http:// repository, and the lab's git hosts serve http only)" : 'Flux is not installed (no GitRepository flux-system): npm run lab installs it unless --skip flux');
  }
  return out;
}
