/**
 * The control planes' shared keys as kubeadm's upload-certs hands them over
 * (lib/kube/kubeadmCerts.ts; test/integration/kubeadmCerts.test.ts has the
 * real kubeadm read and write them): kubeadm's layout (nonce, ciphertext,
 * tag), a new nonce each time, refused with another key or one byte
 * changed; the Secret's keys kubeadm's names, its Role readable by the
 * bootstrap tokens' group only.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decryptFromKubeadm, encryptForKubeadm, kubeadmCertsObjects, SHARED_KEY_FILES, type SharedControlPlaneKeys } from '../../lib/kube/kubeadmCerts.js';

const KEY = 'ab'.repeat(32);
const keys = Object.fromEntries(Object.keys(SHARED_KEY_FILES).map((k) => [k, `-----BEGIN ${k}-----\n${k}\n-----END ${k}-----\n`])) as unknown as SharedControlPlaneKeys;

describe("the shared keys, kubeadm's way", () => {
  it('encrypts as nonce (12), ciphertext, tag (16); a new nonce each time; decrypts only with the key, unchanged', () => {
    const data = Buffer.from('-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----\n');
    const a = encryptForKubeadm(data, KEY);
    const b = encryptForKubeadm(data, KEY);
    assert.equal(a.length, 12 + data.length + 16);
    assert.notDeepEqual(a.subarray(0, 12), b.subarray(0, 12));
    assert.deepEqual(decryptFromKubeadm(a, KEY), data);
    assert.throws(() => decryptFromKubeadm(a, 'cd'.repeat(32)));
    const changed = Buffer.from(a);
    changed[20] = changed[20]! ^ 1;
    assert.throws(() => decryptFromKubeadm(changed, KEY));
    assert.throws(() => encryptForKubeadm(data, 'ab'.repeat(16)), /64 hexadecimal/);
    assert.throws(() => decryptFromKubeadm(Buffer.alloc(20), KEY), /shorter/);
  });

  it("makes kubeadm's Secret (its file names, '/' as '-', no owner), and the Role and binding for the bootstrap tokens' group", () => {
    const [secret, role, binding] = kubeadmCertsObjects(keys, KEY) as Array<Record<string, unknown> & { metadata: Record<string, unknown> }>;
    assert.deepEqual(secret!.metadata, { name: 'kubeadm-certs', namespace: 'kube-system' });
    const data = secret!.data as Record<string, string>;
    assert.deepEqual(Object.keys(data), ['ca.crt', 'ca.key', 'etcd-ca.crt', 'etcd-ca.key', 'front-proxy-ca.crt', 'front-proxy-ca.key', 'sa.key', 'sa.pub']);
    for (const [k, f] of Object.entries(SHARED_KEY_FILES)) assert.equal(decryptFromKubeadm(Buffer.from(data[f.replace('/', '-')]!, 'base64'), KEY).toString(), keys[k as keyof SharedControlPlaneKeys]);
    assert.deepEqual(role!.rules, [{ apiGroups: [''], resources: ['secrets'], resourceNames: ['kubeadm-certs'], verbs: ['get'] }]);
    assert.deepEqual(binding!.subjects, [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'system:bootstrappers:kubeadm:default-node-token' }]);
    assert.deepEqual(binding!.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'kubeadm:kubeadm-certs' });
  });
});
