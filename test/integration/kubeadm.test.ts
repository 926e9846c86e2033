/**
 * The kubeadm configuration the project renders, checked by kubeadm itself
 * (`kubeadm config validate`, the pinned v1.35.4 that setup builds): for the
 * Equinix Metal example and for the lab, init and both kinds of join.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { X509Certificate } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { kubeadmInit, kubeadmJoin } from '../../lib/render/kubeadm.js';
import { loadCluster } from '../../lib/platforms/load.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const kubeadm = join(root, '.cache/bin/kubeadm');
const secrets = { bootstrapToken: 'abcdef.0123456789abcdef', certificateKey: 'b'.repeat(64) };

for (const cluster of ['dfw', 'lab']) {
  test(`kubeadm accepts the ${cluster} configuration (init, control-plane join, worker join)`, () => {
    assert.ok(existsSync(kubeadm), `${kubeadm} is missing: run npm run setup`);
    const loaded = loadCluster(`infra/${cluster}.yaml`, readFileSync(join(root, `infra/${cluster}.yaml`), 'utf8'));
    assert.ok(loaded.ok);
    if (!loaded.ok) return;
    const { spec, plan } = loaded;
    const node = { name: `${cluster}-cp-1`, address: '2001:db8:100::3' };
    const hash = `sha256:${'1'.repeat(64)}`;
    const dir = mkdtempSync(join(tmpdir(), 'n6-kubeadm-'));
    try {
      const files = {
        init: kubeadmInit(spec, plan, node, secrets, cluster === 'lab' ? { sharedKernel: true } : {}),
        joinControlPlane: kubeadmJoin(plan, { ...node, name: `${cluster}-cp-2` }, secrets, { controlPlane: true, caCertHash: hash }),
        joinWorker: kubeadmJoin(plan, { ...node, name: `${cluster}-general-1` }, secrets, { controlPlane: false, caCertHash: hash }),
      };
      for (const [name, text] of Object.entries(files)) {
        const path = join(dir, `${name}.yaml`);
        writeFileSync(path, text);
        try {
          execFileSync(kubeadm, ['config', 'validate', '--config', path], { encoding: 'utf8', stdio: 'pipe' });
        } catch (e) {
          const err = e as { stderr?: string; stdout?: string };
          assert.fail(`kubeadm refused ${name}: ${err.stderr ?? ''}${err.stdout ?? ''}`);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test("the API server's certificate kubeadm makes from the dfw configuration: the ClusterIP, the API's DNS name, kubeadm's own names, each once", () => {
  assert.ok(existsSync(kubeadm), `${kubeadm} is missing: run npm run setup`);
  const loaded = loadCluster('infra/dfw.yaml', readFileSync(join(root, 'infra/dfw.yaml'), 'utf8'));
  assert.ok(loaded.ok);
  if (!loaded.ok) return;
  const dir = mkdtempSync(join(tmpdir(), 'n6-kubeadm-certs-'));
  try {
    const config = join(dir, 'init.yaml');
    // Certificates into the test's folder, not /etc/kubernetes/pki.
    writeFileSync(config, `${kubeadmInit(loaded.spec, loaded.plan, { name: 'dfw-cp-1', address: '2001:db8:2a00::3' }, secrets)}`.replace(/^kind: ClusterConfiguration$/m, `kind: ClusterConfiguration\ncertificatesDir: ${dir}`));
    for (const phase of ['ca', 'apiserver']) execFileSync(kubeadm, ['init', 'phase', 'certs', phase, '--config', config], { stdio: 'pipe' });
    const sans = (new X509Certificate(readFileSync(join(dir, 'apiserver.crt'))).subjectAltName ?? '').split(', ');
    const dns = sans.filter((s) => s.startsWith('DNS:')).map((s) => s.slice(4));
    assert.deepEqual(dns.sort(), ['api.dfw.example.com', 'dfw-cp-1', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local']);
    const ips = sans.filter((s) => s.startsWith('IP Address:')).map((s) => s.slice('IP Address:'.length).toLowerCase());
    assert.deepEqual(ips.sort(), ['2001:db8:2a00:0:0:0:0:3', '2001:db8:2a00:1:0:0:0:1']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
