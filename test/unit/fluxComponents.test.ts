/**
 * Flux managing itself from git (lib/flux/components.ts, lib/render/tree.ts):
 * clusters/<name>/flux-system/gotk-components.yaml beside gotk-sync.yaml,
 * both in the folder's kustomization, the folder in the root one; the
 * components the same objects each platform's first install applies, so
 * Flux finds nothing to change when it first reconciles itself.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { crdsOfComponents, fluxComponents, fluxRequeueDependency, LAB_REQUEUE_DEPENDENCY } from '../../lib/flux/components.js';
import { fluxInstallManifests } from '../../lib/flux/install.js';
import type { KubeObject } from '../../lib/kube/objects.js';
import { loadAll, renderAll } from '../../lib/repo/workspace.js';
import { FLUX_CONTROLLERS } from '../../lib/toolchain/pins.js';
import { committedInputs, fixtureInputs } from '../pinned-fixture.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const docs = (text: string) => parseAllDocuments(text).map((d) => d.toJS() as KubeObject);
const committed = (path: string) => docs(readFileSync(`${root}${path}`, 'utf8'));

test('every cluster\'s flux-system holds gotk-components.yaml and gotk-sync.yaml, and the root kustomization includes it before the chain', () => {
  for (const name of ['colo', 'dfw', 'lab']) {
    const [folder] = committed(`clusters/${name}/flux-system/kustomization.yaml`);
    assert.deepEqual(folder!.resources, ['gotk-components.yaml', 'gotk-sync.yaml']);
    const [rootK] = committed(`clusters/${name}/kustomization.yaml`);
    assert.deepEqual(rootK!.resources, ['flux-system', 'fabric.yaml', 'policies.yaml', 'apps.yaml']);
    // The chain fabric -> policies -> apps is untouched.
    const deps = ['fabric', 'policies', 'apps'].map((s) => (committed(`clusters/${name}/${s}.yaml`)[0]!.spec as { dependsOn?: Array<{ name: string }> }).dependsOn?.map((d) => d.name));
    assert.deepEqual(deps, [undefined, ['fabric'], ['policies']]);
    const [repo, sync] = committed(`clusters/${name}/flux-system/gotk-sync.yaml`);
    assert.equal(repo!.kind, 'GitRepository');
    assert.equal((sync!.spec as { path: string }).path, `./clusters/${name}`);
  }
});

test('the components are the pinned controllers from docker.io (IPv6), CRDs first and included, every controller the product runs', () => {
  for (const name of ['colo', 'dfw', 'lab']) {
    const objects = committed(`clusters/${name}/flux-system/gotk-components.yaml`);
    const crds = objects.filter((o) => o.kind === 'CustomResourceDefinition');
    assert.deepEqual(objects.slice(0, crds.length), crds);
    for (const kind of ['gitrepositories.source.toolkit.fluxcd.io', 'kustomizations.kustomize.toolkit.fluxcd.io']) assert.ok(crds.some((c) => c.metadata.name === kind), kind);
    const images = objects.filter((o) => o.kind === 'Deployment').map((d) => (d.spec as any).template.spec.containers[0].image);
    assert.deepEqual(images, FLUX_CONTROLLERS.map((c) => `docker.io/fluxcd/${c.name}:${c.version}`));
    assert.ok(objects.some((o) => o.kind === 'Namespace' && o.metadata.name === 'flux-system'));
    assert.ok(!objects.some((o) => o.kind === 'Secret'));
  }
});

test('the components are what each platform installs at the first bootstrap: upstream\'s on Equinix Metal, requeue 5s on the lab', () => {
  const { crds } = committedInputs();
  const lab = loadAll(root).clusters.find((c) => c.spec.name === 'lab')!;
  const dfw = loadAll(root).clusters.find((c) => c.spec.name === 'dfw')!;
  assert.equal(fluxRequeueDependency(lab.spec), LAB_REQUEUE_DEPENDENCY);
  assert.equal(fluxRequeueDependency(dfw.spec), undefined);
  const sorted = [...crds].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  assert.deepEqual(fluxComponents(dfw.spec, crds), fluxInstallManifests({ crds: sorted, controllers: 'deployments' }));
  assert.deepEqual(fluxComponents(lab.spec, crds), fluxInstallManifests({ crds: sorted, controllers: 'deployments', requeueDependency: '5s' }));
  // As committed: the lab's kustomize-controller keeps its 5 s when Flux applies itself.
  const args = (name: string) =>
    (committed(`clusters/${name}/flux-system/gotk-components.yaml`).find((o) => o.kind === 'Deployment' && o.metadata.name === 'kustomize-controller')!.spec as any).template.spec.containers[0].args as string[];
  assert.ok(args('lab').includes('--requeue-dependency=5s'));
  assert.ok(!args('dfw').some((a) => a.startsWith('--requeue-dependency')));
});

test('an upgrade is a change of the pin and a render: the components follow the CRDs given, in any order', () => {
  const lab = loadAll(root).clusters.find((c) => c.spec.name === 'lab')!;
  const a = renderAll([lab], fixtureInputs()).find((f) => f.path.endsWith('gotk-components.yaml'))!;
  const b = renderAll([lab], { ...fixtureInputs(), crds: [...fixtureInputs().crds].reverse() }).find((f) => f.path.endsWith('gotk-components.yaml'))!;
  assert.equal(a.content, b.content);
  assert.deepEqual(docs(a.content).filter((o) => o.kind === 'CustomResourceDefinition').map((o) => o.metadata.name), ['gitrepositories.source.toolkit.fluxcd.io', 'kustomizations.kustomize.toolkit.fluxcd.io']);
  assert.throws(() => renderAll([lab], { ...fixtureInputs(), crds: [] }), /no Flux CRDs given: run npm run setup \(step flux:crds\)/);
});

test('crdsOfComponents: the CRDs of a rendered file, read back to render again the same; a file without any, or not YAML, refused', () => {
  const path = 'clusters/lab/flux-system/gotk-components.yaml';
  const text = readFileSync(`${root}${path}`, 'utf8');
  const crds = crdsOfComponents(path, text);
  assert.deepEqual(crds, committed(path).filter((o) => o.kind === 'CustomResourceDefinition'));
  assert.throws(() => crdsOfComponents('x.yaml', '---\nkind: Namespace\n'), { message: 'x.yaml holds no CustomResourceDefinition: run npm run render' });
  assert.throws(() => crdsOfComponents('x.yaml', 'a: [\n'), /^Error: x\.yaml: not YAML \([^]*\): run npm run render$/);
});
