/**
 * Flux managing itself from git, with the pinned modules' CRDs (`.cache/`,
 * `npm run setup -- flux:crds`): the committed flux-system folders are what
 * `npm run render` writes from them (the unit tier renders with the CRDs as
 * committed), and a real kube-apiserver takes a first bootstrap from the
 * committed folder (installFluxFromRepository): every object of
 * gotk-components.yaml, then gotk-sync.yaml, a private repository's
 * secretRef included.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { installFluxFromRepository } from '../../lib/flux/fromRepository.js';
import { applyObjects, type KubeObject } from '../../lib/kube/objects.js';
import { fluxSync } from '../../lib/render/flux.js';
import { pinnedInputs, loadAll, renderAll } from '../../lib/repo/workspace.js';
import { DEFAULT_CACHE_DIR, REPO_DIR } from '../../lib/toolchain/repo.js';
import { apiServer } from '../apiserver.js';

test('the committed flux-system folders are what render writes from the pinned modules\' CRDs', () => {
  const files = renderAll(loadAll(REPO_DIR).clusters, pinnedInputs(DEFAULT_CACHE_DIR)).filter((f) => f.path.includes('/flux-system/'));
  // Three files per cluster: the folder's kustomization, gotk-components.yaml and gotk-sync.yaml.
  assert.equal(files.length, 3 * loadAll(REPO_DIR).clusters.length);
  assert.ok(files.length >= 9);
  for (const f of files) assert.equal(readFileSync(join(REPO_DIR, f.path), 'utf8'), f.content, `${f.path}: run npm run render`);
});

test('a real API server takes a first bootstrap from the committed folder, and a private repository\'s GitRepository', { timeout: 180_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'native6-flux-components-'));
  let api: Awaited<ReturnType<typeof apiServer>> | undefined;
  try {
    api = await apiServer(dir);
    const dfw = loadAll(REPO_DIR).clusters.find((c) => c.spec.name === 'dfw')!;
    const r = await installFluxFromRepository(api.client, REPO_DIR, dfw, DEFAULT_CACHE_DIR, 'native6-test', 60_000);
    t.diagnostic(`${r.components} objects of gotk-components.yaml and ${r.sync} of gotk-sync.yaml applied`);
    const d = await api.client.get<{ spec: { template: { spec: { containers: Array<{ image: string }> } } } }>('/apis/apps/v1/namespaces/flux-system/deployments/kustomize-controller');
    assert.equal(d.spec.template.spec.containers[0]!.image, 'docker.io/fluxcd/kustomize-controller:v1.9.5');
    // A private repository: the GitRepository names the Secret (which the API server does not require to exist yet).
    const [repo] = fluxSync({ ...dfw.spec, gitops: { ...dfw.spec.gitops, secretRef: 'flux-git' } }) as KubeObject[];
    await applyObjects(api.client, [repo!], 'native6-test');
    const got = await api.client.get<{ spec: { secretRef?: { name: string } } }>('/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/gitrepositories/flux-system');
    assert.deepEqual(got.spec.secretRef, { name: 'flux-git' });
  } finally {
    await api?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
