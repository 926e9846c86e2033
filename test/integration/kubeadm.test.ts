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
