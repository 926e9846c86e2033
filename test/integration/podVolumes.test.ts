/**
 * The lab kubelet's volumes (lib/platforms/lab/machine/kubelet/volumes.ts)
 * against a real kube-apiserver: a pod's configMap (with items and modes),
 * secret, emptyDir, downwardAPI and projected volumes (a ServiceAccount
 * token bound to the pod, asked with TokenRequest; a ConfigMap; the
 * namespace), made in a scratch folder; a changed ConfigMap reaches the
 * files at the next sync; a missing ConfigMap is an error naming it unless
 * optional; an item path that leaves the volume is refused. Everything is
 * removed in `finally`.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { PodVolumes, volumeDir, type VolumePod } from '../../lib/platforms/lab/machine/kubelet/volumes.js';
import { apiServer } from '../apiserver.js';

const NS = 'vol-test';

test('a pod\'s volumes from a real API server: files, modes, a bound token, updates, refusals', { timeout: 180_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'n6-volumes-'));
  const api = await apiServer(join(dir, 'api'));
  try {
    const c = api.client;
    await c.apply(`/api/v1/namespaces/${NS}`, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } }, 't');
    await c.apply(`/api/v1/namespaces/${NS}/serviceaccounts/runner`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'runner', namespace: NS } }, 't');
    await c.apply(`/api/v1/namespaces/${NS}/configmaps/conf`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'conf', namespace: NS }, data: { Corefile: '.:53 {}\n', other: 'x' } }, 't');
    await c.apply(`/api/v1/namespaces/${NS}/secrets/creds`, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'creds', namespace: NS }, stringData: { password: 's3cret' } }, 't');
    const created = await c.request<{ metadata: { uid: string } }>('POST', `/api/v1/namespaces/${NS}/pods`, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', namespace: NS },
      spec: { nodeName: 'node-1', serviceAccountName: 'runner', automountServiceAccountToken: false, containers: [{ name: 'c', image: 'x' }] },
    });
    const pod: VolumePod = {
      metadata: { name: 'p', namespace: NS, uid: created.metadata.uid },
      spec: {
        serviceAccountName: 'runner',
        volumes: [
          { name: 'config', configMap: { name: 'conf', items: [{ key: 'Corefile', path: 'Corefile' }] } },
          { name: 'creds', secret: { secretName: 'creds', defaultMode: 0o400 } },
          { name: 'scratch', emptyDir: {} },
          { name: 'who', downwardAPI: { items: [{ path: 'name', fieldRef: { fieldPath: 'metadata.name' } }] } },
          {
            name: 'api-access',
            projected: {
              defaultMode: 0o644,
              sources: [
                { serviceAccountToken: { path: 'token', expirationSeconds: 3600 } },
                { configMap: { name: 'conf', items: [{ key: 'other', path: 'ca.crt' }] } },
                { downwardAPI: { items: [{ path: 'namespace', fieldRef: { fieldPath: 'metadata.namespace' } }] } },
              ],
            },
          },
        ],
      },
    };
    const fields = (p: VolumePod, path: string) => (path === 'metadata.name' ? p.metadata.name : path === 'metadata.namespace' ? p.metadata.namespace : '');
    const volumes = new PodVolumes(c, join(dir, 'pods'), fields);
    await volumes.sync(pod);
    const at = (name: string) => volumeDir(join(dir, 'pods'), pod.metadata.uid, pod.spec.volumes!.find((v) => v.name === name)!);
    assert.equal(readFileSync(join(at('config'), 'Corefile'), 'utf8'), '.:53 {}\n');
    assert.equal(existsSync(join(at('config'), 'other')), false, 'items pick the keys');
    assert.equal(readFileSync(join(at('creds'), 'password'), 'utf8'), 's3cret');
    assert.equal(statSync(join(at('creds'), 'password')).mode & 0o777, 0o400);
    assert.equal(statSync(at('scratch')).mode & 0o777, 0o777);
    assert.equal(readFileSync(join(at('who'), 'name'), 'utf8'), 'p');
    assert.equal(readFileSync(join(at('api-access'), 'namespace'), 'utf8'), NS);
    assert.equal(readFileSync(join(at('api-access'), 'ca.crt'), 'utf8'), 'x');
    // The token: the ServiceAccount's, bound to this pod by the API server.
    const token = readFileSync(join(at('api-access'), 'token'), 'utf8');
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { sub: string; exp: number; iat: number; 'kubernetes.io': { pod?: { name: string; uid: string } } };
    assert.equal(claims.sub, `system:serviceaccount:${NS}:runner`);
    assert.deepEqual(claims['kubernetes.io'].pod, { name: 'p', uid: pod.metadata.uid });
    assert.equal(claims.exp - claims.iat, 3600);

    // A changed ConfigMap reaches the file; the token is kept until 80% of its life is gone.
    await c.apply(`/api/v1/namespaces/${NS}/configmaps/conf`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'conf', namespace: NS }, data: { Corefile: '.:53 { dns64 }\n', other: 'x' } }, 't');
    await volumes.sync(pod);
    assert.equal(readFileSync(join(at('config'), 'Corefile'), 'utf8'), '.:53 { dns64 }\n');
    assert.equal(readFileSync(join(at('api-access'), 'token'), 'utf8'), token);

    const missing: VolumePod = { ...pod, spec: { volumes: [{ name: 'gone', configMap: { name: 'absent' } }] } };
    await assert.rejects(volumes.sync(missing), /volume gone: ConfigMap vol-test\/absent not found/);
    await volumes.sync({ ...pod, spec: { volumes: [{ name: 'gone', configMap: { name: 'absent', optional: true } }] } });
    await assert.rejects(volumes.sync({ ...pod, spec: { volumes: [{ name: 'esc', configMap: { name: 'conf', items: [{ key: 'other', path: '../../escape' }] } }] } }), /path "\.\.\/\.\.\/escape" leaves the volume/);
    await assert.rejects(volumes.sync({ ...pod, spec: { volumes: [{ name: 'nfs', nfs: { server: 'x' } } as never] } }), /not nfs/);
  } finally {
    await api.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
