// The keys every control plane shares, handed over as kubeadm does
// (lib/kube/kubeadmCerts.ts), against a real kube-apiserver and the pinned
// kubeadm, both ways:
// - kubeadm's own `init phase upload-certs` writes kube-system/kubeadm-certs
//   from a folder of the stack's keys: ours decrypts every file;
// - ours written over it (forced) leaves the Secret without kubeadm's owner
//   (its 2-hour token, whose end would have the garbage collector delete it),
//   and kubeadm's `join phase control-plane-prepare download-certs` decrypts
//   and writes every file byte for byte; with a wrong key it fails.
// Everything is removed in `finally`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { stringify } from 'yaml';
import { tokenKubeClient } from '../../lib/kube/client.js';
import { decryptFromKubeadm, KUBEADM_CERTS_SECRET, SHARED_KEY_FILES, uploadSharedKeys, type SharedControlPlaneKeys } from '../../lib/kube/kubeadmCerts.js';
import { generateClusterSecrets } from '../../lib/pki/clusterSecrets.js';
import { startApiServer } from '../../lib/toolchain/apiServer.js';
import { toolPaths } from '../../lib/toolchain/pins.js';
import { DEFAULT_CACHE_DIR } from '../../lib/toolchain/repo.js';
import { needApiServer } from '../apiserver.js';
import { need } from '../prerequisites.js';

const KUBEADM_API = 'kubeadm.k8s.io/v1beta4';
const files = Object.entries(SHARED_KEY_FILES) as Array<[keyof SharedControlPlaneKeys, string]>;
const docs = (...d: object[]) => d.map((x) => `---\n${stringify(x)}`).join('');

test('the shared control-plane keys: kubeadm\'s upload read by ours, ours read by kubeadm\'s download', async () => {
  needApiServer();
  const kubeadm = toolPaths(DEFAULT_CACHE_DIR).kubeadm;
  need(kubeadm, 'npm run setup -- bin:kubernetes');
  const dir = mkdtempSync(join(tmpdir(), 'n6-kubeadm-certs-'));
  const api = await startApiServer({ cacheDir: DEFAULT_CACHE_DIR });
  try {
    const client = tokenKubeClient(api.server, api.ca, api.token);
    const keys: SharedControlPlaneKeys = generateClusterSecrets('kc');
    const key = randomBytes(32).toString('hex');
    const ns = (name: string) => client.apply(`/api/v1/namespaces/${name}`, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } }, 'test');
    await ns('kube-system');
    await ns('kube-public');
    const secretPath = `/api/v1/namespaces/kube-system/secrets/${KUBEADM_CERTS_SECRET}`;
    type Stored = { data: Record<string, string>; metadata: { ownerReferences?: unknown[] } };

    // kubeadm's upload, from a folder laid out as /etc/kubernetes/pki.
    const pki = join(dir, 'pki');
    for (const [k, f] of files) {
      mkdirSync(dirname(join(pki, f)), { recursive: true });
      writeFileSync(join(pki, f), keys[k], { mode: 0o600 });
    }
    const cluster = { apiVersion: KUBEADM_API, kind: 'ClusterConfiguration', kubernetesVersion: 'v1.35.4', certificatesDir: pki, controlPlaneEndpoint: api.server.slice('https://'.length) };
    writeFileSync(join(dir, 'init.yaml'), docs({ apiVersion: KUBEADM_API, kind: 'InitConfiguration', certificateKey: key, nodeRegistration: { name: 'kc-cp-1', criSocket: 'unix:///run/none.sock' } }, cluster));
    execFileSync(kubeadm, ['init', 'phase', 'upload-certs', '--upload-certs', '--skip-certificate-key-print', '--config', join(dir, 'init.yaml'), '--kubeconfig', api.kubeconfig], { stdio: 'pipe' });
    const theirs = await client.get<Stored>(secretPath);
    assert.equal((theirs.metadata.ownerReferences ?? []).length, 1, 'kubeadm ties its upload to a short-lived token');
    for (const [k, f] of files) assert.equal(decryptFromKubeadm(Buffer.from(theirs.data[f.replace('/', '-')]!, 'base64'), key).toString(), keys[k], f);

    // Ours over it: no owner left, kubeadm's join reads every file.
    await uploadSharedKeys(client, keys, key, 'native6-apply');
    const ours = await client.get<Stored>(secretPath);
    assert.deepEqual(ours.metadata.ownerReferences ?? [], []);
    assert.deepEqual(Object.keys(ours.data).sort(), files.map(([, f]) => f.replace('/', '-')).sort());
    // What a join reads first: the cluster's configuration, and cluster-info for file discovery.
    const out = join(dir, 'joined-pki');
    const cm = (namespace: string, name: string, data: Record<string, string>) =>
      client.apply(`/api/v1/namespaces/${namespace}/configmaps/${name}`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace }, data }, 'test');
    await cm('kube-system', 'kubeadm-config', { ClusterConfiguration: stringify({ ...cluster, certificatesDir: out }) });
    await cm('kube-system', 'kubelet-config', { kubelet: stringify({ apiVersion: 'kubelet.config.k8s.io/v1beta1', kind: 'KubeletConfiguration', cgroupDriver: 'systemd' }) });
    await cm('kube-system', 'kube-proxy', { 'config.conf': stringify({ apiVersion: 'kubeproxy.config.k8s.io/v1alpha1', kind: 'KubeProxyConfiguration', mode: 'nftables' }) });
    await cm('kube-public', 'cluster-info', { kubeconfig: stringify({ apiVersion: 'v1', kind: 'Config', clusters: [{ name: '', cluster: { server: api.server, 'certificate-authority-data': Buffer.from(api.ca).toString('base64') } }], contexts: [], users: [] }) });
    const download = (certificateKey: string) => {
      writeFileSync(
        join(dir, 'join.yaml'),
        docs({
          apiVersion: KUBEADM_API,
          kind: 'JoinConfiguration',
          discovery: { file: { kubeConfigPath: api.kubeconfig } },
          nodeRegistration: { name: 'kc-cp-2', criSocket: 'unix:///run/none.sock' },
          controlPlane: { certificateKey, localAPIEndpoint: { advertiseAddress: '2001:db8::2', bindPort: 443 } },
        }),
      );
      return execFileSync(kubeadm, ['join', 'phase', 'control-plane-prepare', 'download-certs', '--config', join(dir, 'join.yaml')], { stdio: 'pipe', encoding: 'utf8' });
    };
    assert.throws(() => download(randomBytes(32).toString('hex')), /message authentication failed|decrypt/i);
    download(key);
    for (const [k, f] of files) {
      assert.ok(existsSync(join(out, f)), `${f} written`);
      assert.equal(readFileSync(join(out, f), 'utf8'), keys[k], f);
    }
  } finally {
    await api.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
