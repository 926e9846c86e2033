// `npm run validate` as a user runs it, on fixture repositories
// (test/fixtures/validate/<case>/: clusters/ and apps/ as render lays them
// out): every Flux Kustomization built with the pinned kubectl kustomize,
// every built object submitted to a real kube-apiserver (etcd and
// kube-apiserver from `npm run setup`) with the pinned Calico and Flux CRDs,
// through the product's Kubernetes client. Each broken fixture passes the
// schema check (--offline) and fails the full run with one line per problem
// naming the file, the object and the API server's or kustomize's words
// (the API server's Status message as it sends it: `Deployment.apps "web"
// is invalid: …`). Needs `npm run setup`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_CACHE_DIR } from '../../lib/toolchain/repo.js';
import { toolPaths } from '../../lib/toolchain/pins.js';
import { need } from '../prerequisites.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const FIXTURES = join(ROOT, 'test/fixtures/validate');

function needTools(): void {
  const paths = toolPaths(DEFAULT_CACHE_DIR);
  need(paths.etcd, 'npm run setup -- bin:etcd');
  need(paths['kube-apiserver'], 'npm run setup -- bin:kubernetes');
  need(paths.kubectl, 'npm run setup -- bin:kubernetes');
}

/**
 * Runs scripts/validate.ts in a fixture (its root and working directory), as
 * `npm run validate -- --root .` would, with a temporary folder of its own:
 * `left` is what it left there (nothing, when it cleans up).
 */
async function validate(fixture: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string; left: string[] }> {
  const tmp = mkdtempSync(join(tmpdir(), 'validate-test-'));
  try {
    const env = { ...process.env, TMPDIR: tmp };
    const r = await new Promise<{ code: number; stdout: string; stderr: string }>((res) => {
      const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts/validate.ts'), '--root', '.', ...args], { cwd: join(FIXTURES, fixture), env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code) => res({ code: code ?? 1, stdout, stderr }));
    });
    // tsx keeps its cache there too (tsx-<uid>); what validate makes is native6-*.
    return { ...r, left: readdirSync(tmp).filter((n) => n.startsWith('native6-')) };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Every file of a fixture with its sha256: validate must leave the tree as it found it. */
function snapshot(fixture: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(`${p} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`);
    }
  };
  walk(join(FIXTURES, fixture));
  return out;
}

async function expectProblems(fixture: string, lines: string[]): Promise<void> {
  needTools();
  const before = snapshot(fixture);
  const r = await validate(fixture);
  assert.equal(r.stderr.trimEnd().split('\n').join('\n'), lines.join('\n'));
  assert.equal(r.code, 1);
  assert.match(r.stdout, new RegExp(`submitted to kube-apiserver v[0-9.]+ with 25 CRDs \\(server-side dry run\\): ${lines.length} problems?\\n`));
  assert.match(r.stdout, /^validate: [0-9.]+ s in all: builds [0-9.]+ s, API server ready [0-9.]+ s, CRDs [0-9.]+ s, dry run [0-9.]+ s$/m);
  assert.deepEqual(snapshot(fixture), before, 'the fixture was written to');
  assert.deepEqual(r.left, [], 'left in its temporary folder');
}

test('clean: a tree Flux builds (one path with no kustomization.yaml, generated as Flux does) and the API server takes passes', { timeout: 180_000 }, async () => {
  needTools();
  const r = await validate('clean');
  assert.equal(r.stderr, '');
  assert.equal(r.code, 0);
  assert.deepEqual(r.left, [], 'left in its temporary folder');
  assert.match(r.stdout, /; 2 kustomize builds, 6 objects submitted to kube-apiserver v[0-9.]+ with 25 CRDs \(server-side dry run\): 0 problems\n/);
});

test('the broken fixtures pass the schema check alone (--offline): only the build and the server catch them', { timeout: 120_000 }, async () => {
  for (const fixture of ['broken-kustomization', 'cel', 'server-only']) {
    const r = await validate(fixture, '--offline');
    assert.equal(r.stderr, '', fixture);
    assert.equal(r.code, 0, fixture);
    assert.match(r.stdout, /no API server \(--offline\): 0 problems/, fixture);
  }
});

test('broken-kustomization: a patch whose target is not there, and a Flux path that does not exist, each on its Flux Kustomization', { timeout: 180_000 }, async () => {
  await expectProblems('broken-kustomization', [
    'clusters/demo/apps.yaml:8:3: spec.path: Kustomization flux-system/apps: building clusters/demo/apps/kustomization.yaml failed: no resource matches strategic merge patch "Deployment.v1.apps/webb.web": no matches for Id Deployment.v1.apps/webb.web; failed to find unique target for patch Deployment.v1.apps/webb.web',
    'clusters/demo/monitoring.yaml:8:3: spec.path: Kustomization flux-system/monitoring: kustomization path not found: "./clusters/demo/monitoring" (looked for clusters/demo/monitoring)',
  ]);
});

test('cel: a GitRepository that breaks a CEL rule of the pinned Flux CRD is refused, on its file and spec', { timeout: 180_000 }, async () => {
  await expectProblems('cel', [
    `clusters/demo/flux-system/gotk-sync.yaml:6:1: spec: GitRepository flux-system/flux-system: the API server refused it (server-side dry run, as built for Kustomization flux-system/flux-system): GitRepository.source.toolkit.fluxcd.io "flux-system" is invalid: spec: Invalid value: serviceAccountName can only be set when provider is 'azure' or 'aws'`,
  ]);
});

test('server-only: a selector that misses its template, externalTrafficPolicy Local on a ClusterIP Service, a namespace nothing makes', { timeout: 180_000 }, async () => {
  await expectProblems('server-only', [
    'apps/web/settings.yaml:1:1: ConfigMap wbe/web-settings: the API server refused it (server-side dry run, as built for Kustomization flux-system/apps): namespaces "wbe" not found',
    'apps/web/web.yaml:13:7: spec.template.metadata.labels: Deployment web/web: the API server refused it (server-side dry run, as built for Kustomization flux-system/apps): Deployment.apps "web" is invalid: spec.template.metadata.labels: Invalid value: {"app":"web-v2"}: `selector` does not match template `labels`',
    'apps/web/web.yaml:35:3: spec.externalTrafficPolicy: Service web/web: the API server refused it (server-side dry run, as built for Kustomization flux-system/apps): Service "web" is invalid: spec.externalTrafficPolicy: Invalid value: "Local": may only be set for externally-accessible services',
  ]);
});
