/**
 * Reading a cluster's rendered tree back (lib/render/read.ts): the fabric that
 * is applied before Flux runs, and Flux's own sync objects, each refused when
 * the tree on disk is not what `npm run render` writes.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { LoadedCluster } from '../../lib/plan/loaded.js';
import { readFabric, readFluxSystem, readSyncObjects } from '../../lib/render/read.js';
import { renderCluster } from '../../lib/render/tree.js';
import { loadAll } from '../../lib/repo/workspace.js';
import { committedInputs } from '../pinned-fixture.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

function cluster(name: string): LoadedCluster {
  const c = loadAll(root).clusters.find((x) => x.spec.name === name);
  assert.ok(c, `no cluster ${name} under infra/`);
  return c;
}

const names = (objects: ReadonlyArray<{ kind?: string; metadata?: { name?: string } }>) => objects.map((o) => `${o.kind}/${o.metadata?.name}`);

/** A scratch repository holding `cluster`'s rendered tree, changed by `edit`. */
function withTree(c: LoadedCluster, edit: (dir: string) => void, check: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'native6-read-'));
  try {
    for (const f of renderCluster(c, committedInputs())) {
      mkdirSync(dirname(join(dir, f.path)), { recursive: true });
      writeFileSync(join(dir, f.path), f.content);
    }
    edit(dir);
    check(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('the fabric read back: every object of the fabric files in file-name order, the kustomize file left out', () => {
  assert.deepEqual(names(readFabric(root, cluster('dfw'))), [
    'BGPConfiguration/default',
    'Role/calico-bgp-passwords',
    'RoleBinding/calico-bgp-passwords',
    'ConfigMap/native6-bird-templates',
    'ConfigMap/coredns',
    'FelixConfiguration/default',
    'IPPool/pods',
    'GlobalNetworkSet/cluster',
    'GlobalNetworkSet/public-sources',
    'GlobalNetworkSet/trusted-sources',
    'GlobalNetworkSet/nat64',
  ]);
  // The lab's machines are planned: its fabric has a BGPPeer per machine and router, after bgp-passwords-rbac.yaml.
  const lab = names(readFabric(root, cluster('lab')));
  assert.deepEqual(lab.slice(0, 5), ['BGPConfiguration/default', 'Role/calico-bgp-passwords', 'RoleBinding/calico-bgp-passwords', 'BGPPeer/lab-cp-1-2001-db8-ffff--e', 'BGPPeer/lab-cp-1-2001-db8-ffff--f']);
  assert.equal(lab.filter((n) => n.startsWith('BGPPeer/')).length, 10);
  // The cluster's DNS configuration (coredns.yaml) after the BGPPeers, before Felix's.
  assert.deepEqual(lab.slice(14, 16), ['ConfigMap/coredns', 'FelixConfiguration/default']);
  assert.deepEqual(lab.slice(-5), ['IPPool/pods', 'GlobalNetworkSet/cluster', 'GlobalNetworkSet/public-sources', 'GlobalNetworkSet/trusted-sources', 'GlobalNetworkSet/nat64']);
});

test('a fabric that is not what npm run render writes is refused, naming the file and the sources', () => {
  const c = cluster('dfw');
  const message = (file: string) => `clusters/dfw/fabric/${file} is not what npm run render writes for infra/dfw.yaml and x/facts.json: run npm run render`;
  const withSources = { ...c, sources: ['infra/dfw.yaml', 'x/facts.json'] };
  // Changed by hand.
  withTree(withSources, (dir) => writeFileSync(join(dir, 'clusters/dfw/fabric/ippool.yaml'), '# edited\n'), (dir) => {
    assert.throws(() => readFabric(dir, withSources), { message: message('ippool.yaml') });
  });
  // Missing.
  withTree(withSources, (dir) => rmSync(join(dir, 'clusters/dfw/fabric/felix-configuration.yaml')), (dir) => {
    assert.throws(() => readFabric(dir, withSources), { message: message('felix-configuration.yaml') });
  });
  // Only the .yaml files are read: anything else beside them is not applied.
  withTree(withSources, (dir) => writeFileSync(join(dir, 'clusters/dfw/fabric/notes.txt'), 'kind: Secret\n'), (dir) => {
    assert.equal(readFabric(dir, withSources).length, 11);
  });
});

test('only the fabric is checked against a fresh render: the rest of the tree, edited or missing, does not stop it being read', () => {
  const c = cluster('dfw');
  const expected = names(readFabric(root, c));
  const edit = (dir: string) => {
    writeFileSync(join(dir, 'clusters/dfw/apps/kustomization.yaml'), '# edited\n');
    rmSync(join(dir, 'clusters/dfw/flux-system'), { recursive: true });
  };
  withTree(c, edit, (dir) => assert.deepEqual(names(readFabric(dir, c)), expected));
});

test('the sync objects read back: the GitRepository and the root Kustomization; a file without them is refused', () => {
  assert.deepEqual(names(readSyncObjects(root, 'lab')), ['GitRepository/flux-system', 'Kustomization/flux-system']);
  const c = cluster('lab');
  const sync = (dir: string) => join(dir, 'clusters/lab/flux-system/gotk-sync.yaml');
  const refused = (dir: string) => ({ message: `${sync(dir)} has no GitRepository and root Kustomization: run npm run render` });
  // Either one alone is not enough.
  for (const kind of ['GitRepository', 'Kustomization']) {
    withTree(c, (dir) => writeFileSync(sync(dir), `---\napiVersion: v1\nkind: ${kind}\nmetadata:\n  name: flux-system\n`), (dir) => {
      assert.throws(() => readSyncObjects(dir, 'lab'), refused(dir));
    });
  }
  // Empty documents are skipped, not read as objects.
  withTree(c, (dir) => writeFileSync(sync(dir), '---\n---\nkind: GitRepository\n---\nkind: Kustomization\n'), (dir) => {
    assert.deepEqual(readSyncObjects(dir, 'lab').map((o) => o.kind), ['GitRepository', 'Kustomization']);
  });
});

test('Flux\'s own objects read back as committed (what a first bootstrap applies); a flux-system folder not rendered from the pin is refused', () => {
  const c = cluster('lab');
  const flux = committedInputs();
  const read = readFluxSystem(root, c, flux);
  assert.deepEqual(names(read.sync), ['GitRepository/flux-system', 'Kustomization/flux-system']);
  assert.equal(read.components.filter((o) => o.kind === 'CustomResourceDefinition').length, flux.crds.length);
  assert.deepEqual(names(read.components.filter((o) => o.kind === 'Deployment')), ['Deployment/source-controller', 'Deployment/kustomize-controller']);
  const message = (file: string) => ({ message: `clusters/lab/flux-system/${file} is not what npm run render writes for infra/lab.yaml and the pinned Flux: run npm run render and commit it` });
  const components = (dir: string) => join(dir, 'clusters/lab/flux-system/gotk-components.yaml');
  // An image changed by hand in git: refused, not installed.
  withTree(c, (dir) => writeFileSync(components(dir), readFileSync(components(dir), 'utf8').replace('kustomize-controller:v1.9.5', 'kustomize-controller:v1.9.4')), (dir) => {
    assert.throws(() => readFluxSystem(dir, c, flux), message('gotk-components.yaml'));
  });
  // A pin moved without a render: the CRDs (here one fewer) differ from what the tree holds.
  withTree(c, () => {}, (dir) => assert.throws(() => readFluxSystem(dir, c, { crds: flux.crds.slice(1) }), message('gotk-components.yaml')));
  // The sync edited (a secretRef dropped, say) or the folder's kustomization missing.
  withTree(c, (dir) => writeFileSync(join(dir, 'clusters/lab/flux-system/gotk-sync.yaml'), '# edited\n'), (dir) => {
    assert.throws(() => readFluxSystem(dir, c, flux), message('gotk-sync.yaml'));
  });
  withTree(c, (dir) => rmSync(join(dir, 'clusters/lab/flux-system/kustomization.yaml')), (dir) => {
    assert.throws(() => readFluxSystem(dir, c, flux), message('kustomization.yaml'));
  });
});
