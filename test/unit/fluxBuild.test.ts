// What `npm run validate` builds, planned as Flux's kustomize-controller
// would (lib/validate/fluxBuild.ts, planBuilds in kustomizeBuild.ts), and
// how it maps what kubectl says back to the user's files. No program runs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  apiErrorField,
  buildKustomization,
  fluxOverlay,
  fluxPathDir,
  isFluxKustomization,
  kubectlMessage,
  kustomizeMessage,
  objectLabel,
  originFile,
  withoutOrigin,
} from '../../lib/validate/fluxBuild.js';
import { planBuilds, scanManifests } from '../../lib/validate/kustomizeBuild.js';
import { readTree } from '../../lib/validate/load.js';
import { parseYamlFile } from '../../lib/validate/tree.js';

const FIXTURES = resolve(dirname(fileURLToPath(import.meta.url)), '../fixtures/validate');

test('a Flux path stays inside the source, as securejoin keeps it: .. cannot climb out, / is the root, none is the root', () => {
  assert.equal(fluxPathDir('/src', './clusters/lab'), '/src/clusters/lab');
  assert.equal(fluxPathDir('/src', 'clusters/lab/'), '/src/clusters/lab');
  assert.equal(fluxPathDir('/src', '../../etc'), '/src/etc');
  assert.equal(fluxPathDir('/src', '/apps'), '/src/apps');
  assert.equal(fluxPathDir('/src', undefined), '/src');
});

test('only kustomize.toolkit.fluxcd.io Kustomizations are Flux Kustomizations', () => {
  assert.ok(isFluxKustomization({ apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization' }));
  assert.ok(!isFluxKustomization({ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization' }));
  assert.ok(!isFluxKustomization({ apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'GitRepository' }));
});

test('the Flux spec fields kustomize-controller lays over the folder: targetNamespace, prefix, suffix, patches, images; nothing else', () => {
  assert.deepEqual(fluxOverlay({ interval: '5m', path: './x', prune: true }), {});
  const target = { kind: 'Deployment', name: 'web' };
  assert.deepEqual(
    fluxOverlay({ targetNamespace: 'web', namePrefix: 'a-', nameSuffix: '-b', patches: [{ patch: 'p1', target }, { patch: 'p2' }], images: [{ name: 'nginx', newTag: '1' }], postBuild: {} }),
    { namespace: 'web', namePrefix: 'a-', nameSuffix: '-b', patches: [{ patch: 'p1', target }, { patch: 'p2' }], images: [{ name: 'nginx', newTag: '1' }] },
  );
});

test('the scratch kustomization names the folder (or the generated list) relative to itself, with origin annotations; an empty folder builds to nothing', () => {
  assert.deepEqual(buildKustomization({ buildDir: '/tmp/s/build-0', dir: '/src/clusters/lab' }), {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    resources: ['../../../src/clusters/lab'],
    buildMetadata: ['originAnnotations'],
  });
  const k = buildKustomization({ buildDir: '/tmp/s/b', dir: '/src/apps/web', generated: ['/src/apps/web/a.yaml', '/src/apps/web/sub'], overlay: { namespace: 'web' }, components: ['/src/components/x'] });
  assert.deepEqual(k.resources, ['../../../src/apps/web/a.yaml', '../../../src/apps/web/sub']);
  assert.equal(k.namespace, 'web');
  assert.deepEqual(k.components, ['../../../src/components/x']);
  assert.equal(buildKustomization({ buildDir: '/b', dir: '/d', generated: [] }).namespace, '_placeholder');
});

test('a built object says where it came from (path, or configuredIn for a generated one); the annotation goes before it is submitted', () => {
  const obj = { kind: 'ConfigMap', metadata: { name: 'a', annotations: { 'config.kubernetes.io/origin': 'path: ../../../src/apps/web/a.yaml\n' } } };
  assert.equal(originFile(obj, '/tmp/s/b'), '/src/apps/web/a.yaml');
  const generated = { metadata: { annotations: { 'config.kubernetes.io/origin': 'configuredIn: ../../src/k/kustomization.yaml\nconfiguredBy:\n  kind: ConfigMapGenerator\n' } } };
  assert.equal(originFile(generated, '/tmp/b'), '/src/k/kustomization.yaml');
  assert.equal(originFile({ metadata: {} }, '/b'), undefined);
  assert.deepEqual(withoutOrigin(obj), { kind: 'ConfigMap', metadata: { name: 'a' } });
  const kept = { metadata: { annotations: { 'config.kubernetes.io/origin': 'path: x\n', keep: 'me' } } };
  assert.deepEqual(withoutOrigin(kept), { metadata: { annotations: { keep: 'me' } } });
});

test('the field an API error names, in the validator path syntax (the first of several causes)', () => {
  assert.deepEqual(apiErrorField('The GitRepository "x" is invalid: spec: Invalid value: serviceAccountName can only be set…'), ['spec']);
  assert.deepEqual(apiErrorField('The Deployment "web" is invalid: spec.template.metadata.labels: Invalid value: {"app":"v2"}: `selector` does not match'), ['spec', 'template', 'metadata', 'labels']);
  assert.deepEqual(apiErrorField('The Service "a" is invalid: [spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, spec.type: Unsupported value]'), ['spec', 'ports', 0, 'port']);
  assert.deepEqual(apiErrorField('The ConfigMap "a" is invalid: metadata.labels[app.kubernetes.io/name]: Invalid value: "-": a valid label'), ['metadata', 'labels', 'app.kubernetes.io/name']);
  assert.equal(apiErrorField('namespaces "wbe" not found'), undefined);
});

test("kubectl's words, one line; kustomize's with the scratch frames gone and the user's paths", () => {
  assert.equal(kubectlMessage('Warning: x\nError from server (NotFound): namespaces "wbe" not found\n'), '(NotFound) namespaces "wbe" not found');
  const raw =
    "error: accumulating resources: accumulation err='accumulating resources from '../../src/clusters/demo/apps': read /src/clusters/demo/apps: is a directory': recursed accumulation of path '/src/clusters/demo/apps': no resource matches strategic merge patch \"Deployment.v1.apps/webb.web\"";
  assert.equal(kustomizeMessage(raw, (abs) => relative('/src', abs), ['/src']), 'no resource matches strategic merge patch "Deployment.v1.apps/webb.web"');
  const missing = "error: accumulating resources: accumulation err='accumulating resources from 'x.yaml': open /src/apps/x.yaml: no such file or directory'";
  assert.equal(kustomizeMessage(missing, (abs) => relative('/src', abs), ['/src']), "accumulating resources: accumulation err='accumulating resources from 'x.yaml': open apps/x.yaml: no such file or directory'");
});

test('objects are named Kind namespace/name', () => {
  assert.equal(objectLabel({ kind: 'Service', metadata: { name: 'web', namespace: 'web' } }), 'Service web/web');
  assert.equal(objectLabel({ kind: 'Namespace', metadata: { name: 'web' } }), 'Namespace web');
});

test("Flux's generator lists every YAML file, and a folder with a kustomization instead of its files", () => {
  const web = join(FIXTURES, 'clean/apps/web');
  assert.deepEqual(scanManifests(web), { entries: [join(web, 'namespace.yaml'), join(web, 'web.yaml')], errors: [] });
});

test('the builds of a tree: one per Flux Kustomization; folders a Flux path reaches are not built again; a missing path is an issue on spec.path', () => {
  const root = join(FIXTURES, 'broken-kustomization');
  const display = (abs: string): string => relative(root, abs);
  const files = readTree([join(root, 'clusters'), join(root, 'apps')]).files.filter((f) => f.path.endsWith('.yaml')).map((f) => parseYamlFile(f.path, f.content));
  const plan = planBuilds(files, root, display);
  assert.deepEqual(
    plan.targets.map((t) => [display(t.dir), t.owners.map((o) => `${o.label} ${display(o.file)}:${o.line}:${o.col} ${o.path}`)]),
    [
      ['clusters/demo/apps', ['Kustomization flux-system/apps clusters/demo/apps.yaml:8:3 spec.path']],
      ['clusters/demo', ['Kustomization flux-system/flux-system clusters/demo/flux-system/gotk-sync.yaml:19:3 spec.path']],
    ],
  );
  assert.deepEqual(plan.issues.map((i) => ({ ...i, file: display(i.file) })), [
    { file: 'clusters/demo/monitoring.yaml', line: 8, col: 3, path: 'spec.path', message: 'Kustomization flux-system/monitoring: kustomization path not found: "./clusters/demo/monitoring" (looked for clusters/demo/monitoring)' },
  ]);
});
