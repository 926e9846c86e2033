/**
 * Secrets sealed at rest (lib/render/encryption.ts): the EncryptionConfiguration
 * (secretbox with the cluster's key, identity after it), the key refused
 * unless 32 bytes of base64, every control plane's bootstrap writing it (root
 * only) when the cluster has a key and none when it has not (a stack made
 * before), and kubeadm's flag and mount following it. The API server's
 * sealing is test/integration/encryption.test.ts's.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { generateClusterSecrets, SECRET_FIELDS } from '../../lib/pki/clusterSecrets.js';
import { nodeBootstrap, type BootSecrets } from '../../lib/render/bootstrap.js';
import { ENCRYPTION_DIR, ENCRYPTION_FILE, checkEncryptionKey, encryptionConfiguration } from '../../lib/render/encryption.js';
import { kubeadmInit } from '../../lib/render/kubeadm.js';
import { loadSpecFile } from '../../lib/repo/workspace.js';
import { REPO_DIR } from '../../lib/toolchain/repo.js';

const { spec, plan } = loadSpecFile(REPO_DIR, 'infra/dfw.yaml').cluster!;
const KEY = Buffer.alloc(32, 7).toString('base64');
const base: BootSecrets = { bootstrapToken: 'abcdef.0123456789abcdef', certificateKey: 'c'.repeat(64), caCertPem: 'CA CERT\n', caKeyPem: 'CA KEY\n', caCertHash: `sha256:${'1'.repeat(64)}` };
const discovery = { lines: ['addr=2001:db8:2a00::5', 'gw=2001:db8:2a00::4', 'peers="fc00::e fc00::f"'] };

test('Secrets sealed with secretbox and the cluster\'s key; what was stored before still read (identity after it); nothing else sealed', () => {
  const c = parse(encryptionConfiguration(KEY)) as { apiVersion: string; kind: string; resources: Array<{ resources: string[]; providers: unknown[] }> };
  assert.equal(c.apiVersion, 'apiserver.config.k8s.io/v1');
  assert.equal(c.kind, 'EncryptionConfiguration');
  assert.deepEqual(c.resources, [{ resources: ['secrets'], providers: [{ secretbox: { keys: [{ name: 'key1', secret: KEY }] } }, { identity: {} }] }]);
});

test('a key that is not 32 bytes of base64 is refused, naming what it must be', () => {
  for (const bad of ['', 'short', Buffer.alloc(16).toString('base64'), Buffer.alloc(33).toString('base64'), `${KEY.slice(0, -2)}!=`]) {
    assert.throws(() => checkEncryptionKey(bad), /the Secrets encryption key must be 32 bytes, base64 \(44 characters\)/, JSON.stringify(bad));
  }
  checkEncryptionKey(randomBytes(32).toString('base64'));
});

test('a new cluster\'s secrets hold a key of their own, kept secret in the stack', () => {
  const a = generateClusterSecrets('dfw');
  const b = generateClusterSecrets('dfw');
  checkEncryptionKey(a.secretsKey);
  assert.notEqual(a.secretsKey, b.secretsKey);
  assert.ok(SECRET_FIELDS.includes('secretsKey'));
});

test('with a key: every control plane writes it (root only) and kubeadm init names it and mounts its folder; without one, neither', () => {
  const withKey = { ...base, secretsKey: KEY };
  for (const m of plan.machines) {
    const file = nodeBootstrap(spec, plan, m, withKey, discovery).files.find((f) => f.path === ENCRYPTION_FILE);
    if (m.role === 'control-plane') {
      assert.ok(file, `${m.name} has no ${ENCRYPTION_FILE}`);
      assert.equal(file.mode, '0600');
      assert.equal(file.content, encryptionConfiguration(KEY));
    } else assert.equal(file, undefined, `${m.name} is a worker`);
    assert.equal(nodeBootstrap(spec, plan, m, base, discovery).files.find((f) => f.path === ENCRYPTION_FILE), undefined, 'no key, no file');
  }
  const apiServer = (secrets: BootSecrets) => {
    const docs = parseAllDocuments(kubeadmInit(spec, plan, { name: 'dfw-cp-1', address: '2001:db8::3' }, secrets)).map((d) => d.toJS() as { kind: string; apiServer?: { extraArgs: Array<{ name: string; value: string }>; extraVolumes: Array<{ name: string; hostPath: string; readOnly: boolean }> } });
    return docs.find((d) => d.kind === 'ClusterConfiguration')!.apiServer!;
  };
  const sealed = apiServer(withKey);
  assert.deepEqual(sealed.extraArgs.find((a) => a.name === 'encryption-provider-config'), { name: 'encryption-provider-config', value: ENCRYPTION_FILE });
  assert.ok(ENCRYPTION_FILE.startsWith(`${ENCRYPTION_DIR}/`));
  assert.deepEqual(sealed.extraVolumes.find((v) => v.name === 'native6-encryption'), { name: 'native6-encryption', hostPath: ENCRYPTION_DIR, mountPath: ENCRYPTION_DIR, readOnly: true, pathType: 'DirectoryOrCreate' });
  const plain = apiServer(base);
  assert.equal(plain.extraArgs.find((a) => a.name === 'encryption-provider-config'), undefined);
  assert.equal(plain.extraVolumes.find((v) => v.name === 'native6-encryption'), undefined);
});
