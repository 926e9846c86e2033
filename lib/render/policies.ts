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
 *   100   DNS, the API server, and the IPv4 internet for the workloads
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
const nat64 = `${NETWORK_LABEL} == '${NAT64_NETWORK}'`;

const inCluster = `${NETWORK_LABEL} in {'cluster', 'trusted'}`;
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
          ingress: [{ action: 'Deny', source: { notSelector: `${NETWORK_LABEL} in {'cluster', 'trusted', 'public'}` } }],
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
          ingress: [{ action: 'Allow', source: { selector: `${NETWORK_LABEL} == 'trusted'` } }],
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
          ingress: ['UDP', 'TCP'].map((protocol) => ({
            action: 'Allow',
            protocol,
            source: { selector: `${NETWORK_LABEL} == 'cluster'` },
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
