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
 *   10    guards: deny what no namespace policy may open
 *   20    trusted sources (spec.policy.trustedSources) may reach every workload
 *   100   DNS and the API server
 *   1000  the namespaces' own NetworkPolicies (e.g. apps/echo)
 *   10000 default deny: every workload is selected, so whatever nothing
 *         allowed is dropped at the end of the tier
 */
import { NETWORK_LABEL, CALICO_API } from './calico.js';
import type { Manifest } from './yaml.js';

/** Workloads carrying this label may be reached from spec.policy.publicSources. */
export const PUBLIC_LABEL = 'native6.dev/public';

const inCluster = `${NETWORK_LABEL} in {'cluster', 'trusted'}`;
const kubeDNS = `k8s-app == 'kube-dns'`;
const kubeSystem = `projectcalico.org/name == 'kube-system'`;

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
          // Upstream resolvers, wherever the nodes' resolv.conf points.
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
      file: 'default-deny.yaml',
      docs: [gnp('baseline-default-deny', 10000, { selector: 'all()', types: ['Ingress', 'Egress'] })],
    },
  ];
}
