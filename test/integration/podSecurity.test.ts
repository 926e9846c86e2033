/**
 * The cluster's Pod Security default (lib/render/podSecurity.ts), as the
 * API server takes it: a real kube-apiserver started with the admission
 * configuration every control plane's bootstrap writes (the flag kubeadm's
 * rendered ClusterConfiguration names):
 *
 * - in a namespace that says nothing, a hostNetwork pod, a privileged one
 *   and one with a hostPath volume are refused as `baseline` refuses them;
 *   a pod `baseline` allows is admitted;
 * - kube-system, where the node agents run, is exempt;
 * - a namespace labelled `restricted` (the apps' namespaces) refuses what
 *   `baseline` allows, and admits the apps' own echo pod as rendered.
 *
 * Server-side dry runs: nothing is stored.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { KubeError, type KubeClient } from '../../lib/kube/client.js';
import { admissionConfiguration } from '../../lib/render/podSecurity.js';
import { clusterConfiguration } from '../../lib/render/kubeadm.js';
import { loadCluster } from '../../lib/platforms/load.js';
import { apiServer } from '../apiserver.js';

const pod = (name: string, spec: Record<string, unknown>) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10' }], ...spec } });

/** Creates the pod as a dry run: 'admitted', or the API server's refusal. */
async function tryPod(client: KubeClient, namespace: string, body: Record<string, unknown>): Promise<string> {
  try {
    await client.request('POST', `/api/v1/namespaces/${namespace}/pods?dryRun=All`, body);
    return 'admitted';
  } catch (e) {
    if (e instanceof KubeError && e.status === 403) return e.message;
    throw e;
  }
}

test('the API server enforces the rendered Pod Security default: baseline where a namespace says nothing, kube-system exempt, restricted where labelled', { timeout: 180_000 }, async () => {
  // The flag the control planes get is the one kubeadm's configuration names.
  const dfw = loadCluster('infra/dfw.yaml', readFileSync('infra/dfw.yaml', 'utf8'));
  assert.ok(dfw.ok);
  if (!dfw.ok) return;
  const args = (clusterConfiguration(dfw.spec, dfw.plan).apiServer as { extraArgs: Array<{ name: string; value: string }> }).extraArgs;
  assert.ok(args.some((a) => a.name === 'admission-control-config-file'), 'kubeadm names the admission configuration');

  const dir = mkdtempSync(join(tmpdir(), 'native6-podsec-'));
  const file = join(dir, 'admission.yaml');
  writeFileSync(file, admissionConfiguration());
  const api = await apiServer(join(dir, 'api'), [`--admission-control-config-file=${file}`]);
  try {
    const c = api.client;
    await c.request('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'tenant' } });
    await c.request('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'strict', labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } } });
    // No controller manager here: the ServiceAccounts it would make.
    for (const ns of ['tenant', 'strict', 'kube-system']) await c.request('POST', `/api/v1/namespaces/${ns}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default' } });

    assert.match(await tryPod(c, 'tenant', pod('host', { hostNetwork: true })), /violates PodSecurity "baseline:latest": host namespaces \(hostNetwork=true\)/);
    assert.match(
      await tryPod(c, 'tenant', { ...pod('priv', {}), spec: { containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.10', securityContext: { privileged: true } }] } }),
      /violates PodSecurity "baseline:latest": privileged/,
    );
    assert.match(await tryPod(c, 'tenant', pod('hostpath', { volumes: [{ name: 'root', hostPath: { path: '/' } }] })), /violates PodSecurity "baseline:latest": hostPath volumes/);
    assert.equal(await tryPod(c, 'tenant', pod('plain', {})), 'admitted', 'baseline admits a plain pod');

    assert.equal(await tryPod(c, 'kube-system', pod('agent', { hostNetwork: true })), 'admitted', 'the node agents\' namespace is exempt');

    assert.match(await tryPod(c, 'strict', pod('plain', {})), /violates PodSecurity "restricted:latest"/, 'a namespace may ask more');
    // The apps' echo pod, as rendered (its namespace enforces restricted): admitted.
    const docs = parseAllDocuments(readFileSync('apps/echo/echo.yaml', 'utf8')).map((d) => d.toJS() as { kind: string; spec: { template: { spec: Record<string, unknown> } } });
    const echo = docs.find((d) => d.kind === 'Deployment')!;
    assert.equal(await tryPod(c, 'strict', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'echo' }, spec: echo.spec.template.spec }), 'admitted');
  } finally {
    await api.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
