/**
 * Lab tier: GitOps, for real. A small lab (1 control plane, 1 worker) from
 * a scratch repository made a git repository; the lab's git server in the
 * internet namespace; the repository's HEAD pushed to it; Flux's
 * source-controller and kustomize-controller (built from their modules by
 * `npm run setup`) installed as their Deployments, whose pods the lab's
 * kubelets run, cloning from the git host by its name; every
 * Kustomization Ready at the pushed commit, and verify's checks with Flux
 * installed (every family that applies to the shape); the fabric's IPPool, a baseline
 * GlobalNetworkPolicy, the app's NetworkPolicy and Deployment applied by
 * kustomize-controller (their managedFields and Flux's ownership labels).
 * Then the loop: a commit removing a NetworkPolicy, pushed, reconciled, and
 * the policy pruned from the cluster; a second run changing nothing; `down`.
 * Needs root and `npm run setup`. Everything is removed in `finally`.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseAllDocuments, stringify } from 'yaml';
import { createRunner } from '../../lib/exec/run.js';
import { fieldManagers, FLUX_PHASES } from '../../lib/platforms/lab/kubernetes/flux.js';
import type { PhaseReport } from '../../lib/phases/phase.js';
import { createLabContext, labDown, runLabPhases } from '../../lib/platforms/lab/lab.js';
import { listNamespaces } from '../../lib/platforms/lab/machine/netns.js';
import { UP_PHASES } from '../../lib/platforms/lab/phases.js';
import { scratchCluster } from '../../lib/repo/scratch.js';
import { labAdminClient } from '../../lib/platforms/lab/verify/probes.js';
import { labVerify } from '../../lib/platforms/lab/verify/verify.js';
import { KubeError } from '../../lib/kube/client.js';
import { need, needRoot } from '../prerequisites.js';
import { assertFamilies } from './families.js';

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'safe.directory=*', '-c', 'user.name=native6 lab test', '-c', 'user.email=lab@example.invalid', ...args], { cwd, encoding: 'utf8' }).trim();
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

test('lab: Flux reconciles the cluster from the lab git server, verify checks it, Flux follows a commit, prunes', { timeout: 900_000 }, async () => {
  needRoot();
  const scratch = scratchCluster('fx', { controlPlanes: 1, workers: 1, block: '2001:db8:4300::/56' });
  const { repo, cluster } = scratch;
  const runner = createRunner();
  let left: string[] = [];
  try {
    writeFileSync(join(repo, '.gitignore'), '.lab/\n');
    git(repo, 'init', '--quiet', '--initial-branch=main');
    git(repo, 'add', '-A');
    git(repo, 'commit', '--quiet', '-m', 'the fx cluster, rendered');
    const first = git(repo, 'rev-parse', 'HEAD');

    const ctx = createLabContext(repo, cluster, { binDir: join(process.cwd(), '.cache/bin') });
    for (const b of ['kube-apiserver', 'source-controller', 'kustomize-controller']) need(join(ctx.binDir, b), 'npm run setup');
    const up: PhaseReport[] = [];
    await runLabPhases(ctx, UP_PHASES, (p) => up.push(p));
    console.log(`# lab up: ${seconds(up.reduce((s, p) => s + p.ms, 0))}`);

    // Git server, push, install, reconciled: every Kustomization Ready at the pushed commit.
    const flux: PhaseReport[] = [];
    await runLabPhases(ctx, FLUX_PHASES, (p) => flux.push(p));
    console.log(`# flux: ${flux.map((p) => `${p.name} ${seconds(p.ms)}`).join(', ')}`);
    const reconciled = flux.find((p) => p.name === 'Flux reconciled')!;
    assert.match(reconciled.note, new RegExp(`apps, fabric, flux-system, policies Ready at main@sha1:${first}`));
    assert.match(flux.find((p) => p.name === 'git push')!.note, new RegExp(first.slice(0, 12)));

    // Flux applied the tree: kustomize-controller manages fields of an object of each Kustomization, and Flux's labels name it.
    const admin = labAdminClient(ctx);
    const owned: Array<[string, string]> = [
      ['fabric', '/apis/crd.projectcalico.org/v1/ippools/pods'],
      ['policies', '/apis/crd.projectcalico.org/v1/globalnetworkpolicies/baseline-default-deny'],
      ['apps', '/apis/networking.k8s.io/v1/namespaces/echo/networkpolicies/echo-public-ingress'],
      ['apps', '/apis/apps/v1/namespaces/echo/deployments/echo'],
    ];
    for (const [kustomization, path] of owned) {
      const managers = await fieldManagers(admin, path);
      assert.ok(managers.includes('kustomize-controller (Apply)'), `${path}: managers ${managers.join(', ')}`);
      const o = await admin.get<{ metadata: { labels?: Record<string, string> } }>(path);
      assert.equal(o.metadata.labels?.['kustomize.toolkit.fluxcd.io/name'], kustomization, `${path} carries Flux's ownership label`);
      console.log(`# ${path}: ${managers.join(', ')}`);
    }
    const repoStatus = await admin.get<{ status: { artifact?: { url?: string } } }>('/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/gitrepositories/flux-system');
    assert.match(repoStatus.status.artifact?.url ?? '', /^http:\/\/source-controller\.flux-system\.svc\.cluster\.local\.\/gitrepository\/flux-system\/flux-system\//, 'artifacts are served by source-controller\'s Service, found by the cluster\'s DNS');

    // Verify with Flux installed: its family is checked (every Kustomization Ready at the source's revision),
    // with every other family that applies to one control plane and one worker. Where the scheduler put the
    // three pods of the echo namespace decides whether a node is free for the policy matrix's host row.
    const { report } = await labVerify(ctx);
    // With one worker, whether a worker holds an echo pod while another node holds the other is the scheduler's choice.
    assertFamilies(report, ['api-with-control-plane-hung'], ['policy-matrix-host-row', 'client-during-node-hang']);
    assert.deepEqual(report.checks.filter((c) => c.family === 'flux').map((c) => c.name).sort(), ['flux/apps', 'flux/fabric', 'flux/flux-system', 'flux/policies']);
    console.log(`# verify with Flux: ${report.passed} checks passed; not applicable: ${report.notApplicable.map((n) => n.family).join(', ')}`);

    // The loop: a commit removes the echo -> internal NetworkPolicy; Flux follows and prunes it.
    const npPath = '/apis/networking.k8s.io/v1/namespaces/echo/networkpolicies/echo-to-internal';
    assert.ok(await admin.find(npPath), 'echo-to-internal is there before the commit');
    const file = join(repo, 'apps/echo/network-policy.yaml');
    const text = readFileSync(file, 'utf8');
    const head = text.slice(0, text.indexOf('---'));
    const docs = parseAllDocuments(text).map((d) => d.toJS() as { metadata?: { name?: string } }).filter((d) => d && d.metadata?.name !== 'echo-to-internal');
    writeFileSync(file, `${head}${docs.map((d) => `---\n${stringify(d)}`).join('')}`);
    git(repo, 'commit', '--quiet', '-am', 'echo may no longer reach internal');
    const second = git(repo, 'rev-parse', 'HEAD');
    const t0 = Date.now();
    const again: PhaseReport[] = [];
    await runLabPhases(ctx, FLUX_PHASES, (p) => again.push(p));
    const followMs = Date.now() - t0;
    assert.match(again.find((p) => p.name === 'Flux reconciled')!.note, new RegExp(`Ready at main@sha1:${second}`));
    assert.match(again.find((p) => p.name === 'git server')!.note, /^running/);
    // Installed again, nothing changes: the same controller pods run on (none replaced).
    const podsOf = (note: string) => /; pods (.+)$/.exec(note)?.[1];
    assert.ok(podsOf(flux.find((p) => p.name === 'Flux')!.note), 'the Flux phase names the controllers\' pods');
    assert.equal(podsOf(again.find((p) => p.name === 'Flux')!.note), podsOf(flux.find((p) => p.name === 'Flux')!.note));
    await assert.rejects(admin.get(npPath), (e: unknown) => e instanceof KubeError && e.status === 404, 'Flux pruned echo-to-internal');
    console.log(`# commit ${second.slice(0, 12)} pushed and reconciled, echo-to-internal pruned: ${seconds(followMs)}`);
  } finally {
    // No assertion here: one would replace the error of a failed run.
    await labDown(runner, repo, cluster.spec.name);
    left = [...(await listNamespaces(runner, 'n6-fx-')), ...(await listNamespaces(runner, 'n6-fx_'))];
    scratch.remove();
  }
  assert.deepEqual(left, [], 'down leaves no namespace');
});
