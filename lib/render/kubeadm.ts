/**
 * kubeadm configuration (kubeadm.k8s.io/v1beta4) for a machine of the
 * cluster: the same configuration for Equinix Metal (cloud-init runs
 * kubeadm with it) and for the lab (its file phases run with it). Secrets
 * (bootstrap token, certificate key) are parameters, never rendered into git.
 *
 * The API endpoint is the `kubernetes` Service's ClusterIP on port 443, and
 * every API server listens on 443 too: the ClusterIP works through
 * kube-proxy (Service port 443 -> endpoint port 443) and, before kube-proxy
 * runs, through the first control plane answering on that address itself
 * (see the README, "The API endpoint's chicken and egg").
 */
import { formatAddress, formatPrefix } from '../net/ipv6.js';
import type { AddressPlan } from '../plan/addressPlan.js';
import type { ClusterSpec } from '../cluster/cluster.js';
import { toYaml } from '../yaml/write.js';
import { ADMISSION_DIR, ADMISSION_FILE } from './podSecurity.js';
import { ENCRYPTION_DIR, ENCRYPTION_FILE } from './encryption.js';

export const KUBEADM_API = 'kubeadm.k8s.io/v1beta4';
export const API_SERVER_PORT = 443;
/**
 * A name kubeadm puts in every API server's certificate: what a client checks it against where it
 * reaches the API at an address the certificate does not name (a control plane's IPv4, the door of
 * IPv4-only clients: lib/workflows/apiWays.ts).
 */
export const API_TLS_NAME = 'kubernetes.default.svc';
export const CONTAINERD_SOCKET = 'unix:///run/containerd/containerd.sock';
/** The cluster's DNS domain: kubeadm's dnsDomain, the kubelet's clusterDomain, the zone of the cluster's DNS (coredns.ts). */
export const CLUSTER_DOMAIN = 'cluster.local';

/**
 * How fast the cluster gives up on a node that stopped answering, on every platform. The routers
 * withdraw a dead node in under a second (BFD), but kube-proxy on every other node keeps sending a
 * share of a Service's new connections to the dead node's pods until the node controller marks the
 * node NotReady and its pods leave the endpoints: with Kubernetes' defaults (a Lease renewed every
 * 10 s, node-monitor-grace-period 50 s) that took 51.8 s in the lab, a quarter of echo-cluster's new
 * connections failing meanwhile. These are the "fast update, fast reaction" settings Kubespray
 * documents: the kubelet renews its Lease every 4 s (a quarter of its duration) and posts its status
 * as often; the node controller looks every 2 s and gives up after 20 s, five missed renewals. A
 * kubelet whose API server hangs closes its connections on the first failed heartbeat and reaches
 * another through the ClusterIP well within that.
 */
export const NODE_FAILURE = { leaseDurationSeconds: 16, statusUpdateFrequency: '4s', monitorPeriod: '2s', monitorGracePeriod: '20s' } as const;

export interface JoinSecrets {
  /** A kubeadm bootstrap token, [a-z0-9]{6}.[a-z0-9]{16}. */
  readonly bootstrapToken: string;
  /** 32 bytes as 64 hex characters: encrypts the control-plane certificates in the kubeadm-certs Secret. */
  readonly certificateKey: string;
  /** The key the API servers seal Secrets with (encryption.ts), base64; absent in a stack made before. */
  readonly secretsKey?: string;
}

export interface KubeadmNode {
  readonly name: string;
  /** The machine's IPv6 address (its /127's odd address). */
  readonly address: string;
}

export interface KubeadmOptions {
  readonly criSocket?: string;
  /** Phases kubeadm skips (the lab skips what needs a container runtime). */
  readonly skipPhases?: readonly string[];
  /**
   * The machines share one kernel (the lab): kube-proxy must leave the
   * kernel-wide conntrack settings alone.
   */
  readonly sharedKernel?: boolean;
  /**
   * How long a join keeps trying to reach the API endpoint (kubeadm's
   * default is 5 minutes). On Equinix Metal the machines boot together and
   * the endpoint answers only once the first control plane announces it, so
   * joins wait for it instead of failing.
   */
  readonly discoveryTimeout?: string;
}

const TOKEN = /^[a-z0-9]{6}\.[a-z0-9]{16}$/;
const CERT_KEY = /^[0-9a-f]{64}$/;

function checkSecrets(s: JoinSecrets): void {
  if (!TOKEN.test(s.bootstrapToken)) throw new Error('the bootstrap token must look like abcdef.0123456789abcdef');
  if (!CERT_KEY.test(s.certificateKey)) throw new Error('the certificate key must be 64 hexadecimal characters');
}

export function controlPlaneEndpoint(plan: AddressPlan): string {
  return `[${formatAddress(plan.apiServer)}]:${API_SERVER_PORT}`;
}

/** The cluster DNS Service address: the 10th of the Service range, as kubeadm picks it. */
export function dnsServiceIP(plan: AddressPlan): string {
  return formatAddress(plan.services.address + 10n);
}

function nodeRegistration(node: KubeadmNode, options: KubeadmOptions): Record<string, unknown> {
  return {
    name: node.name,
    criSocket: options.criSocket ?? CONTAINERD_SOCKET,
    kubeletExtraArgs: [{ name: 'node-ip', value: node.address }],
  };
}

/** `encryptSecrets`: the API servers seal Secrets with the key in ENCRYPTION_FILE (encryption.ts), which every control plane's bootstrap writes. */
export function clusterConfiguration(spec: ClusterSpec, plan: AddressPlan, options: { readonly encryptSecrets?: boolean } = {}): Record<string, unknown> {
  const apiServer = formatAddress(plan.apiServer);
  return {
    apiVersion: KUBEADM_API,
    kind: 'ClusterConfiguration',
    clusterName: spec.name,
    kubernetesVersion: spec.kubernetesVersion,
    controlPlaneEndpoint: controlPlaneEndpoint(plan),
    networking: { serviceSubnet: formatPrefix(plan.services), podSubnet: formatPrefix(plan.pods.pool), dnsDomain: CLUSTER_DOMAIN },
    apiServer: {
      // The API ClusterIP, and its DNS name when the spec gives it one (spec.dns); kubeadm adds the
      // node's name and address and kubernetes, kubernetes.default[.svc[.cluster.local]] itself.
      certSANs: [apiServer, ...(spec.dns ? [`${spec.dns.name}.${spec.dns.zone}`] : [])],
      extraArgs: [
        { name: 'bind-address', value: '::' },
        // Pod Security's cluster-wide default (podSecurity.ts), from the file the bootstrap writes.
        { name: 'admission-control-config-file', value: ADMISSION_FILE },
        ...(options.encryptSecrets ? [{ name: 'encryption-provider-config', value: ENCRYPTION_FILE }] : []),
      ],
      extraVolumes: [
        { name: 'native6-admission', hostPath: ADMISSION_DIR, mountPath: ADMISSION_DIR, readOnly: true, pathType: 'DirectoryOrCreate' },
        ...(options.encryptSecrets ? [{ name: 'native6-encryption', hostPath: ENCRYPTION_DIR, mountPath: ENCRYPTION_DIR, readOnly: true, pathType: 'DirectoryOrCreate' }] : []),
      ],
    },
    // Calico IPAM hands out pod blocks; the controller manager allocates no node CIDRs.
    controllerManager: {
      extraArgs: [
        { name: 'allocate-node-cidrs', value: 'false' },
        { name: 'node-monitor-period', value: NODE_FAILURE.monitorPeriod },
        { name: 'node-monitor-grace-period', value: NODE_FAILURE.monitorGracePeriod },
      ],
    },
    etcd: { local: { dataDir: '/var/lib/etcd' } },
  };
}

export function kubeProxyConfiguration(plan: AddressPlan, options: KubeadmOptions): Record<string, unknown> {
  return {
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    mode: 'nftables',
    clusterCIDR: formatPrefix(plan.pods.pool),
    detectLocalMode: 'ClusterCIDR',
    ...(options.sharedKernel
      ? {
          // Zero means "do not touch": the lab's machines share one kernel's conntrack table.
          conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
        }
      : {}),
  };
}

export function kubeletConfiguration(plan: AddressPlan): Record<string, unknown> {
  return {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    cgroupDriver: 'systemd',
    clusterDNS: [dnsServiceIP(plan)],
    clusterDomain: CLUSTER_DOMAIN,
    // IPv6-only: the kubelet serves on every address of the node.
    address: '::',
    healthzBindAddress: '::1',
    nodeLeaseDurationSeconds: NODE_FAILURE.leaseDurationSeconds,
    nodeStatusUpdateFrequency: NODE_FAILURE.statusUpdateFrequency,
  };
}

/** kubeadm init for the first control plane. */
export function kubeadmInit(spec: ClusterSpec, plan: AddressPlan, node: KubeadmNode, secrets: JoinSecrets, options: KubeadmOptions = {}): string {
  checkSecrets(secrets);
  const init = {
    apiVersion: KUBEADM_API,
    kind: 'InitConfiguration',
    bootstrapTokens: [{ token: secrets.bootstrapToken, ttl: '2h0m0s', usages: ['signing', 'authentication'], groups: ['system:bootstrappers:kubeadm:default-node-token'] }],
    certificateKey: secrets.certificateKey,
    localAPIEndpoint: { advertiseAddress: node.address, bindPort: API_SERVER_PORT },
    nodeRegistration: nodeRegistration(node, options),
    ...(options.skipPhases?.length ? { skipPhases: [...options.skipPhases] } : {}),
  };
  return [init, clusterConfiguration(spec, plan, { encryptSecrets: secrets.secretsKey !== undefined }), kubeProxyConfiguration(plan, options), kubeletConfiguration(plan)].map((d) => `---\n${toYaml(d)}`).join('');
}

/** kubeadm join for another control plane (certificateKey set) or a worker. */
export function kubeadmJoin(
  plan: AddressPlan,
  node: KubeadmNode,
  secrets: JoinSecrets,
  join: { readonly controlPlane: boolean; readonly caCertHash: string },
  options: KubeadmOptions = {},
): string {
  checkSecrets(secrets);
  if (!/^sha256:[0-9a-f]{64}$/.test(join.caCertHash)) throw new Error('the CA certificate hash must be sha256:<64 hex>');
  const doc = {
    apiVersion: KUBEADM_API,
    kind: 'JoinConfiguration',
    discovery: {
      bootstrapToken: { token: secrets.bootstrapToken, apiServerEndpoint: controlPlaneEndpoint(plan), caCertHashes: [join.caCertHash] },
    },
    nodeRegistration: nodeRegistration(node, options),
    ...(join.controlPlane ? { controlPlane: { localAPIEndpoint: { advertiseAddress: node.address, bindPort: API_SERVER_PORT }, certificateKey: secrets.certificateKey } } : {}),
    ...(options.skipPhases?.length ? { skipPhases: [...options.skipPhases] } : {}),
    ...(options.discoveryTimeout ? { timeouts: { discovery: options.discoveryTimeout } } : {}),
  };
  return `---\n${toYaml(doc)}`;
}
