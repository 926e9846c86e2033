/**
 * Teardown refuses unless its environment makes someone approve (#15, H2):
 * requireReviewers and checkTeardownEnvironment against a fake GitHub (msw)
 * answering GET /repos/{owner}/{repo}/environments/teardown with the
 * schema-true environments of test/fixtures/github/environments.ts; and
 * refuses while a run of apply.yml is not finished (M4), against
 * test/fixtures/github/workflowRuns.ts.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, test } from 'node:test';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { createOctokit, EnvironmentUnprotected, requireReviewers } from '../../lib/workflows/github.js';
import { createLineLog } from '../../lib/workflows/log.js';
import { checkTeardownEnvironment, refuseWhileApplying, TeardownRefused } from '../../lib/workflows/teardown.js';
import { API, pr } from '../github-fixture.js';
import { emptyReviewersTeardown, notFound, protectedTeardown, reviewersRule, reviewerUser, unreviewedTeardown, type Environment } from '../fixtures/github/environments.js';
import { applyRun, runsPage } from '../fixtures/github/workflowRuns.js';

const repo = { owner: pr.owner, repo: pr.repo };
const ENV = `${API}/repos/:owner/:repo/environments/:name`;
let seen: string[] = [];
const server = setupServer();
server.events.on('request:start', ({ request }) => {
  seen.push(`${request.method} ${new URL(request.url).pathname}`);
});
before(() => server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => {
  server.resetHandlers();
  seen = [];
});
after(() => server.close());

function client(lines: string[] = []) {
  return createOctokit('test-token', { log: createLineLog((l) => lines.push(l)), fetch, secondMs: 1 });
}

function serve(env: Environment) {
  server.use(http.get(ENV, ({ params }) => (params.name === env.name ? HttpResponse.json(env) : HttpResponse.json(notFound, { status: 404 }))));
}

const FIX = /Fix: .*Settings > Environments > teardown: under Deployment protection rules tick "Required reviewers", add at least one person or team .* tick "Prevent self-review"/;

test('a protected teardown environment passes: its reviewers, prevent self-review, limited branches', async () => {
  serve(protectedTeardown);
  const lines: string[] = [];
  const r = await checkTeardownEnvironment(client(), repo, createLineLog((l) => lines.push(l)));
  assert.deepEqual(r, { reviewers: ['octocat', 'team operators'], preventSelfReview: true, branches: 'selected branches' });
  assert.deepEqual(seen, ['GET /repos/acme/native6/environments/teardown']);
  assert.deepEqual(lines, ['environment teardown: required reviewers octocat, team operators; prevent self-review on; deployment branches: selected branches']);
});

test('no required_reviewers rule (a wait timer and a branch policy only): refused, saying what to configure', async () => {
  serve(unreviewedTeardown);
  await assert.rejects(requireReviewers(client(), repo, 'teardown'), (e: unknown) => {
    assert.ok(e instanceof EnvironmentUnprotected);
    assert.match(e.message, /^the environment "teardown" of acme\/native6 has no required reviewers: a run would start with its secrets at once, with nobody approving\. /);
    assert.match(e.message, FIX);
    return true;
  });
});

test('a reviewer rule that names nobody: refused as well', async () => {
  serve(emptyReviewersTeardown);
  await assert.rejects(checkTeardownEnvironment(client(), repo, createLineLog(() => {})), (e: unknown) => e instanceof EnvironmentUnprotected && /has no required reviewers \(its rule names nobody\)/.test(e.message) && FIX.test(e.message));
});

test('no such environment (GitHub would make it unprotected at first use): refused, saying to create it', async () => {
  serve(protectedTeardown);
  await assert.rejects(requireReviewers(client(), repo, 'destroy'), (e: unknown) => {
    assert.ok(e instanceof EnvironmentUnprotected);
    assert.match(e.message, /^the environment "destroy" does not exist in acme\/native6: GitHub would create it at its first use with no protection, and nobody would approve\. Fix: create it: Settings > Environments > destroy/);
    return true;
  });
});

test('reviewers but self-review allowed and any branch: passes, with a warning for each', async () => {
  serve({ ...emptyReviewersTeardown, protection_rules: [reviewersRule([{ type: 'User', reviewer: reviewerUser }], false)] });
  const lines: string[] = [];
  const r = await checkTeardownEnvironment(client(), repo, createLineLog((l) => lines.push(l)));
  assert.deepEqual(r, { reviewers: ['octocat'], preventSelfReview: false, branches: 'any branch' });
  assert.equal(lines.length, 3);
  assert.match(lines[1]!, /^warning: environment teardown: "Prevent self-review" is off, so whoever starts a teardown may approve it alone\. Fix: /);
  assert.match(lines[2]!, /^warning: environment teardown: every branch may deploy to it\. Fix: .*limit Deployment branches to main$/);
});

test('a token without actions: read is told so', async () => {
  server.use(http.get(ENV, () => HttpResponse.json({ message: 'Resource not accessible by integration', documentation_url: 'https://docs.github.com/rest/deployments/environments#get-an-environment', status: '403' }, { status: 403 })));
  await assert.rejects(requireReviewers(client(), repo, 'teardown'), /reading the environment "teardown" of acme\/native6 failed with HTTP 403: .*Resource not accessible by integration.* \(the job needs `permissions: actions: read`\)/);
});

test('teardown refuses while a run of apply.yml is queued or running, naming each (M4)', async () => {
  const RUNS = `${API}/repos/:owner/:repo/actions/workflows/:file/runs`;
  let runs = [applyRun(7, 'completed', 'success'), applyRun(9, 'in_progress', null), applyRun(8, 'queued', null), applyRun(6, 'completed', 'cancelled')];
  server.use(http.get(RUNS, ({ params }) => (params.file === 'apply.yml' ? HttpResponse.json(runsPage(runs)) : HttpResponse.json(notFound, { status: 404 }))));
  await assert.rejects(refuseWhileApplying(client(), repo, 'lab'), (e: unknown) => {
    assert.ok(e instanceof TeardownRefused);
    assert.equal(
      e.message,
      'teardown of lab refused: 2 run(s) of apply.yml not finished (queued https://github.com/acme/native6/actions/runs/8, in_progress https://github.com/acme/native6/actions/runs/9); a destroy beside an apply would race it. Wait until they finish (or cancel them), then run teardown again',
    );
    return true;
  });
  assert.deepEqual(seen, ['GET /repos/acme/native6/actions/workflows/apply.yml/runs']);
  runs = [applyRun(7, 'completed', 'success'), applyRun(6, 'completed', 'cancelled')];
  await refuseWhileApplying(client(), repo, 'lab');
});
