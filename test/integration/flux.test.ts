// Flux's pieces, one real component at a time:
//
// - the lab's git server (lib/platforms/lab/gitServer.ts: Debian's `git
//   http-backend` behind our HTTP server) on loopback: git clones, pushes
//   (small and chunked packs, and this repository's whole history) and
//   fetches through it, and it refuses what it must;
// - the controllers `npm run setup` built: their build info names the
//   pinned module versions, and they take every flag we give them;
// - fluxInstallManifests() accepted by a real kube-apiserver (etcd +
//   kube-apiserver on loopback, built by `npm run setup`), with the CRDs
//   `npm run setup` copied from the controllers' modules;
// - waitForKustomizations() against that API server, with Kustomizations
//   and a GitRepository whose status the test writes: Ready=False is named
//   with its reason and message, Stalled fails at once, a stale applied
//   revision is not ready, Ready at the source's revision resolves.
//
// Needs Debian's git and `npm run setup` (kube-apiserver, etcd, flux:crds);
// missing programs fail the test and say so. Everything is removed in
// `finally`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get as httpGet, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeClient } from '../../lib/kube/client.js';
import { applyFluxInstall, DEPLOYMENT_PLACEMENT, fluxControllerArgs, fluxInstallManifests, readFluxCrds } from '../../lib/flux/install.js';
import { FluxNotReadyError, revisionIs, waitForKustomizations } from '../../lib/flux/status.js';
import { applyObjects, crdsEstablished, type KubeObject } from '../../lib/kube/objects.js';
import { createGitHttpServer, ensureBareRepository, parseCgiHead } from '../../lib/platforms/lab/provider/gitServer.js';
import { FLUX_CONTROLLERS, fluxBinary } from '../../lib/toolchain/pins.js';
import { DEFAULT_CACHE_DIR, REPO_DIR } from '../../lib/toolchain/repo.js';
import { goBinaryModuleVersion } from '../../lib/toolchain/steps/flux.js';
import { apiServer } from '../apiserver.js';

function sh(cmd: string, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

async function git(cwd: string, ...args: string[]): Promise<string> {
  const r = await sh('git', ['-c', 'safe.directory=*', '-c', 'user.name=test', '-c', 'user.email=test@example.invalid', ...args], { cwd });
  assert.equal(r.code, 0, `git ${args.join(' ')} in ${cwd}: ${r.stderr}`);
  return r.stdout.trim();
}

function status(url: string): Promise<number> {
  return new Promise((resolve) => {
    httpGet(url, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    }).on('error', () => resolve(0));
  });
}

// ----------------------------------------------------------------- git server

test('CGI head: status and headers, with CRLF or LF lines', () => {
  assert.deepEqual(parseCgiHead('Status: 404 Not Found\r\nContent-Type: text/plain\r\n'), { status: 404, headers: [['Content-Type', 'text/plain']] });
  assert.deepEqual(parseCgiHead('Expires: Fri, 01 Jan 1980 00:00:00 GMT\nCache-Control: no-cache\n'), {
    status: 200,
    headers: [['Expires', 'Fri, 01 Jan 1980 00:00:00 GMT'], ['Cache-Control', 'no-cache']],
  });
  assert.throws(() => parseCgiHead('HTTP/1.1 200 OK\r\n'), /not a CGI header line/);
});

test('git server: clone, push (small, chunked, this repository) and fetch over smart HTTP through git http-backend', { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'native6-git-'));
  const lines: string[] = [];
  let server: Server | undefined;
  try {
    const root = join(dir, 'srv');
    assert.equal(ensureBareRepository(join(root, 'native6.git')), true);
    assert.equal(ensureBareRepository(join(root, 'native6.git')), false, 'a second call finds the repository');
    server = createGitHttpServer({ projectRoot: root, log: (l) => lines.push(l) });
    await new Promise<void>((res) => server!.listen(0, '::1', res));
    const base = `http://[::1]:${(server.address() as AddressInfo).port}`;
    const url = `${base}/native6.git`;

    // An empty repository answers; a missing one and a path outside the root do not.
    assert.equal(await git(dir, 'ls-remote', url), '');
    assert.equal(await status(`${base}/missing.git/info/refs?service=git-upload-pack`), 404);
    assert.equal(await status(`${base}/..%2f..%2fetc/info/refs?service=git-upload-pack`), 404);

    // A first commit, pushed.
    const work = join(dir, 'work');
    await git(dir, 'init', '--quiet', '--initial-branch=main', work);
    writeFileSync(join(work, 'README'), 'hello\n');
    await git(work, 'add', '-A');
    await git(work, 'commit', '--quiet', '-m', 'first');
    await git(work, 'push', '--quiet', url, 'main');
    const first = await git(work, 'rev-parse', 'HEAD');
    assert.equal(await git(join(root, 'native6.git'), 'rev-parse', 'refs/heads/main'), first);

    // A 3 MB commit: git sends the pack chunked (above http.postBuffer's 1 MB), without Content-Length.
    writeFileSync(join(work, 'blob.bin'), randomBytes(3 * 1024 * 1024));
    await git(work, 'add', '-A');
    await git(work, 'commit', '--quiet', '-m', 'big');
    await git(work, 'push', '--quiet', url, 'main');
    const big = await git(work, 'rev-parse', 'HEAD');

    // A clone sees both; a later push reaches it by fetch.
    const clone = join(dir, 'clone');
    await git(dir, 'clone', '--quiet', url, clone);
    assert.equal(await git(clone, 'rev-parse', 'HEAD'), big);
    assert.deepEqual(readFileSync(join(clone, 'blob.bin')), readFileSync(join(work, 'blob.bin')));
    writeFileSync(join(work, 'README'), 'hello again\n');
    await git(work, 'commit', '--quiet', '-am', 'third');
    await git(work, 'push', '--quiet', url, 'main');
    await git(clone, 'pull', '--quiet', '--ff-only');
    assert.equal(readFileSync(join(clone, 'README'), 'utf8'), 'hello again\n');

    // This repository's HEAD, history and all, forced over the branch (as the lab's apply flow pushes it).
    const head = await git(REPO_DIR, 'rev-parse', 'HEAD');
    await git(REPO_DIR, 'push', '--quiet', '--force', url, `${head}:refs/heads/main`);
    const mirror = join(dir, 'mirror');
    await git(dir, 'clone', '--quiet', '--branch', 'main', url, mirror);
    assert.equal(await git(mirror, 'rev-parse', 'HEAD'), head);
    assert.equal(readFileSync(join(mirror, 'clusters/lab/flux-system/gotk-sync.yaml'), 'utf8'), await git(REPO_DIR, 'show', `${head}:clusters/lab/flux-system/gotk-sync.yaml`) + '\n');
    t.diagnostic(`${lines.length} requests served; pushed ${head.slice(0, 12)} (this repository's HEAD) and cloned it back`);
    assert.ok(lines.some((l) => /POST \/native6\.git\/git-receive-pack \d+ bytes 200/.test(l)), 'a push with Content-Length was served');
    assert.ok(lines.some((l) => /POST \/native6\.git\/git-receive-pack chunked 200/.test(l)), 'a chunked push (no Content-Length) was served');
  } finally {
    await new Promise((res) => (server ? server.close(res) : res(undefined)));
    rmSync(dir, { recursive: true, force: true });
  }
});

// ------------------------------------------------------------ the controllers

test('the controllers setup built are the pinned module versions and take the flags the lab and the cloud give them', { timeout: 60_000 }, async () => {
  for (const p of FLUX_CONTROLLERS) {
    const bin = fluxBinary(DEFAULT_CACHE_DIR, p.name);
    assert.ok(existsSync(bin), `${bin} is missing: run npm run setup -- bin:flux`);
    assert.equal(await goBinaryModuleVersion(bin, p.module), p.version, `${bin}'s build info names ${p.module}@${p.version}`);
    const help = await sh(bin, ['--help']);
    const args = [...fluxControllerArgs(p.name, { leaderElection: false, metricsAddr: 'x', healthAddr: 'x', storagePath: 'x', storageAddr: 'x', storageAdvAddr: 'x', requeueDependency: '5s' }), ...fluxControllerArgs(p.name, DEPLOYMENT_PLACEMENT)];
    for (const flag of new Set(args.map((a) => a.split('=')[0]!))) assert.ok(help.stderr.includes(`${flag} `) || help.stdout.includes(`${flag} `), `${p.name} --help lists ${flag}`);
  }
});

// --------------------------------------------------------- install manifests

test('fluxInstallManifests: the same objects on both platforms, Deployments only on the cloud, upstream images at the pinned version', () => {
  const crds = readFluxCrds(DEFAULT_CACHE_DIR);
  const cloud = fluxInstallManifests({ crds, controllers: 'deployments' });
  const lab = fluxInstallManifests({ crds, controllers: 'processes' });
  const kinds = (os: KubeObject[]) => os.map((o) => `${o.kind}/${o.metadata.name}`);
  assert.deepEqual(kinds(lab), kinds(cloud).filter((k) => !k.startsWith('Deployment/')));
  assert.deepEqual(kinds(cloud).filter((k) => k.startsWith('Deployment/')), ['Deployment/source-controller', 'Deployment/kustomize-controller']);
  assert.ok(kinds(cloud).indexOf('Namespace/flux-system') > kinds(cloud).lastIndexOf(kinds(cloud).find((k) => k.startsWith('CustomResourceDefinition/'))!), 'CRDs come first');
  for (const p of FLUX_CONTROLLERS) {
    const d = cloud.find((o) => o.kind === 'Deployment' && o.metadata.name === p.name) as unknown as { spec: { template: { spec: { serviceAccountName: string; containers: Array<{ image: string; args: string[] }> } } } };
    assert.equal(d.spec.template.spec.containers[0]!.image, `docker.io/fluxcd/${p.name}:${p.version}`);
    assert.equal(d.spec.template.spec.serviceAccountName, p.name);
  }
  assert.deepEqual(fluxControllerArgs('source-controller', { leaderElection: false, storagePath: '/s', storageAddr: '[::1]:9090', storageAdvAddr: '[::1]:9090', metricsAddr: '[::1]:8080', healthAddr: '[::1]:9440' }), [
    '--watch-all-namespaces=true',
    '--log-level=info',
    '--log-encoding=json',
    '--enable-leader-election=false',
    '--metrics-addr=[::1]:8080',
    '--health-addr=[::1]:9440',
    '--storage-path=/s',
    '--storage-addr=[::1]:9090',
    '--storage-adv-addr=[::1]:9090',
  ]);
  assert.ok(revisionIs('main@sha1:0123456789abcdef0123456789abcdef01234567', '0123456789abcdef0123456789abcdef01234567'));
  assert.ok(!revisionIs('main@sha1:0123456789abcdef0123456789abcdef01234567', 'fedcba9876543210fedcba9876543210fedcba98'));
});

// ----------------------------------------------------------- real API server

const SHA_A = 'a'.repeat(40);
const SHA_B = 'b'.repeat(40);

async function setStatus(client: KubeClient, o: KubeObject, status: Record<string, unknown>): Promise<void> {
  const now = new Date().toISOString();
  const conditions = (status.conditions as Array<Record<string, unknown>> | undefined)?.map((c) => ({ lastTransitionTime: now, observedGeneration: 1, ...c }));
  await client.request('PATCH', `${await client.pathOf(o)}/status`, { status: { observedGeneration: 1, ...status, ...(conditions ? { conditions } : {}) } }, 'application/merge-patch+json');
}

function kustomization(name: string, dependsOn?: string): KubeObject {
  return {
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
    kind: 'Kustomization',
    metadata: { name, namespace: 'flux-system' },
    spec: { interval: '5m', path: `./clusters/lab/${name}`, prune: true, wait: true, sourceRef: { kind: 'GitRepository', name: 'flux-system' }, ...(dependsOn ? { dependsOn: [{ name: dependsOn }] } : {}) },
  };
}

const ready = (revision: string) => ({ lastAppliedRevision: revision, lastAttemptedRevision: revision, conditions: [{ type: 'Ready', status: 'True', reason: 'ReconciliationSucceeded', message: `Applied revision: ${revision}` }] });

test('a real API server accepts the Flux install; waitForKustomizations names what is not ready and resolves when all are', { timeout: 180_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'native6-flux-api-'));
  let api: Awaited<ReturnType<typeof apiServer>> | undefined;
  try {
    const t0 = performance.now();
    api = await apiServer(dir);
    const { client } = api;
    t.diagnostic(`API server ready after ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    // The whole cloud install (CRDs, RBAC, Service, policies, quota, Deployments) is accepted as it is.
    const crds = readFluxCrds(DEFAULT_CACHE_DIR);
    const install = fluxInstallManifests({ crds, controllers: 'deployments' });
    assert.equal(await applyFluxInstall(client, install, 'native6-test'), install.length);
    assert.ok(await crdsEstablished(client, crds));
    t.diagnostic(`${install.length} install objects applied (${crds.length} CRDs)`);

    // No Kustomization yet: not ready, and said so.
    await assert.rejects(waitForKustomizations(client, { timeoutMs: 500, pollMs: 100 }), (e: Error) => e instanceof FluxNotReadyError && /no Kustomization in flux-system/.test(e.message));

    const repo: KubeObject = { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name: 'flux-system', namespace: 'flux-system' }, spec: { interval: '1m', url: 'http://[2001:db8:ffff:1::2]/native6.git', ref: { branch: 'main' } } };
    const ks = [kustomization('flux-system'), kustomization('fabric'), kustomization('policies', 'fabric'), kustomization('apps', 'policies')];
    await applyObjects(client, [repo, ...ks], 'native6-test');
    const revA = `main@sha1:${SHA_A}`;
    await setStatus(client, repo, { artifact: { revision: revA, path: 'x', url: 'http://x', digest: `sha256:${'0'.repeat(64)}`, lastUpdateTime: new Date().toISOString() }, conditions: [{ type: 'Ready', status: 'True', reason: 'Succeeded', message: `stored artifact for revision '${revA}'` }] });
    for (const k of ks.slice(0, 3)) await setStatus(client, k, ready(revA));
    const failing = "timeout waiting for: [Deployment/echo/echo status: 'InProgress']";
    await setStatus(client, ks[3]!, { lastAttemptedRevision: revA, conditions: [{ type: 'Ready', status: 'False', reason: 'HealthCheckFailed', message: failing }] });

    // Ready=False: the error names the Kustomization, its reason and its message, and nothing that is ready.
    await assert.rejects(waitForKustomizations(client, { timeoutMs: 1500, pollMs: 200 }), (e: Error) => {
      assert.ok(e instanceof FluxNotReadyError);
      // Waited on until the timeout (Flux retries): the deadline's message, not Stalled's.
      assert.match(e.message, /^Flux not reconciled after 2 s:\n/);
      assert.match(e.message, /Kustomization flux-system\/apps: Ready=False \(HealthCheckFailed\): timeout waiting for: \[Deployment\/echo\/echo status: 'InProgress'\]/);
      assert.doesNotMatch(e.message, /flux-system\/fabric|flux-system\/policies/);
      assert.deepEqual(e.states.filter((s) => !s.reconciled).map((s) => s.name), ['apps']);
      return true;
    });

    // Stalled: Flux gave up; the wait fails at once.
    await setStatus(client, ks[3]!, { conditions: [{ type: 'Ready', status: 'False', reason: 'BuildFailed', message: 'kustomize build failed: accumulating resources' }, { type: 'Stalled', status: 'True', reason: 'BuildFailed', message: 'kustomize build failed: accumulating resources' }] });
    // (The 60 s only guards against a hang: Stalled's own message shows the wait ended on it, not on the deadline.)
    await assert.rejects(waitForKustomizations(client, { timeoutMs: 60_000, pollMs: 200 }), (e: Error) => {
      assert.match(e.message, /^Flux gave up \(Stalled\):\n[\s\S]*flux-system\/apps \[Stalled\]: Ready=False \(BuildFailed\): kustomize build failed/);
      return true;
    });

    // Ready=True everywhere at the source's revision: resolves.
    await setStatus(client, ks[3]!, { ...ready(revA), conditions: [...ready(revA).conditions, { type: 'Stalled', status: 'False', reason: 'Succeeded', message: '' }] });
    const states = await waitForKustomizations(client, { timeoutMs: 5000, pollMs: 200 });
    assert.deepEqual(states.map((s) => [s.name, s.reconciled, s.sourceRevision]), ['apps', 'fabric', 'flux-system', 'policies'].map((n) => [n, true, revA]));
    assert.equal((await waitForKustomizations(client, { timeoutMs: 5000, revision: SHA_A })).length, 4);

    // The source moves on (a push): Ready=True at the old revision is not ready; naming the new commit waits for the source too.
    const revB = `main@sha1:${SHA_B}`;
    await setStatus(client, repo, { artifact: { revision: revB, path: 'x', url: 'http://x', digest: `sha256:${'1'.repeat(64)}`, lastUpdateTime: new Date().toISOString() } });
    await assert.rejects(waitForKustomizations(client, { timeoutMs: 800, pollMs: 200 }), new RegExp(`flux-system/fabric: Ready=True but applied ${revA}, source at ${revB}`));
    for (const k of ks) await setStatus(client, k, ready(revB));
    assert.equal((await waitForKustomizations(client, { timeoutMs: 5000, revision: SHA_B })).length, 4);
    await assert.rejects(waitForKustomizations(client, { timeoutMs: 600, pollMs: 200, revision: SHA_A }), new RegExp(`GitRepository flux-system/flux-system at ${revB}, not yet at ${SHA_A}`));
  } finally {
    await api?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
