/**
 * Kubelet TLS bootstrap, as the kubelet does it when kubeadm's join has
 * written /etc/kubernetes/bootstrap-kubelet.conf: a new key, a CSR for
 * system:node:<name> in system:nodes signed by
 * kubernetes.io/kube-apiserver-client-kubelet, sent with the bootstrap
 * token, approved by the controller manager, and the issued certificate
 * written with the key into /etc/kubernetes/kubelet.conf.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kubeClient, kubeconfigCluster } from '../../../../kube/client.js';
import { kubeconfig } from '../../../../kube/kubeconfig.js';
import { waitFor } from '../../../../phases/wait.js';

/** A PEM CSR for the node, made by openssl (Node's crypto makes keys, not CSRs). */
export function nodeCsr(node: string, keyPem: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'n6-csr-'));
  try {
    const key = join(dir, 'key.pem');
    writeFileSync(key, keyPem, { mode: 0o600 });
    return execFileSync('openssl', ['req', '-new', '-key', key, '-subj', `/O=system:nodes/CN=system:node:${node}`], { encoding: 'utf8' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function tlsBootstrap(node: string, bootstrapKubeconfig: string, log: (l: string) => void, timeoutMs = 120_000): Promise<string> {
  const cluster = kubeconfigCluster(bootstrapKubeconfig);
  const client = kubeClient(bootstrapKubeconfig);
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const keyPem = privateKey.export({ type: 'sec1', format: 'pem' }).toString();
  const csr = nodeCsr(node, keyPem);
  const created = await client.request<{ metadata: { name: string } }>('POST', '/apis/certificates.k8s.io/v1/certificatesigningrequests', {
    apiVersion: 'certificates.k8s.io/v1',
    kind: 'CertificateSigningRequest',
    metadata: { generateName: 'node-csr-' },
    spec: { request: Buffer.from(csr).toString('base64'), signerName: 'kubernetes.io/kube-apiserver-client-kubelet', usages: ['digital signature', 'client auth'] },
  });
  const name = created.metadata.name;
  log(`TLS bootstrap: CSR ${name} sent for system:node:${node}`);
  class Refused extends Error {}
  const certificate = await waitFor(
    `CSR ${name} issued`,
    async () => {
      const csrObj = await client.get<{ status?: { certificate?: string; conditions?: Array<{ type: string; message?: string }> } }>(`/apis/certificates.k8s.io/v1/certificatesigningrequests/${name}`);
      const denied = csrObj.status?.conditions?.find((c) => c.type === 'Denied' || c.type === 'Failed');
      if (denied) throw new Refused(`CSR ${name} ${denied.type}: ${denied.message ?? ''}`);
      return csrObj.status?.certificate;
    },
    { timeoutMs, intervalMs: 1000, log, fatal: (e) => e instanceof Refused },
  );
  log(`TLS bootstrap: CSR ${name} approved and issued`);
  // The kubelet's own kubeconfig, written (and checked: the certificate is the CA's, the key its own) as every kubeconfig is.
  return kubeconfig({
    clusterName: 'default-cluster',
    server: cluster.server,
    caCertPem: cluster.caPem,
    user: `system:node:${node}`,
    clientCertPem: Buffer.from(certificate, 'base64').toString('utf8'),
    clientKeyPem: keyPem,
  });
}
