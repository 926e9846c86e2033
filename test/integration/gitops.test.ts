/**
 * The GitOps loop's edges against real components: real git (a bare
 * "origin" and clones), the real Pulumi CLI on a local file backend with the
 * passphrase provider (a preview of the lab stack), GitHub faked with msw.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { openStack, previewStack } from '../../lib/pulumi/stack.js';
import { changedFiles, commitAndPush } from '../../lib/repo/git.js';
import { createOctokit } from '../../lib/workflows/github.js';
import { createLineLog } from '../../lib/workflows/log.js';
import { runPlan } from '../../lib/workflows/plan.js';
import { runApply } from '../../lib/workflows/apply.js';
import { generateKey, selfSignedCA } from '../../lib/pki/x509.js';
import { runTeardown, TeardownRefused } from '../../lib/workflows/teardown.js';
import { pulumiBinary } from '../../lib/toolchain/pulumi.js';
import { REPO_DIR } from '../../lib/toolchain/repo.js';
import { need } from '../prerequisites.js';
import { actionsBot } from '../github-fixture.js';

const root = REPO_DIR;
const sh = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
const GIT_ENV = { GIT_AUTHOR_NAME: 'native6 test', GIT_AUTHOR_EMAIL: 'test@native6.invalid', GIT_COMMITTER_NAME: 'native6 test', GIT_COMMITTER_EMAIL: 'test@native6.invalid' };
Object.assign(process.env, GIT_ENV);

/** A bare origin with one commit holding `files`, and a clone of it. */
function repos(files: Record<string, string>): { dir: string; origin: string; clone: string } {
  const dir = mkdtempSync(join(tmpdir(), 'n6-git-'));
  const origin = join(dir, 'origin.git');
  const seed = join(dir, 'seed');
  sh(dir, 'init', '--quiet', '--bare', '--initial-branch=main', origin);
  sh(dir, 'init', '--quiet', '--initial-branch=main', seed);
  for (const [f, text] of Object.entries(files)) {
    execFileSync('mkdir', ['-p', join(seed, f, '..')]);
    writeFileSync(join(seed, f), text);
  }
  sh(seed, 'add', '-A');
  sh(seed, 'commit', '--quiet', '-m', 'seed');
  sh(seed, 'push', '--quiet', origin, 'main');
  const clone = join(dir, 'clone');
  sh(dir, 'clone', '--quiet', origin, clone);
  return { dir, origin, clone };
}

describe('git: commit and push what apply rendered', () => {
  it('commits nothing when nothing changed', async () => {
    const r = repos({ 'clusters/lab/a.yaml': 'a: 1\n' });
    try {
      const out = await commitAndPush({ cwd: r.clone, paths: ['clusters'], message: 'm', remote: 'origin', branch: 'main' });
      assert.equal(out.commit, undefined);
      assert.equal(sh(r.origin, 'rev-list', '--count', 'main'), '1');
    } finally {
      rmSync(r.dir, { recursive: true, force: true });
    }
  });

  it('lists both sides of a staged rename, with their names whole', async () => {
    const r = repos({ 'clusters/lab/old.yaml': 'x: 1\n', 'clusters/lab/keep.yaml': 'k: 1\n' });
    try {
      sh(r.clone, 'mv', 'clusters/lab/old.yaml', 'clusters/lab/new.yaml');
      writeFileSync(join(r.clone, 'clusters/lab/keep.yaml'), 'k: 2\n');
      assert.deepEqual(await changedFiles(r.clone, ['clusters']), ['clusters/lab/keep.yaml', 'clusters/lab/new.yaml', 'clusters/lab/old.yaml']);
      const out = await commitAndPush({ cwd: r.clone, paths: ['clusters'], message: 'rename', remote: 'origin', branch: 'main' });
      assert.deepEqual(out.files, ['clusters/lab/keep.yaml', 'clusters/lab/new.yaml', 'clusters/lab/old.yaml']);
      assert.equal(sh(r.origin, 'ls-tree', '-r', '--name-only', 'main'), 'clusters/lab/keep.yaml\nclusters/lab/new.yaml');
    } finally {
      rmSync(r.dir, { recursive: true, force: true });
    }
  });

  it('commits only the given paths (deletions too) and pushes', async () => {
    const r = repos({ 'clusters/lab/a.yaml': 'a: 1\n', 'clusters/lab/old.yaml': 'x\n', 'README.md': 'r\n' });
    try {
      writeFileSync(join(r.clone, 'clusters/lab/a.yaml'), 'a: 2\n');
      rmSync(join(r.clone, 'clusters/lab/old.yaml'));
      writeFileSync(join(r.clone, 'clusters/lab/new.yaml'), 'n\n');
      writeFileSync(join(r.clone, 'README.md'), 'changed but not ours\n');
      const out = await commitAndPush({ cwd: r.clone, paths: ['clusters'], message: 'apply lab', remote: 'origin', branch: 'main' });
      assert.deepEqual(out.files, ['clusters/lab/a.yaml', 'clusters/lab/new.yaml', 'clusters/lab/old.yaml']);
      assert.equal(out.pushes, 1);
      assert.equal(sh(r.origin, 'rev-parse', 'main'), out.commit);
      assert.deepEqual(sh(r.origin, 'show', '--name-only', '--format=', 'main').split('\n').sort(), ['clusters/lab/a.yaml', 'clusters/lab/new.yaml', 'clusters/lab/old.yaml']);
      assert.equal(sh(r.clone, 'status', '--porcelain', '--', 'README.md'), 'M README.md');
    } finally {
      rmSync(r.dir, { recursive: true, force: true });
    }
  });

  it('rebases onto the branch when it moved meanwhile, and pushes on the second try', async () => {
    const r = repos({ 'clusters/lab/a.yaml': 'a: 1\n', 'infra/lab.yaml': 'x: 1\n' });
    try {
      // Someone else pushes first.
      const other = join(r.dir, 'other');
      sh(r.dir, 'clone', '--quiet', r.origin, other);
      writeFileSync(join(other, 'infra/lab.yaml'), 'x: 2\n');
      sh(other, 'commit', '--quiet', '-am', 'someone else');
      sh(other, 'push', '--quiet', 'origin', 'main');
      writeFileSync(join(r.clone, 'clusters/lab/a.yaml'), 'a: 2\n');
      const lines: string[] = [];
      const out = await commitAndPush({ cwd: r.clone, paths: ['clusters'], message: 'apply lab', remote: 'origin', branch: 'main', log: (l) => lines.push(l), sleep: async () => {} });
      assert.equal(out.pushes, 2);
      assert.equal(sh(r.origin, 'rev-list', '--count', 'main'), '3');
      assert.equal(sh(r.origin, 'show', 'main:infra/lab.yaml'), 'x: 2');
      assert.equal(sh(r.origin, 'show', 'main:clusters/lab/a.yaml'), 'a: 2');
      assert.ok(lines.some((l) => /attempt 1\/4 failed/.test(l)), lines.join('\n'));
    } finally {
      rmSync(r.dir, { recursive: true, force: true });
    }
  });
});

describe('teardown: guarded, then the cluster leaves the branch', () => {
  it('refuses when the confirmation does not match, and destroys nothing', async () => {
    let destroyed = 0;
    await assert.rejects(
      runTeardown({ repoRoot: '/nonexistent', stack: 'dfw', confirm: 'dfw ', remote: 'origin', branch: 'main' }, { log: createLineLog(() => {}), destroy: async () => ((destroyed += 1), {}) }),
      (e: unknown) => e instanceof TeardownRefused && /type the stack name exactly/.test((e as Error).message),
    );
    assert.equal(destroyed, 0);
  });

  it('destroys, then removes clusters/<name>/ and infra/<name>.yaml in one pushed commit', async () => {
    const r = repos({ 'clusters/dfw/a.yaml': 'a\n', 'infra/dfw.yaml': 'spec\n', 'infra/lab.yaml': 'spec\n', 'clusters/lab/a.yaml': 'b\n' });
    try {
      const order: string[] = [];
      const out = await runTeardown(
        { repoRoot: r.clone, stack: 'dfw', confirm: 'dfw', remote: 'origin', branch: 'main' },
        { log: createLineLog(() => {}), destroy: async (s) => (order.push(`destroy ${s}`), { delete: 9 }) },
      );
      assert.deepEqual(order, ['destroy dfw']);
      assert.deepEqual(out.destroyed, { delete: 9 });
      assert.equal(sh(r.origin, 'rev-parse', 'main'), out.commit);
      const tree = sh(r.origin, 'ls-tree', '-r', '--name-only', 'main').split('\n');
      assert.deepEqual(tree.sort(), ['clusters/lab/a.yaml', 'infra/lab.yaml']);
    } finally {
      rmSync(r.dir, { recursive: true, force: true });
    }
  });
});

describe('plan: a real Pulumi preview of the lab stack, one PR comment edited in place', () => {
  before(() => need(pulumiBinary(join(root, '.cache')), 'npm run setup -- bin:pulumi'));
  const comments = new Map<number, { id: number; body: string }>();
  let nextId = 1000;
  const requests: string[] = [];
  const server = setupServer(
    http.get('https://api.github.com/repos/acme/native6/issues/12/comments', ({ request }) => {
      requests.push(`GET ${new URL(request.url).search}`);
      return HttpResponse.json(
        [...comments.values()].map((c) => ({
          id: c.id,
          node_id: `IC_${c.id}`,
          url: `https://api.github.com/repos/acme/native6/issues/comments/${c.id}`,
          html_url: `https://github.com/acme/native6/pull/12#issuecomment-${c.id}`,
          issue_url: 'https://api.github.com/repos/acme/native6/issues/12',
          body: c.body,
          // The comments this fake holds are the plan's, posted with the workflow's token: GitHub names it their author.
          user: actionsBot,
          created_at: '2026-11-24T00:00:00Z',
          updated_at: '2026-11-24T00:00:00Z',
          author_association: 'NONE',
        })),
      );
    }),
    http.post('https://api.github.com/repos/acme/native6/issues/12/comments', async ({ request }) => {
      const { body } = (await request.json()) as { body: string };
      const id = nextId++;
      comments.set(id, { id, body });
      requests.push(`POST ${id}`);
      return HttpResponse.json({ id, body, html_url: `https://github.com/acme/native6/pull/12#issuecomment-${id}` }, { status: 201 });
    }),
    http.patch('https://api.github.com/repos/acme/native6/issues/comments/:id', async ({ request, params }) => {
      const { body } = (await request.json()) as { body: string };
      const id = Number(params.id);
      comments.set(id, { id, body });
      requests.push(`PATCH ${id}`);
      return HttpResponse.json({ id, body, html_url: `https://github.com/acme/native6/pull/12#issuecomment-${id}` });
    }),
  );
  let work = '';
  before(() => {
    // GitHub is faked; anything else unhandled is an error, but for the Kubernetes API servers apply talks to (IPv6 literals).
    server.listen({ onUnhandledRequest: (request, print) => (new URL(request.url).hostname.startsWith('[') ? undefined : print.error()) });
    work = mkdtempSync(join(tmpdir(), 'n6-plan-'));
    // The repository as a PR checkout: base commit, then the PR's commit adding a worker.
    const repo = join(work, 'repo');
    for (const d of ['infra', 'lib', 'scripts', 'package.json', 'tsconfig.json']) cpSync(join(root, d), join(repo, d), { recursive: true });
    execFileSync('ln', ['-s', join(root, 'node_modules'), join(repo, 'node_modules')]);
    execFileSync('ln', ['-s', join(root, '.cache'), join(repo, '.cache')]);
    sh(repo, 'init', '--quiet', '--initial-branch=main');
    sh(repo, 'add', 'infra');
    sh(repo, 'commit', '--quiet', '-m', 'base');
    const spec = readFileSync(join(repo, 'infra/lab.yaml'), 'utf8').replace(/count: 2\n/, 'count: 3\n');
    assert.match(spec, /count: 3/);
    writeFileSync(join(repo, 'infra/lab.yaml'), spec);
    sh(repo, 'commit', '--quiet', '-am', 'add a worker');
  });
  after(() => {
    server.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('previews with the real CLI and posts one comment, then edits it in place', async () => {
    const repo = join(work, 'repo');
    const backend = `file://${join(work, 'state')}`;
    const preview = async (specFile: string, stack: string) =>
      previewStack(await openStack({ repoRoot: repo, specFile, stackName: stack, backendUrl: backend, passphrase: 'integration', pulumiHome: join(work, 'home'), workDir: join(work, 'ws') }));
    const lines: string[] = [];
    const log = createLineLog((l) => lines.push(l));
    const octokit = createOctokit('test-token', { log, fetch });
    const inputs = { repoRoot: repo, specs: ['infra/lab.yaml'], baseRef: 'HEAD~1', commitSha: sh(repo, 'rev-parse', 'HEAD'), pullRequest: { owner: 'acme', repo: 'native6', number: 12 } };
    const first = await runPlan(inputs, { log, octokit, preview });
    assert.equal(first.ok, true, lines.join('\n'));
    const lab = first.stacks[0]!;
    assert.equal(lab.comment, 'created');
    // The engine's events: the lab resource and its provider, to be created.
    assert.ok(lab.changes.some((c) => c.op === 'create' && c.type === 'pulumi-nodejs:dynamic/native6-lab:Resource' && c.name === 'lab'), JSON.stringify(lab.changes));
    assert.equal(comments.size, 1);
    const body = [...comments.values()][0]!.body;
    assert.ok(body.startsWith('<!-- native6:plan stack=lab -->'));
    assert.match(body, /```mermaid/);
    assert.match(body, /lab-general-3/, 'the added worker is in the address plan diff');
    assert.match(body, /<details><summary>Pulumi preview output<\/summary>/);
    assert.equal(log.summaries.length, 1);

    const second = await runPlan(inputs, { log, octokit, preview });
    assert.equal(second.stacks[0]!.comment, 'unchanged');
    assert.equal(comments.size, 1, 'still one comment');
    assert.deepEqual(
      requests.filter((r) => !r.startsWith('GET')),
      [`POST 1000`],
    );
  });

  it('apply: an API server that never answers ends in a clear error after the bounded attempts, each logged, before any commit', async () => {
    const repo = join(work, 'repo');
    const lines: string[] = [];
    const waits: number[] = [];
    const key = generateKey();
    const now = new Date();
    const ca = Buffer.from(selfSignedCA({ key, commonName: 'kubernetes', notBefore: now, notAfter: new Date(now.getTime() + 86_400_000) })).toString('base64');
    // Port 9 (discard) on the loopback: nothing listens, every attempt is refused.
    const kubeconfig = [
      'apiVersion: v1',
      'kind: Config',
      `clusters: [{name: lab, cluster: {server: "https://[::1]:9", certificate-authority-data: "${ca}"}}]`,
      'users: [{name: admin, user: {token: "t"}}]',
      'contexts: [{name: lab, context: {cluster: lab, user: admin}}]',
      'current-context: lab',
      '',
    ].join('\n');
    const before = sh(repo, 'rev-parse', 'HEAD');
    await assert.rejects(
      runApply(
        { repoRoot: repo, specs: ['infra/lab.yaml'], remote: 'origin', branch: 'main', fluxTimeoutMs: 1000, apiAttempts: 3 },
        {
          log: createLineLog((l) => lines.push(l)),
          up: async () => ({ outputs: { cluster: 'lab', platform: 'lab', specFile: 'infra/lab.yaml', machines: [], facts: {} as never, kubeconfig }, summary: { same: 2 }, unchanged: true }),
          bootstrapFlux: async () => assert.fail('no Flux before the API answers'),
          waitFlux: async () => assert.fail('no wait before the API answers'),
          sleep: async (ms) => void waits.push(ms),
        },
      ),
      /the API server of lab: gave up after 3 attempts over [\d.]+s; last error: /,
    );
    assert.deepEqual(waits, [2000, 4000]);
    assert.equal(lines.filter((l) => /the API server of lab: attempt \d\/3 failed/.test(l)).length, 3, lines.join('\n'));
    assert.equal(sh(repo, 'rev-parse', 'HEAD'), before, 'nothing committed');
  });

  it('fails the check with annotations on the file and line for a bad spec, and still comments', async () => {
    const repo = join(work, 'repo');
    const bad = readFileSync(join(repo, 'infra/lab.yaml'), 'utf8').replace('localASN: 65000', 'localASN: banana');
    writeFileSync(join(repo, 'infra/lab.yaml'), bad);
    const errors: string[] = [];
    const log = createLineLog((l) => (l.startsWith('error:') ? errors.push(l) : undefined));
    const r = await runPlan(
      { repoRoot: repo, specs: ['infra/lab.yaml'], commitSha: 'abc1234', pullRequest: { owner: 'acme', repo: 'native6', number: 12 } },
      { log, octokit: createOctokit('t', { log, fetch }), preview: async () => assert.fail('a bad spec is not previewed') },
    );
    assert.equal(r.ok, false);
    assert.ok(errors.some((e) => /spec\.network\.localASN/.test(e) && /\(infra\/lab\.yaml:\d+\)$/.test(e)), errors.join('\n'));
    const body = [...comments.values()][0]!.body;
    assert.match(body, /localASN/);
  });
});
