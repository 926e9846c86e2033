/**
 * The demo workload (apps/echo/): an HTTP echo server answering with the
 * pod's name, its node and the client's address, behind two public
 * Services — one with externalTrafficPolicy Cluster (ECMP to every node,
 * then to any endpoint), one with Local (a /128 announced only from nodes
 * with an endpoint; the client's address is kept) — and a private
 * workload nothing outside may reach.
 *
 * The base is cluster-agnostic; each cluster's overlay (clusters/<name>/apps/)
 * gives the public Services their external IPs from the cluster's plan.
 */
import { formatAddress } from '../net/ipv6.js';
import type { AddressPlan } from '../plan/addressPlan.js';
import { IPV4_EGRESS_LABEL, PUBLIC_LABEL } from './policies.js';
import type { Manifest } from './yaml.js';

export const ECHO_NAMESPACE = 'echo';
/** agnhost's netexec serves /hostname, /clientip and /echo; the lab's kubelet runs our echo server for it. */
export const ECHO_IMAGE = 'registry.k8s.io/e2e-test-images/agnhost:2.53';
export const ECHO_PORT = 8080;

export interface PublicService {
  readonly name: string;
  readonly trafficPolicy: 'Cluster' | 'Local';
  /** Offset of its external IP inside the cluster's external IP range. */
  readonly offset: bigint;
}

export const PUBLIC_SERVICES: readonly PublicService[] = [
  { name: 'echo-cluster', trafficPolicy: 'Cluster', offset: 1n },
  { name: 'echo-local', trafficPolicy: 'Local', offset: 2n },
];

function deployment(name: string, replicas: number, labels: Record<string, string>, namespace: string = ECHO_NAMESPACE): Manifest {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace, labels: { app: name } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name, ...labels } },
        spec: {
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: { runAsNonRoot: true, runAsUser: 65534, seccompProfile: { type: 'RuntimeDefault' } },
          topologySpreadConstraints: [
            { maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: { app: name } } },
          ],
          containers: [
            {
              name: 'echo',
              image: ECHO_IMAGE,
              args: ['netexec', `--http-port=${ECHO_PORT}`],
              ports: [{ name: 'http', containerPort: ECHO_PORT, protocol: 'TCP' }],
              readinessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 5 },
              resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { memory: '64Mi' } },
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
            },
          ],
        },
      },
    },
  };
}

function service(name: string, app: string): Manifest {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: ECHO_NAMESPACE },
    spec: {
      type: 'ClusterIP',
      ipFamilyPolicy: 'SingleStack',
      ipFamilies: ['IPv6'],
      selector: { app },
      ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }],
    },
  };
}

export function echoBase(): Array<{ file: string; docs: Manifest[] }> {
  return [
    {
      file: 'namespace.yaml',
      docs: [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ECHO_NAMESPACE, labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } } }],
    },
    { file: 'echo.yaml', docs: [deployment('echo', 2, { [PUBLIC_LABEL]: 'true' }), ...PUBLIC_SERVICES.map((s) => service(s.name, 'echo'))] },
    { file: 'internal.yaml', docs: [deployment('internal', 1, {}), service('internal', 'internal')] },
    {
      file: 'network-policy.yaml',
      docs: [
        {
          apiVersion: 'networking.k8s.io/v1',
          kind: 'NetworkPolicy',
          metadata: { name: 'echo-public-ingress', namespace: ECHO_NAMESPACE },
          spec: {
            podSelector: { matchLabels: { app: 'echo' } },
            policyTypes: ['Ingress'],
            // Anyone on the internet, on the HTTP port only. The baseline's guard still
            // limits this to spec.policy.publicSources, and only for pods labelled public.
            ingress: [{ from: [{ ipBlock: { cidr: '::/0' } }], ports: [{ protocol: 'TCP', port: ECHO_PORT }] }],
          },
        },
        {
          // The one flow inside the app: echo calls internal. Both ends say so (zero trust:
          // the baseline denies every other egress and every other ingress).
          apiVersion: 'networking.k8s.io/v1',
          kind: 'NetworkPolicy',
          metadata: { name: 'echo-to-internal', namespace: ECHO_NAMESPACE },
          spec: {
            podSelector: { matchLabels: { app: 'echo' } },
            policyTypes: ['Egress'],
            egress: [{ to: [{ podSelector: { matchLabels: { app: 'internal' } } }], ports: [{ protocol: 'TCP', port: ECHO_PORT }] }],
          },
        },
        {
          apiVersion: 'networking.k8s.io/v1',
          kind: 'NetworkPolicy',
          metadata: { name: 'internal-from-echo', namespace: ECHO_NAMESPACE },
          spec: {
            podSelector: { matchLabels: { app: 'internal' } },
            policyTypes: ['Ingress'],
            ingress: [{ from: [{ podSelector: { matchLabels: { app: 'echo' } } }], ports: [{ protocol: 'TCP', port: ECHO_PORT }] }],
          },
        },
      ],
    },
  ];
}

export const EGRESS_NAMESPACE = 'egress';

/**
 * The egress demo (apps/egress/): two clients of the internet, both allowed
 * by their namespace's policy to open HTTP and HTTPS connections to any
 * address. `ipv4-allowed` carries the label that lets a workload through
 * NAT64 (IPV4_EGRESS_LABEL); `ipv6-only` does not, so the baseline's guard
 * denies it every IPv4-only host whatever its namespace allows, while IPv6
 * hosts see both with their own addresses.
 */
export function egressBase(): Array<{ file: string; docs: Manifest[] }> {
  return [
    {
      file: 'namespace.yaml',
      docs: [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: EGRESS_NAMESPACE, labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } } }],
    },
    { file: 'clients.yaml', docs: [deployment('ipv4-allowed', 1, { [IPV4_EGRESS_LABEL]: 'true' }, EGRESS_NAMESPACE), deployment('ipv6-only', 1, {}, EGRESS_NAMESPACE)] },
    {
      file: 'network-policy.yaml',
      docs: [
        {
          apiVersion: 'networking.k8s.io/v1',
          kind: 'NetworkPolicy',
          metadata: { name: 'clients-to-the-internet', namespace: EGRESS_NAMESPACE },
          spec: {
            podSelector: {},
            policyTypes: ['Egress'],
            // Any address: the NAT64 prefix too. Only the label decides who gets through it.
            egress: [{ to: [{ ipBlock: { cidr: '::/0' } }], ports: [{ protocol: 'TCP', port: 80 }, { protocol: 'TCP', port: 443 }] }],
          },
        },
      ],
    },
  ];
}

/**
 * External IPs for public Services, in order from the cluster's external IP
 * range (offset 1 onwards; the range's first address stays unused).
 */
export function assignExternalIPs(plan: AddressPlan, services: readonly PublicService[]): Manifest[] {
  const range = plan.externalIPs;
  if (!range) return [];
  const capacity = (1n << BigInt(128 - range.length)) - 1n;
  return services.map((s) => {
    if (s.offset < 1n || s.offset > capacity) {
      throw new Error(`Service ${s.name}: offset ${s.offset} is outside the external IP range ${formatAddress(range.address)}/${range.length}`);
    }
    return {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: s.name, namespace: ECHO_NAMESPACE },
      spec: { externalIPs: [formatAddress(range.address + s.offset)], externalTrafficPolicy: s.trafficPolicy },
    };
  });
}

/** The cluster's patch giving each public echo Service its external IP and traffic policy. */
export function echoPublicAddresses(plan: AddressPlan): Manifest[] {
  return assignExternalIPs(plan, PUBLIC_SERVICES);
}
