/**
 * Secrets sealed at rest (lib/render/encryption.ts), as the API server does
 * it: a real kube-apiserver started with the EncryptionConfiguration every
 * control plane's bootstrap writes. A Secret reaches etcd sealed
 * (k8s:enc:secretbox:v1:key1:, no trace of its value), the API reads it back
 * whole, and a ConfigMap is stored as it was (only Secrets are sealed).
 * etcd is read directly, over its client URL.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { randomBytes } from 'node:crypto';
import { tokenKubeClient } from '../../lib/kube/client.js';
import { SEALED_PREFIX, encryptionConfiguration } from '../../lib/render/encryption.js';
import { startApiServer } from '../../lib/toolchain/apiServer.js';
import { DEFAULT_CACHE_DIR } from '../../lib/toolchain/repo.js';
import { needApiServer } from '../apiserver.js';

/** The value etcd holds under a key, as bytes. */
async function etcdValue(etcd: string, key: string): Promise<Buffer> {
  const res = await fetch(`${etcd}/v3/kv/range`, { method: 'POST', body: JSON.stringify({ key: Buffer.from(key).toString('base64') }) });
  const body = (await res.json()) as { kvs?: Array<{ value: string }> };
  assert.ok(body.kvs?.length === 1, `etcd has no ${key}`);
  return Buffer.from(body.kvs[0]!.value, 'base64');
}

test('the API server seals Secrets in etcd with the rendered configuration, and reads them back whole', { timeout: 180_000 }, async () => {
  needApiServer();
  const dir = mkdtempSync(join(tmpdir(), 'native6-encryption-'));
  const file = join(dir, 'encryption.yaml');
  writeFileSync(file, encryptionConfiguration(randomBytes(32).toString('base64')), { mode: 0o600 });
  const api = await startApiServer({ cacheDir: DEFAULT_CACHE_DIR, dir: join(dir, 'api'), extraArgs: [`--encryption-provider-config=${file}`] });
  try {
    const c = tokenKubeClient(api.server, api.ca, api.token);
    const password = 'a-bgp-password-of-20c';
    await c.request('POST', '/api/v1/namespaces/default/secrets', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'bgp-md5' }, stringData: { password } });
    await c.request('POST', '/api/v1/namespaces/default/configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'plain' }, data: { note: password } });

    const sealed = await etcdValue(api.etcd, '/registry/secrets/default/bgp-md5');
    assert.ok(sealed.subarray(0, SEALED_PREFIX.length).toString() === SEALED_PREFIX, `stored as ${sealed.subarray(0, 40).toString()}`);
    assert.ok(!sealed.includes(Buffer.from(password)), 'the password is not in etcd in clear');
    const read = await c.get<{ data: Record<string, string> }>('/api/v1/namespaces/default/secrets/bgp-md5');
    assert.equal(Buffer.from(read.data.password!, 'base64').toString(), password, 'the API reads it back');

    const plain = await etcdValue(api.etcd, '/registry/configmaps/default/plain');
    assert.ok(!plain.toString('latin1').startsWith('k8s:enc:'), 'a ConfigMap is stored as it is');
    assert.ok(plain.includes(Buffer.from(password)));
  } finally {
    await api.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
