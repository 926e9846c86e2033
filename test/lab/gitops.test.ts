/**
 * Lab tier, the GitOps loop end to end: a repository whose "GitHub" is the
 * lab's git server, a lab cluster (1 control plane, 1 worker) applied with
 * the real Pulumi CLI (the lab as a Pulumi resource) and Flux bootstrapped;
 * a pull request adds a worker and gets its plan comment (GitHub faked with
 * msw); the cluster's join token expires; the merge is applied from the
 * lab's runner namespace, which has IPv4 only as a GitHub-hosted runner
 * (apply reaches the API through the control plane's IPv4): Pulumi
 * updates the lab, the new worker joins once a control plane's timer has
 * made the token again (valid for a day), the rendered tree is
 * committed, Flux reconciles it, the new node's pod block is on both routers
 * and a pod on it answers from the internet namespace; a second apply
 * changes nothing; teardown removes it all. Needs root and `npm run setup`.
 * Everything it makes is removed in `finally`.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { containsAddress, formatPrefix, parseAddress, parsePrefix } from '../../lib/net/ipv6.js';
import { applyAction, planAction, teardownAction } from '../../lib/workflows/actions.js';
import { createOctokit } from '../../lib/workflows/github.js';
import { createLineLog } from '../../lib/workflows/log.js';
import { createRunner } from '../../lib/exec/run.js';
import { ensureBareRepository, labGitServer } from '../../lib/platforms/lab/provider/gitServer.js';
import { createLabContext, labDown } from '../../lib/platforms/lab/lab.js';
import { ensureClusterSecrets } from '../../lib/platforms/lab/state.js';
import { listNamespaces } from '../../lib/platforms/lab/machine/netns.js';
import { kernelRoutes, labAdminClient, nextHops, probeFrom } from '../../lib/platforms/lab/verify/probes.js';
import { pinnedInputs, loadAll, loadSpecFile, ownedDirs, renderAll, writeTree } from '../../lib/repo/workspace.js';
import { pulumiBinary } from '../../lib/toolchain/pulumi.js';
import { need, needRoot } from '../prerequisites.js';
import { actionsBot } from '../github-fixture.js';
import { ensureLabRunner, type LabRunner } from '../../lib/platforms/lab/provider/runner.js';
import type { StackApply } from '../../lib/workflows/apply.js';
import { HOST_PID_ENV } from '../../lib/platforms/lab/programs/labStack.js';

const ROOT = process.cwd();
const CLUSTER = 'gt';

const GIT_ENV = { GIT_AUTHOR_NAME: 'native6 e2e', GIT_AUTHOR_EMAIL: 'e2e@native6.invalid', GIT_COMMITTER_NAME: 'native6 e2e', GIT_COMMITTER_EMAIL: 'e2e@native6.invalid' };
const git = (cwd: string, ...args: string[]) => execFileSync('git', ['-c', 'safe.directory=*', ...args], { cwd, encoding: 'utf8', env: { ...process.env, ...GIT_ENV }, stdio: ['ignore', 'pipe', 'pipe'] }).trim();

/**
 * Apply run in the lab's runner namespace (IPv4 only), as the workflow runs it on a GitHub-hosted
 * runner: a process of its own (test/lab/applyProgram.ts), its log printed; its results and log.
 */
async function applyFromRunner(runner: LabRunner, inputs: object, dir: string): Promise<{ results: StackApply[]; log: string }> {
  const [inFile, outFile] = [join(dir, 'apply-inputs.json'), join(dir, 'apply-results.json')];
  writeFileSync(inFile, JSON.stringify(inputs), { mode: 0o600 });
  rmSync(outFile, { force: true });
  let log = '';
  const code = await new Promise<number | null>((resolve, reject) => {
    // The lab's Pulumi provider is the provider's side: told where the host is (this process), it does
    // the lab's work in its namespaces, as Equinix Metal's API does its own elsewhere.
    const env = { ...process.env, [HOST_PID_ENV]: String(process.pid) };
    const child = spawn('ip', ['netns', 'exec', runner.ns, process.execPath, '--import', 'tsx', join(ROOT, 'test/lab/applyProgram.ts'), inFile, outFile], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const take = (chunk: Buffer) => {
      const text = chunk.toString();
      log += text;
      for (const line of text.split('\n').filter(Boolean)) console.log(`# [runner] ${line}`);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('error', reject);
    child.on('close', resolve);
  });
  rmSync(inFile, { force: true });
  assert.equal(code, 0, `apply from the runner namespace failed:\n${log.split('\n').slice(-30).join('\n')}`);
  return { results: JSON.parse(readFileSync(outFile, 'utf8')) as StackApply[], log };
}

function spec(workers: number): string {
  return [
    'apiVersion: native6.dev/v1alpha1',
    'kind: Cluster',
    'metadata:',
    `  name: ${CLUSTER}`,
    'spec:',
    '  platform: lab',
    '  kubernetesVersion: v1.35.4',
    '  controlPlane:',
    '    count: 1',
    '  workers:',
    '    - name: w',
    `      count: ${workers}`,
    '  network:',
    '    block: 2001:db8:4400::/56',
    '    externalIPRangeSize: 120',
    '',
  ].join('\n');
}

test('GitOps loop: plan on a PR that adds a worker, apply, Flux, a no-op apply, teardown', { timeout: 1_200_000 }, async () => {
  needRoot();
  need(pulumiBinary(join(ROOT, '.cache')), 'npm run setup -- bin:pulumi');
  need(join(ROOT, '.cache/bin/kustomize-controller'), 'npm run setup -- bin:flux-kustomize');
  need(join(ROOT, '.cache/bin/source-controller'), 'npm run setup -- bin:flux-source');
  const work = mkdtempSync(join(tmpdir(), 'n6-e2e-'));
  const checkout = join(work, 'checkout');
  const log = createLineLog((l) => console.log(`# ${l}`));
  // The state in a folder this machine keeps, as on a self-hosted runner (a GitHub-hosted one would be refused:
  // lib/pulumi/backend.ts), whatever environment the test itself runs in.
  const pulumi = { backendUrl: `file://${join(work, 'state')}`, passphrase: 'e2e-passphrase', metalAuthToken: '', workDir: join(work, 'pulumi-work'), pulumiHome: join(work, 'pulumi-home'), env: { GITHUB_ACTIONS: 'true', RUNNER_ENVIRONMENT: 'self-hosted' } };
  const comments = new Map<number, string>();
  const github = setupServer(
    http.get('https://api.github.com/repos/acme/native6/issues/1/comments', () =>
      HttpResponse.json([...comments].map(([id, body]) => ({ id, node_id: `IC_${id}`, body, html_url: `https://github.com/acme/native6/pull/1#issuecomment-${id}`, user: actionsBot, created_at: '2026-11-24T00:00:00Z', updated_at: '2026-11-24T00:00:00Z', author_association: 'NONE' }))),
    ),
    http.post('https://api.github.com/repos/acme/native6/issues/1/comments', async ({ request }) => {
      const { body } = (await request.json()) as { body: string };
      const id = 5000 + comments.size;
      comments.set(id, body);
      return HttpResponse.json({ id, body, html_url: `https://github.com/acme/native6/pull/1#issuecomment-${id}` }, { status: 201 });
    }),
    http.patch('https://api.github.com/repos/acme/native6/issues/comments/:id', async ({ request, params }) => {
      const { body } = (await request.json()) as { body: string };
      comments.set(Number(params.id), body);
      return HttpResponse.json({ id: Number(params.id), body, html_url: '' });
    }),
  );
  // GitHub is faked; anything else unhandled is an error, but for the lab's Kubernetes API servers apply talks to (IPv6 literals).
  github.listen({ onUnhandledRequest: (request, print) => (new URL(request.url).hostname.startsWith('[') ? undefined : print.error()) });
  let failed = false;
  try {
    // The checkout: this repository's files plus the cluster, rendered; its "GitHub" (origin) is
    // the bare repository the lab's git server serves to Flux.
    mkdirSync(checkout);
    for (const f of git(ROOT, 'ls-files', '-co', '--exclude-standard').split('\n').filter(Boolean)) {
      if (!existsSync(join(ROOT, f))) continue;
      mkdirSync(dirname(join(checkout, f)), { recursive: true });
      cpSync(join(ROOT, f), join(checkout, f));
    }
    symlinkSync(join(ROOT, 'node_modules'), join(checkout, 'node_modules'));
    symlinkSync(join(ROOT, '.cache'), join(checkout, '.cache'));
    writeFileSync(join(checkout, `infra/${CLUSTER}.yaml`), spec(1));
    const all = loadAll(checkout);
    assert.deepEqual(all.problems, []);
    writeTree(checkout, renderAll(all.clusters, pinnedInputs(join(checkout, '.cache'))), ownedDirs(all.clusters));
    git(checkout, 'init', '--quiet', '--initial-branch=main');
    git(checkout, 'add', '-A', '--', ':!node_modules', ':!.cache');
    git(checkout, 'commit', '--quiet', '-m', 'a lab cluster gt');
    const first = loadSpecFile(checkout, `infra/${CLUSTER}.yaml`).cluster!;
    const origin = labGitServer(createLabContext(checkout, first)).repository;
    ensureBareRepository(origin);
    git(checkout, 'remote', 'add', 'origin', origin);
    git(checkout, 'push', '--quiet', 'origin', 'main');

    const applyInputs = { ...pulumi, repoRoot: checkout, specs: [`infra/${CLUSTER}.yaml`], remote: 'origin', branch: 'main', fluxTimeoutMs: 300_000 };

    // 1. The first apply: the lab comes up through Pulumi, Flux is bootstrapped and reconciles.
    let t = Date.now();
    const [a1] = await applyAction(applyInputs, log);
    console.log(`# apply 1: ${((Date.now() - t) / 1000).toFixed(1)} s, ${JSON.stringify(a1!.resources)}, flux ${a1!.flux}, commit ${a1!.commit ?? 'none'}`);
    assert.equal(a1!.flux, 'installed');
    assert.equal(a1!.resources.create, 2, 'the lab resource and its provider');
    assert.equal(a1!.commit, undefined, 'the tree was rendered already: nothing to commit');

    // 2. A pull request adds a worker: its plan comment.
    git(checkout, 'checkout', '--quiet', '-b', 'add-worker');
    writeFileSync(join(checkout, `infra/${CLUSTER}.yaml`), spec(2));
    git(checkout, 'commit', '--quiet', '-am', 'gt: a second worker');
    t = Date.now();
    const plan = await planAction({ ...pulumi, repoRoot: checkout, specs: [`infra/${CLUSTER}.yaml`], baseRef: 'main', commitSha: git(checkout, 'rev-parse', 'HEAD'), pullRequest: { owner: 'acme', repo: 'native6', number: 1 } }, log, createOctokit('e2e-token', { log, fetch }));
    console.log(`# plan: ${((Date.now() - t) / 1000).toFixed(1)} s`);
    assert.equal(plan.ok, true);
    const change = plan.stacks[0]!.changes.find((c) => c.name === CLUSTER);
    assert.equal(change?.op, 'update', JSON.stringify(plan.stacks[0]!.changes));
    assert.ok(change?.diffs?.includes('machines'), JSON.stringify(change));
    assert.equal(comments.size, 1);
    const body = [...comments.values()][0]!;
    assert.ok(body.startsWith(`<!-- native6:plan stack=${CLUSTER} -->`));
    assert.match(body, /gt-w-2/);
    assert.match(body, /```mermaid[\s\S]*gt-w-2[\s\S]*class [^\n]*added/);

    // The cluster's join token expires (the token cleaner deletes an expired token's Secret): the new
    // worker's bootstrap finds no token, and joins once a control plane's timer has made it again
    // (the lab platform gives apply no token to renew: the cluster keeps its own).
    const firstCtx = createLabContext(checkout, first);
    const tokenSecret = `/api/v1/namespaces/kube-system/secrets/bootstrap-token-${ensureClusterSecrets(firstCtx.paths).bootstrapToken.split('.')[0]}`;
    await labAdminClient(firstCtx).request('DELETE', tokenSecret);
    const expiredAt = Date.now();

    // 3. Merge, apply from a runner with IPv4 only (a GitHub-hosted runner): Pulumi updates the lab,
    // apply reaches the API through the control plane's IPv4, the tree is committed, Flux reconciles it.
    git(checkout, 'checkout', '--quiet', 'main');
    git(checkout, 'merge', '--quiet', '--ff-only', 'add-worker');
    git(checkout, 'push', '--quiet', 'origin', 'main');
    const runner = await ensureLabRunner(createRunner(), firstCtx.topology);
    assert.equal((await createRunner().run('ip', ['-6', 'addr', 'show'], { ns: runner.ns })).stdout.trim(), '', 'the runner has no IPv6 address');
    t = Date.now();
    const fromRunner = await applyFromRunner(runner, applyInputs, work);
    const [a2] = fromRunner.results;
    const cp1 = firstCtx.topology.machines[0]!;
    assert.ok(fromRunner.log.includes(`API server v1.35.4 answers through ${cp1.machine.name} over IPv4 (${cp1.ipv4.address})`), 'apply reached the API through the control plane\'s IPv4');
    console.log(`# apply 2: ${((Date.now() - t) / 1000).toFixed(1)} s, ${JSON.stringify(a2!.resources)}, commit ${a2!.commit?.slice(0, 12)} (${a2!.files.length} files)`);
    assert.equal(a2!.resources.update, 1);
    assert.ok(a2!.commit, 'the rendered tree changed with the new worker');
    assert.ok(a2!.files.some((f) => f.startsWith(`clusters/${CLUSTER}/`)), a2!.files.join(', '));
    assert.equal(git(origin, 'rev-parse', 'main'), a2!.commit);
    assert.equal(a2!.flux, 'present');

    const cluster = loadSpecFile(checkout, `infra/${CLUSTER}.yaml`).cluster!;
    const ctx = createLabContext(checkout, cluster);
    const admin = labAdminClient(ctx);
    // gt-w-2 joined (below: its pod block, a pod on it) with the token the cluster made again, valid for a day.
    const renewed = await admin.get<{ metadata: { creationTimestamp: string }; data: { expiration: string } }>(tokenSecret);
    const expiration = Date.parse(Buffer.from(renewed.data.expiration, 'base64').toString());
    assert.ok(Date.parse(renewed.metadata.creationTimestamp) >= Math.floor(expiredAt / 1000) * 1000, 'the token Secret was made again after it expired');
    assert.ok(expiration > Date.now() + 23 * 3600_000, `the renewed token is valid for about a day (until ${new Date(expiration).toISOString()})`);
    console.log(`# gt-w-2 joined after the join token expired: made again by a control plane's timer, valid until ${new Date(expiration).toISOString()}`);
    const w2 = ctx.topology.machines.find((m) => m.machine.name === 'gt-w-2')!;
    // The new node's pod block, on both routers, via the new node.
    const affinities = await admin.get<{ items: Array<{ spec: { node: string; cidr: string; state: string } }> }>('/apis/crd.projectcalico.org/v1/blockaffinities');
    const block = affinities.items.find((a) => a.spec.node === 'gt-w-2' && a.spec.state === 'confirmed');
    assert.ok(block, 'gt-w-2 claimed a pod block');
    const cidr = formatPrefix(parsePrefix(block.spec.cidr));
    for (const r of ctx.topology.routers) {
      let hops: string[] = [];
      for (let i = 0; i < 30 && hops.length === 0; i++) {
        hops = nextHops((await kernelRoutes(ctx.runner, r.ns)).find((x) => x.dst === cidr));
        if (hops.length === 0) await new Promise((res) => setTimeout(res, 1000));
      }
      assert.deepEqual(hops, [w2.address], `${r.ns}: ${cidr} via gt-w-2`);
    }
    // A pod on the new node answers from the internet namespace.
    const podPath = '/api/v1/namespaces/echo/pods/e2e-on-gt-w-2';
    await admin.request('POST', '/api/v1/namespaces/echo/pods', {
      apiVersion: 'v1',
      kind: 'Pod',
      // The app's labels: only its pods are let in from the internet (the app's NetworkPolicy).
      metadata: { name: 'e2e-on-gt-w-2', namespace: 'echo', labels: { app: 'echo', 'native6.dev/public': 'true' } },
      spec: {
        nodeName: 'gt-w-2',
        automountServiceAccountToken: false,
        securityContext: { runAsNonRoot: true, runAsUser: 65534, seccompProfile: { type: 'RuntimeDefault' } },
        containers: [
          {
            name: 'echo',
            image: 'registry.k8s.io/e2e-test-images/agnhost:2.53',
            args: ['netexec', '--http-port=8080'],
            ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
            securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
          },
        ],
      },
    });
    let podIP = '';
    for (let i = 0; i < 60 && !podIP; i++) {
      const pod = await admin.get<{ status?: { podIP?: string; phase?: string } }>(podPath);
      if (pod.status?.phase === 'Running' && pod.status.podIP) podIP = pod.status.podIP;
      else await new Promise((res) => setTimeout(res, 1000));
    }
    assert.ok(podIP, 'the pod on gt-w-2 runs');
    assert.ok(containsAddress(parsePrefix(cidr), parseAddress(podIP)), `${podIP} is in gt-w-2's block ${cidr}`);
    const answer = await probeFrom(ctx, ctx.topology.internet.ns, { url: `http://[${podIP}]:8080/hostname`, need: 3, timeoutS: 30 });
    if (!answer.ok) {
      // What the node saw: its BGP agent's last lines (policy), its policy table, its routes, the pod's log.
      const tail = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8').split('\n').slice(-15).join('\n') : `(no ${f})`);
      const nft = await ctx.runner.run('nft', ['list', 'table', 'ip6', 'n6-felix-policy'], { ns: w2.ns, allowFail: true });
      const routes = await ctx.runner.run('ip', ['-6', 'route'], { ns: w2.ns, allowFail: true });
      console.log(`# diagnostics\n${tail(join(ctx.paths.logs, 'gt-w-2.calico-node.bgp-agent.log'))}\n${nft.stdout || nft.stderr}\n${routes.stdout}\n${tail(join(ctx.paths.logs, 'gt-w-2.echo.e2e-on-gt-w-2.log'))}`);
    }
    assert.ok(answer.ok, `the pod on gt-w-2 from the internet: ${JSON.stringify(answer)}`);
    console.log(`# gt-w-2: block ${cidr} on both routers; pod ${podIP} answered from the internet (${answer.successes}/${answer.attempts})`);
    await admin.request('DELETE', podPath);

    // 4. A second apply of the same spec, from the runner too: no Pulumi change, no commit.
    t = Date.now();
    const [a3] = (await applyFromRunner(runner, applyInputs, work)).results;
    console.log(`# apply 3: ${((Date.now() - t) / 1000).toFixed(1)} s, ${JSON.stringify(a3!.resources)}`);
    assert.equal(a3!.pulumiUnchanged, true, JSON.stringify(a3!.resources));
    assert.equal(a3!.commit, undefined);
    assert.equal(git(origin, 'rev-parse', 'main'), a2!.commit);

    // 5. Teardown: guarded; then nothing of the cluster is left, on the machine or in the branch.
    await assert.rejects(teardownAction({ ...pulumi, repoRoot: checkout, stack: CLUSTER, confirm: 'g', remote: 'origin', branch: 'main' }, log), /type the stack name exactly/);
    t = Date.now();
    const down = await teardownAction({ ...pulumi, repoRoot: checkout, stack: CLUSTER, confirm: CLUSTER, remote: 'origin', branch: 'main' }, log);
    console.log(`# teardown: ${((Date.now() - t) / 1000).toFixed(1)} s, ${JSON.stringify(down.destroyed)}`);
    assert.equal(down.destroyed.delete, 2);
    assert.deepEqual(await listNamespaces(createRunner(), `n6-${CLUSTER}`), []);
    assert.equal(git(origin, 'ls-tree', '--name-only', 'main', `clusters/${CLUSTER}`), '');
    assert.equal(git(origin, 'ls-tree', '--name-only', 'main', `infra/${CLUSTER}.yaml`), '');
    assert.ok(git(origin, 'ls-tree', '--name-only', 'main', 'infra/lab.yaml'), 'the other clusters stay');
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    github.close();
    // N6_KEEP_FAILED_LAB=1 leaves a failed run's lab and folder for inspection (npm run lab -- down cleans up).
    if (!(failed && process.env.N6_KEEP_FAILED_LAB === '1')) {
      await labDown(createRunner(), checkout, CLUSTER).catch(() => []);
      rmSync(work, { recursive: true, force: true });
    } else console.log(`# kept: ${work}`);
  }
});

// The spec helper must stay valid for both sizes.
test('GitOps loop: the e2e specs load', () => {
  const dir = mkdtempSync(join(tmpdir(), 'n6-e2e-spec-'));
  try {
    mkdirSync(join(dir, 'infra'));
    for (const n of [1, 2]) {
      writeFileSync(join(dir, `infra/${CLUSTER}.yaml`), spec(n));
      const { cluster, problems } = loadSpecFile(dir, `infra/${CLUSTER}.yaml`);
      assert.deepEqual(problems, []);
      assert.equal(cluster!.plan.machines.length, 1 + n);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
