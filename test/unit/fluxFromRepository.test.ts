/**
 * A first bootstrap's Flux from the repository (lib/flux/fromRepository.ts):
 * what is applied is clusters/<name>/flux-system/ as committed, CRDs first,
 * the sync last; a folder not rendered from the pin is refused before
 * anything is applied.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { installFluxFromRepository } from '../../lib/flux/fromRepository.js';
import type { KubeClient } from '../../lib/kube/client.js';
import { loadAll } from '../../lib/repo/workspace.js';
import { FLUX_CONTROLLERS, fluxCrdDir } from '../../lib/toolchain/pins.js';
import { committedInputs } from '../pinned-fixture.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** A cache as `npm run setup -- flux:crds` leaves it, holding the committed CRDs. */
function fakeCache(dir: string): string {
  const crdDir = fluxCrdDir(join(dir, 'cache'));
  mkdirSync(crdDir, { recursive: true });
  const files = committedInputs().crds.map((c, i) => {
    const name = `crd-${i}.yaml`;
    writeFileSync(join(crdDir, name), stringify(c));
    return { name };
  });
  const modules = FLUX_CONTROLLERS.map((p, i) => ({ module: p.module, version: p.version, files: i === 0 ? files : [] }));
  writeFileSync(join(crdDir, 'manifest.json'), JSON.stringify({ modules }));
  return join(dir, 'cache');
}

function recordingClient() {
  const applied: string[] = [];
  const client = {
    server: 'https://[::1]:6443',
    pathOf: async (o: { kind: string; metadata: { name: string } }) => `${o.kind}/${o.metadata.name}`,
    apply: async (path: string) => void applied.push(path),
    find: async () => ({ status: { conditions: [{ type: 'Established', status: 'True' }] } }),
  } as unknown as KubeClient;
  return { client, applied };
}

test('Flux installed from the committed flux-system folder: CRDs, then the components, then the sync', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'native6-fluxrepo-'));
  try {
    const cache = fakeCache(dir);
    const lab = loadAll(root).clusters.find((c) => c.spec.name === 'lab')!;
    const { client, applied } = recordingClient();
    const r = await installFluxFromRepository(client, root, lab, cache, 'native6-apply', 1000);
    const crds = committedInputs().crds.length;
    assert.deepEqual(r, { components: crds + 12, sync: 2 });
    assert.ok(applied.slice(0, crds).every((p) => p.startsWith('CustomResourceDefinition/')));
    assert.deepEqual(applied.slice(crds, crds + 2), ['Namespace/flux-system', 'ServiceAccount/source-controller']);
    assert.deepEqual(applied.slice(-4), ['Deployment/source-controller', 'Deployment/kustomize-controller', 'GitRepository/flux-system', 'Kustomization/flux-system']);

    // The same tree with kustomize-controller's image edited by hand: refused, nothing applied.
    const repo = join(dir, 'repo');
    cpSync(join(root, 'clusters/lab'), join(repo, 'clusters/lab'), { recursive: true });
    const file = join(repo, 'clusters/lab/flux-system/gotk-components.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('kustomize-controller:v1.9.5', 'kustomize-controller:v1.9.4'));
    const again = recordingClient();
    await assert.rejects(installFluxFromRepository(again.client, repo, lab, cache, 'native6-apply', 1000), {
      message: 'clusters/lab/flux-system/gotk-components.yaml is not what npm run render writes for infra/lab.yaml and the pinned Flux: run npm run render and commit it',
    });
    assert.deepEqual(again.applied, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
