/**
 * The cluster's Pod Security default (review security-2026-12 M2): every
 * namespace that says nothing gets the `baseline` profile enforced (no
 * hostNetwork, hostPID or hostIPC, no privileged containers, no hostPath
 * volumes, no host ports, no capabilities beyond the default set), with
 * `restricted` audited and warned about. Without it a tenant's
 * `hostNetwork: true` pod sat in its node's network namespace, outside
 * every workload policy of the zero-trust baseline (Calico polices pods by
 * their interfaces; a host-network pod has none), and could bind the node's
 * addresses.
 *
 * It is the API server's admission configuration (AdmissionConfiguration,
 * PodSecurity plugin), written by the bootstrap on every control plane and
 * named by kubeadm's ClusterConfiguration (kubeadm.ts: the flag and the
 * folder mounted into the API server's static pod). A namespace chooses a
 * stricter profile with the usual labels (the apps' namespaces enforce
 * `restricted`); only kube-system is exempt, where the node agents live
 * (kube-proxy and calico-node on the host network, calico-node privileged).
 */
import { toYaml } from '../yaml/write.js';

/** The folder kubeadm mounts into the API server's static pod, and the file in it. */
export const ADMISSION_DIR = '/etc/kubernetes/admission';
export const ADMISSION_FILE = `${ADMISSION_DIR}/native6-admission.yaml`;

/** The namespaces Pod Security leaves alone: the node agents'. */
export const POD_SECURITY_EXEMPT_NAMESPACES = ['kube-system'] as const;

export const POD_SECURITY_DEFAULTS = {
  enforce: 'baseline',
  'enforce-version': 'latest',
  audit: 'restricted',
  'audit-version': 'latest',
  warn: 'restricted',
  'warn-version': 'latest',
} as const;

/** The API server's admission configuration: PodSecurity's cluster-wide defaults and exemptions. */
export function admissionConfiguration(): string {
  return toYaml({
    apiVersion: 'apiserver.config.k8s.io/v1',
    kind: 'AdmissionConfiguration',
    plugins: [
      {
        name: 'PodSecurity',
        configuration: {
          apiVersion: 'pod-security.admission.config.k8s.io/v1',
          kind: 'PodSecurityConfiguration',
          defaults: { ...POD_SECURITY_DEFAULTS },
          exemptions: { usernames: [], runtimeClasses: [], namespaces: [...POD_SECURITY_EXEMPT_NAMESPACES] },
        },
      },
    ],
  });
}
