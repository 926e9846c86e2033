/**
 * The zero-trust baseline, shared by every cluster (policies/baseline/).
 *
 * Calico GlobalNetworkPolicies, because Kubernetes NetworkPolicy cannot say
 * "deny, whatever a namespace's own policy allows" nor apply to every
 * namespace at once. Cluster-specific addresses are not written here: the
 * rules select the cluster's GlobalNetworkSets by label (rendered per cluster
 * into clusters/<name>/fabric/), so one baseline serves every cluster.
 *
 * Order of evaluation (lower first; Kubernetes NetworkPolicies sit at 1000):
 *   10    guards: deny what no namespace policy may open (ingress from outside
 *         to private workloads; the IPv4 internet, through the NAT64 prefix,
 *         to workloads not labelled for it, but Flux's source-controller and
 *         CoreDNS, whose upstream resolvers are IPv4)
 *   20    trusted sources (spec.policy.trustedSources) may reach every workload
 *         (their network set: no pod is a trusted source, see networkSets())
 *   100   DNS from pods (never from the node range: see baseline-dns-server),
 *         the API server, and the IPv4 internet for the workloads
 *         labelled for it and Flux's source-controller
 *   1000  the namespaces' own NetworkPolicies (e.g. apps/echo)
 *   10000 default deny: every workload is selected, so whatever nothing
 *         allowed is dropped at the end of the tier
 */
import { NAT64_NETWORK, NETWORK_LABEL, CALICO_API } from './calico.js';
import { COREDNS_NAMESPACE } from './coredns.js';
import { FLUX_NAMESPACE } from './flux.js';
import type { Manifest } from './yaml.js';

/** Workloads carrying this label may be reached from spec.policy.publicSources. */
export const PUBLIC_LABEL = 'native6.dev/public';
/**
 * Workloads carrying this label ("true") may reach the IPv4 internet, through
 * the cluster's NAT64 prefix (spec.egress.ipv4: nat64); every other workload
 * is denied it, whatever its namespace's policies say, but Flux's
 * source-controller, which fetches from IPv4-only hosts such as github.com,
 * and CoreDNS, to its IPv4 upstream resolvers on port 53 only.
 */
export const IPV4_EGRESS_LABEL = 'native6.dev/ipv4-egress';

/** Flux's source-controller (its pods' label app, in Flux's namespace): the one workload the baseline lets reach any IPv4 host unlabelled. */
const sourceController = `projectcalico.org/namespace == '${FLUX_NAMESPACE}' && app == 'source-controller'`;
const mayReachIPv4 = `${IPV4_EGRESS_LABEL} == 'true' || (${sourceController})`;
/**
 * A rule selector that matches the cluster's network sets and nothing else.
 *
 * In a GlobalNetworkPolicy a rule's `selector` (and `notSelector`) without a
 * `namespaceSelector` matches workload endpoints in every namespace as well
 * as network sets (Calico v3.28.5's CRD: "For GlobalNetworkPolicy, an empty
 * NamespaceSelector implies the Selector applies to workload endpoints
 * across all namespaces"). `native6.dev/network == 'trusted'` alone would
 * make any pod that labels itself so a trusted source, let into every
 * workload on every port, and lift the private guard for it (#15, H3).
 *
 * Calico gives every workload endpoint the label projectcalico.org/namespace
 * (libcalico-go's pod conversion sets it after the pod's own labels, so a pod
 * cannot drop or forge it; namespaced NetworkSets get it too); a
 * GlobalNetworkSet, or a host endpoint, has only its own labels. So
 * `&& !has(projectcalico.org/namespace)` keeps global resources only.
 * `namespaceSelector: global()` means the same in a positive selector
 * (libcalico-go rewrites global() into this very expression), but the CRD
 * documents global() for NetworkPolicy only, and it cannot narrow a
 * notSelector, which Calico keeps as written (the guards are notSelectors).
 */
export const GLOBAL_ONLY = '!has(projectcalico.org/namespace)';

/** `match`, limited to global network sets (GLOBAL_ONLY). */
export function networkSets(match: string): string {
  return `${match} && ${GLOBAL_ONLY}`;
}

const nat64 = networkSets(`${NETWORK_LABEL} == '${NAT64_NETWORK}'`);

const inCluster = networkSets(`${NETWORK_LABEL} in {'cluster', 'trusted'}`);
const kubeDNS = `k8s-app == 'kube-dns'`;
const kubeSystem = `projectcalico.org/name == '${COREDNS_NAMESPACE}'`;
/**
 * kubeadm's CoreDNS pods: they forward to the platform's resolvers, which
 * are IPv4 and reached as their addresses under the NAT64 prefix
 * (lib/render/coredns.ts). The guard lets them through; of the NAT64
 * prefix, baseline-dns-server allows them port 53 only, and
 * baseline-allow-ipv4-egress does not select them.
 */
const coreDNS = `projectcalico.org/namespace == '${COREDNS_NAMESPACE}' && ${kubeDNS}`;

function gnp(name: string, order: number, spec: Record<string, unknown>): Manifest {
  return { apiVersion: CALICO_API, kind: 'GlobalNetworkPolicy', metadata: { name }, spec: { order, ...spec } };
}

export function baselinePolicies(): Array<{ file: string; docs: Manifest[] }> {
  return [
    {
      file: 'guard-public-ingress.yaml',
      docs: [
        gnp('baseline-guard-private-workloads', 10, {
          selector: `${PUBLIC_LABEL} != 'true'`,
          types: ['Ingress'],
          ingress: [{ action: 'Deny', source: { notSelector: inCluster } }],
        }),
        gnp('baseline-guard-public-workloads', 10, {
          selector: `${PUBLIC_LABEL} == 'true'`,
          types: ['Ingress'],
          ingress: [{ action: 'Deny', source: { notSelector: networkSets(`${NETWORK_LABEL} in {'cluster', 'trusted', 'public'}`) } }],
        }),
      ],
    },
    {
      file: 'guard-ipv4-egress.yaml',
      docs: [
        gnp('baseline-guard-ipv4-egress', 10, {
          selector: `${IPV4_EGRESS_LABEL} != 'true' && !(${sourceController}) && !(${coreDNS})`,
          types: ['Egress'],
          egress: [{ action: 'Deny', destination: { selector: nat64 } }],
        }),
      ],
    },
    {
      file: 'allow-trusted.yaml',
      docs: [
        gnp('baseline-allow-trusted-sources', 20, {
          selector: 'all()',
          types: ['Ingress'],
          ingress: [{ action: 'Allow', source: { selector: networkSets(`${NETWORK_LABEL} == 'trusted'`) } }],
        }),
      ],
    },
    {
      file: 'allow-dns.yaml',
      docs: [
        gnp('baseline-allow-dns', 100, {
          selector: 'all()',
          types: ['Egress'],
          egress: ['UDP', 'TCP'].map((protocol) => ({
            action: 'Allow',
            protocol,
            destination: { selector: kubeDNS, namespaceSelector: kubeSystem, ports: [53] },
          })),
        }),
        gnp('baseline-dns-server', 100, {
          selector: kubeDNS,
          namespaceSelector: kubeSystem,
          types: ['Ingress', 'Egress'],
          // From pods only, never from the `cluster` set (#15, M1): its node range is also what the
          // internet looks like here, since the Service range is announced and kube-proxy masquerades
          // off-cluster traffic to a ClusterIP to the node's address; CoreDNS would be an open
          // resolver. `namespaceSelector: all()` alone is every workload endpoint of every namespace
          // (libcalico-go: has(projectcalico.org/namespace)), no global network set (a namespaced
          // NetworkSet would count; none is rendered, and only Calico's CRDs' writers make one). A node needs nothing
          // here: Felix does not police a host's traffic to its own pods (felix/rules/static.go,
          // filterOutputChain: "We don't currently police host -> endpoint"; IPVS connections
          // aside, and kube-proxy runs nftables), so the kubelet's probes of CoreDNS (8080, 8181,
          // which no rule here opens either) pass; hostNetwork pods on other nodes would be denied.
          ingress: ['UDP', 'TCP'].map((protocol) => ({
            action: 'Allow',
            protocol,
            source: { namespaceSelector: 'all()' },
            destination: { ports: [53] },
          })),
          // The upstream resolvers (lib/render/coredns.ts), IPv4 ones at their addresses under the NAT64 prefix.
          egress: ['UDP', 'TCP'].map((protocol) => ({ action: 'Allow', protocol, destination: { ports: [53] } })),
        }),
      ],
    },
    {
      file: 'allow-apiserver.yaml',
      docs: [
        gnp('baseline-allow-apiserver', 100, {
          selector: 'all()',
          types: ['Egress'],
          egress: [{ action: 'Allow', protocol: 'TCP', destination: { services: { name: 'kubernetes', namespace: 'default' } } }],
        }),
      ],
    },
    {
      file: 'allow-ipv4-egress.yaml',
      docs: [
        gnp('baseline-allow-ipv4-egress', 100, {
          selector: mayReachIPv4,
          types: ['Egress'],
          egress: [{ action: 'Allow', destination: { selector: nat64 } }],
        }),
      ],
    },
    {
      file: 'default-deny.yaml',
      docs: [gnp('baseline-default-deny', 10000, { selector: 'all()', types: ['Ingress', 'Egress'] })],
    },
  ];
}
