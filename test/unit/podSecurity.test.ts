/**
 * The cluster's Pod Security default (lib/render/podSecurity.ts): the
 * admission configuration (baseline enforced, restricted audited and warned,
 * kube-system exempt), written by every control plane's bootstrap and by no
 * worker's, at the path kubeadm's ClusterConfiguration names and mounts into
 * the API server. The API server's verdicts are test/integration/podSecurity.test.ts's.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'yaml';
import type { Machine } from '../../lib/plan/addressPlan.js';
import { nodeBootstrap, type BootSecrets } from '../../lib/render/bootstrap.js';
import { clusterConfiguration } from '../../lib/render/kubeadm.js';
import { ADMISSION_DIR, ADMISSION_FILE, admissionConfiguration } from '../../lib/render/podSecurity.js';
import { loadSpecFile } from '../../lib/repo/workspace.js';
import { REPO_DIR } from '../../lib/toolchain/repo.js';

const { spec, plan } = loadSpecFile(REPO_DIR, 'infra/dfw.yaml').cluster!;
const machine = (name: string): Machine => plan.machines.find((m) => m.name === name)!;
const secrets: BootSecrets = { bootstrapToken: 'abcdef.0123456789abcdef', certificateKey: 'c'.repeat(64), caCertPem: 'CA CERT\n', caKeyPem: 'CA KEY\n', caCertHash: `sha256:${'1'.repeat(64)}` };
const discovery = { lines: ['addr=2001:db8:2a00::5', 'gw=2001:db8:2a00::4', 'peers="fc00::e fc00::f"'] };

test('PodSecurity: baseline enforced, restricted audited and warned, at the latest version; only kube-system exempt', () => {
  const config = parse(admissionConfiguration()) as { apiVersion: string; kind: string; plugins: Array<{ name: string; configuration: Record<string, unknown> }> };
  assert.equal(config.apiVersion, 'apiserver.config.k8s.io/v1');
  assert.equal(config.kind, 'AdmissionConfiguration');
  assert.equal(config.plugins.length, 1);
  assert.equal(config.plugins[0]!.name, 'PodSecurity');
  assert.deepEqual(config.plugins[0]!.configuration, {
    apiVersion: 'pod-security.admission.config.k8s.io/v1',
    kind: 'PodSecurityConfiguration',
    defaults: { enforce: 'baseline', 'enforce-version': 'latest', audit: 'restricted', 'audit-version': 'latest', warn: 'restricted', 'warn-version': 'latest' },
    exemptions: { usernames: [], runtimeClasses: [], namespaces: ['kube-system'] },
  });
});

test('kubeadm names the file for the API server and mounts its folder read-only', () => {
  const api = clusterConfiguration(spec, plan).apiServer as { extraArgs: Array<{ name: string; value: string }>; extraVolumes: Array<Record<string, unknown>> };
  assert.deepEqual(api.extraArgs.find((a) => a.name === 'admission-control-config-file'), { name: 'admission-control-config-file', value: ADMISSION_FILE });
  assert.ok(ADMISSION_FILE.startsWith(`${ADMISSION_DIR}/`));
  assert.deepEqual(api.extraVolumes, [{ name: 'native6-admission', hostPath: ADMISSION_DIR, mountPath: ADMISSION_DIR, readOnly: true, pathType: 'DirectoryOrCreate' }]);
});

test('every control plane\'s bootstrap writes it (the first, a joining one), no worker\'s', () => {
  const controlPlanes = plan.machines.filter((m) => m.role === 'control-plane');
  assert.ok(controlPlanes.length >= 2);
  for (const m of controlPlanes) {
    const file = nodeBootstrap(spec, plan, m, secrets, discovery).files.find((f) => f.path === ADMISSION_FILE);
    assert.ok(file, `${m.name} has no ${ADMISSION_FILE}`);
    assert.equal(file.mode, '0644');
    assert.equal(file.content, admissionConfiguration());
  }
  const worker = plan.machines.find((m) => m.role === 'worker')!;
  assert.equal(nodeBootstrap(spec, plan, machine(worker.name), secrets, discovery).files.find((f) => f.path === ADMISSION_FILE), undefined);
});
