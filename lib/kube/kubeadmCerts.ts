/**
 * The keys every control plane shares (cluster CA, front-proxy CA, etcd CA,
 * service-account key), handed to control planes that join, as kubeadm's
 * `upload-certs` does: the Secret kube-system/kubeadm-certs, each file
 * encrypted with the stack's certificate key (AES-256-GCM, the nonce
 * first, as kubeadm's EncryptBytes), readable by the bootstrap tokens'
 * group through the Role kubeadm:kubeadm-certs. kubeadm ties its own upload
 * to a 2-hour token, so that a control plane added later finds nothing;
 * apply writes it without an owner instead, and the stack's token (renewed
 * by every apply, lib/kube/bootstrapToken.ts) is what guards it.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { KubeClient } from './client.js';
import type { KubeObject } from './objects.js';
import { KUBEADM_TOKEN_GROUP } from './bootstrapToken.js';

export interface SharedControlPlaneKeys {
  readonly caCertPem: string;
  readonly caKeyPem: string;
  readonly frontProxyCaCertPem: string;
  readonly frontProxyCaKeyPem: string;
  readonly etcdCaCertPem: string;
  readonly etcdCaKeyPem: string;
  readonly saKeyPem: string;
  readonly saPubPem: string;
}

/** Each key's file under /etc/kubernetes/pki, as kubeadm names it (in the Secret, '/' becomes '-'). */
export const SHARED_KEY_FILES: Readonly<Record<keyof SharedControlPlaneKeys, string>> = {
  caCertPem: 'ca.crt',
  caKeyPem: 'ca.key',
  frontProxyCaCertPem: 'front-proxy-ca.crt',
  frontProxyCaKeyPem: 'front-proxy-ca.key',
  etcdCaCertPem: 'etcd/ca.crt',
  etcdCaKeyPem: 'etcd/ca.key',
  saKeyPem: 'sa.key',
  saPubPem: 'sa.pub',
};

export const KUBEADM_CERTS_SECRET = 'kubeadm-certs';
export const KUBEADM_CERTS_ROLE = 'kubeadm:kubeadm-certs';
const NONCE = 12;
const TAG = 16;

function aesKey(certificateKeyHex: string): Buffer {
  if (!/^[0-9a-f]{64}$/.test(certificateKeyHex)) throw new Error('the certificate key must be 64 hexadecimal characters (32 bytes)');
  return Buffer.from(certificateKeyHex, 'hex');
}

/** kubeadm's EncryptBytes: nonce, then the AES-256-GCM ciphertext with its tag. */
export function encryptForKubeadm(data: Buffer, certificateKeyHex: string): Buffer {
  const nonce = randomBytes(NONCE);
  const cipher = createCipheriv('aes-256-gcm', aesKey(certificateKeyHex), nonce);
  return Buffer.concat([nonce, cipher.update(data), cipher.final(), cipher.getAuthTag()]);
}

/** kubeadm's DecryptBytes; throws when the key is wrong or the data was changed. */
export function decryptFromKubeadm(data: Buffer, certificateKeyHex: string): Buffer {
  if (data.length < NONCE + TAG) throw new Error('the encrypted data is shorter than a nonce and a tag');
  const decipher = createDecipheriv('aes-256-gcm', aesKey(certificateKeyHex), data.subarray(0, NONCE));
  decipher.setAuthTag(data.subarray(data.length - TAG));
  return Buffer.concat([decipher.update(data.subarray(NONCE, data.length - TAG)), decipher.final()]);
}

/** The Secret and its Role and RoleBinding, as kubeadm's upload-certs makes them (the Secret without an owner). */
export function kubeadmCertsObjects(keys: SharedControlPlaneKeys, certificateKeyHex: string): KubeObject[] {
  const data = Object.fromEntries(
    (Object.keys(SHARED_KEY_FILES) as Array<keyof SharedControlPlaneKeys>)
      .map((k) => [SHARED_KEY_FILES[k].replace(/\//g, '-'), encryptForKubeadm(Buffer.from(keys[k]), certificateKeyHex).toString('base64')] as const)
      .sort(([a], [b]) => a.localeCompare(b)),
  );
  return [
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: KUBEADM_CERTS_SECRET, namespace: 'kube-system' }, type: 'Opaque', data },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: KUBEADM_CERTS_ROLE, namespace: 'kube-system' },
      rules: [{ apiGroups: [''], resources: ['secrets'], resourceNames: [KUBEADM_CERTS_SECRET], verbs: ['get'] }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: KUBEADM_CERTS_ROLE, namespace: 'kube-system' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: KUBEADM_CERTS_ROLE },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: KUBEADM_TOKEN_GROUP }],
    },
  ];
}

/**
 * Writes the shared keys for joining control planes (server-side apply,
 * forced), and takes away an owner kubeadm gave the Secret (its upload's
 * 2-hour token), so that the garbage collector leaves it.
 */
export async function uploadSharedKeys(client: KubeClient, keys: SharedControlPlaneKeys, certificateKeyHex: string, fieldManager: string): Promise<void> {
  const [secret, role, binding] = kubeadmCertsObjects(keys, certificateKeyHex);
  const path = `/api/v1/namespaces/kube-system/secrets/${KUBEADM_CERTS_SECRET}`;
  await client.apply(path, secret!, fieldManager);
  const stored = await client.get<{ metadata: { ownerReferences?: unknown[] } }>(path);
  if ((stored.metadata.ownerReferences ?? []).length > 0) await client.mergePatch(path, { metadata: { ownerReferences: null } });
  await client.apply(`/apis/rbac.authorization.k8s.io/v1/namespaces/kube-system/roles/${encodeURIComponent(KUBEADM_CERTS_ROLE)}`, role!, fieldManager);
  await client.apply(`/apis/rbac.authorization.k8s.io/v1/namespaces/kube-system/rolebindings/${encodeURIComponent(KUBEADM_CERTS_ROLE)}`, binding!, fieldManager);
}
