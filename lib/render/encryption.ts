/**
 * Secrets encrypted at rest (review security-2026-12 M2): every control
 * plane's API server writes Secrets into etcd sealed with a key of the
 * cluster's (secretbox: XSalsa20 and Poly1305, the strongest of the API
 * server's local providers), so that etcd's disk, a snapshot or a backup
 * holds no BGP password, token or key in clear. What was written before
 * (or without it) is still read (the identity provider after it).
 *
 * The key is made with the cluster's other secrets (the Pulumi stack's
 * state, encrypted; the lab's secrets file) and never rendered into git. It
 * reaches every control plane with its bootstrap, as the CA key reaches the
 * first one: the file below (root only), which kubeadm's ClusterConfiguration
 * names and mounts into the API server's static pod. It stays on the
 * machine: the API server reads it at every start. A stack made before has
 * no key, and its clusters run as they were made (the flag is rendered only
 * with a key).
 */
import { toYaml } from '../yaml/write.js';

export const ENCRYPTION_DIR = '/etc/kubernetes/encryption';
export const ENCRYPTION_FILE = `${ENCRYPTION_DIR}/native6-encryption.yaml`;
/** The prefix of a Secret's value in etcd once sealed: k8s:enc:<provider>:v1:<key name>:. */
export const SEALED_PREFIX = 'k8s:enc:secretbox:v1:key1:';

/** A key is 32 bytes, base64 (what secretbox takes); anything else is refused. */
export function checkEncryptionKey(keyBase64: string): void {
  if (!/^[A-Za-z0-9+/]{43}=$/.test(keyBase64) || Buffer.from(keyBase64, 'base64').length !== 32) {
    throw new Error('the Secrets encryption key must be 32 bytes, base64 (44 characters)');
  }
}

/** The API server's EncryptionConfiguration: Secrets sealed with the key, read back by it or as written before. */
export function encryptionConfiguration(keyBase64: string): string {
  checkEncryptionKey(keyBase64);
  return toYaml({
    apiVersion: 'apiserver.config.k8s.io/v1',
    kind: 'EncryptionConfiguration',
    resources: [{ resources: ['secrets'], providers: [{ secretbox: { keys: [{ name: 'key1', secret: keyBase64 }] } }, { identity: {} }] }],
  });
}
