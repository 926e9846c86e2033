/**
 * Apply's first bootstrap on Equinix Metal (lib/workflows/fluxSteps.ts) against
 * a real kube-apiserver: Calico of the pinned release adjusted for IPv6 only
 * (CRDs waited for), the rendered fabric, the BGP password Secret, then Flux
 * and the tree's sync — every object accepted, in that order; a second run
 * finds Flux and does nothing. Needs `npm run setup` (kube-apiserver, etcd,
 * calico:manifest, flux:crds).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { bootstrapFlux } from '../../lib/workflows/fluxSteps.js';
import { createLineLog } from '../../lib/workflows/log.js';
import { loadSpecFile } from '../../lib/repo/workspace.js';
import { calicoManifestFile } from '../../lib/toolchain/calicoManifest.js';
import { REPO_DIR } from '../../lib/toolchain/repo.js';
import { apiServer } from '../apiserver.js';
import { need } from '../prerequisites.js';

const root = REPO_DIR;
const cache = join(root, '.cache');

test('Equinix Metal bootstrap: Calico, the fabric, the BGP Secret, then Flux, accepted by a real API server', { timeout: 180_000 }, async () => {
  need(calicoManifestFile(cache), 'npm run setup -- calico:manifest');
  need(join(cache, 'flux', 'crds'), 'npm run setup -- flux:crds');
  const dir = mkdtempSync(join(tmpdir(), 'n6-bootstrap-'));
  const api = await apiServer(dir);
  try {
    const cluster = loadSpecFile(root, 'infra/dfw.yaml').cluster!;
    const { spec, plan } = cluster;
    const lines: string[] = [];
    const machines = plan.machines.map((m) => m.name);
    const ctx = { spec, cluster, client: api.client, repoRoot: root, log: createLineLog((l) => lines.push(l)), machines, bgpPassword: 'AbCdEfGhIjKlMnOpQrSt' };
    assert.equal(await bootstrapFlux(ctx), 'installed', lines.join('\n'));
    const get = <T>(path: string) => api.client.get<T>(path);
    const secret = await get<{ data: Record<string, string> }>('/api/v1/namespaces/kube-system/secrets/bgp-md5');
    assert.deepEqual(Object.keys(secret.data).sort(), [...machines].sort());
    assert.equal(Buffer.from(secret.data['dfw-cp-1']!, 'base64').toString(), 'AbCdEfGhIjKlMnOpQrSt');
    const ds = await get<{ spec: { template: { spec: { containers: Array<{ name: string; env: Array<{ name: string; value?: string }> }> } } } }>('/apis/apps/v1/namespaces/kube-system/daemonsets/calico-node');
    const env = Object.fromEntries(ds.spec.template.spec.containers.find((c) => c.name === 'calico-node')!.env.map((e) => [e.name, e.value]));
    assert.equal(env.IP, 'none');
    assert.equal(env.IP6, 'autodetect');
    const pools = await get<{ items: Array<{ spec: { cidr: string; natOutgoing?: boolean; ipipMode?: string; vxlanMode?: string } }> }>('/apis/crd.projectcalico.org/v1/ippools');
    assert.equal(pools.items.length, 1);
    assert.equal(pools.items[0]!.spec.natOutgoing ?? false, false);
    const bgp = await get<{ spec: { nodeToNodeMeshEnabled: boolean } }>('/apis/crd.projectcalico.org/v1/bgpconfigurations/default');
    assert.equal(bgp.spec.nodeToNodeMeshEnabled, false);
    const repo = await get<{ spec: { url: string } }>('/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/gitrepositories/flux-system');
    assert.equal(repo.spec.url, 'https://github.com/example/native6-clusters');
    for (const d of ['source-controller', 'kustomize-controller']) await get(`/apis/apps/v1/namespaces/flux-system/deployments/${d}`);
    assert.equal(await bootstrapFlux(ctx), 'present');
  } finally {
    await api.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
