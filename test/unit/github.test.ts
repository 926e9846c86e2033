/** The plan comment on GitHub (lib/workflows/github.ts), against a fake GitHub (msw): create, find on the last page, leave alone, errors. */
import assert from 'node:assert/strict';
import { after, afterEach, before, test } from 'node:test';
import type { components } from '@octokit/openapi-types';

import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { commentMarker } from '../../lib/workflows/comment.js';
import { createOctokit, GitHubCommentError, upsertComment } from '../../lib/workflows/github.js';

type IssueComment = components['schemas']['issue-comment'];
type User = NonNullable<components['schemas']['nullable-simple-user']>;

const API = 'https://api.github.com';
const pr = { owner: 'acme', repo: 'native6', number: 7 };
const marker = commentMarker('dfw');
const body = `${marker}\n## Plan for \`dfw\`: \`infra/dfw.yaml\` at \`0123456\`\n\nNo resource steps were reported.\n`;

function user(login: string, id: number, type: 'Bot' | 'User'): User {
  const url = `${API}/users/${encodeURIComponent(login)}`;
  return {
    login,
    id,
    node_id: `U_kgDO${id}`,
    avatar_url: `https://avatars.githubusercontent.com/u/${id}?v=4`,
    gravatar_id: '',
    url,
    html_url: `https://github.com/${login}`,
    followers_url: `${url}/followers`,
    following_url: `${url}/following{/other_user}`,
    gists_url: `${url}/gists{/gist_id}`,
    starred_url: `${url}/starred{/owner}{/repo}`,
    subscriptions_url: `${url}/subscriptions`,
    organizations_url: `${url}/orgs`,
    repos_url: `${url}/repos`,
    events_url: `${url}/events{/privacy}`,
    received_events_url: `${url}/received_events`,
    type,
    site_admin: false,
    user_view_type: 'public',
  };
}
const actionsBot = user('github-actions[bot]', 41898282, 'Bot');
const otherBot = user('pulumi[bot]', 30351955, 'Bot');
const human = user('octocat', 583231, 'User');

/** A comment as GitHub returns it; ids grow with time, as on GitHub. */
function issueComment(id: number, text: string, by: User = human): IssueComment {
  const created = new Date(Date.UTC(2025, 0, 1) + id * 60_000).toISOString().replace('.000', '');
  return {
    id,
    node_id: `IC_kwDOAbCdEf${id}`,
    url: `${API}/repos/${pr.owner}/${pr.repo}/issues/comments/${id}`,
    html_url: `https://github.com/${pr.owner}/${pr.repo}/pull/${pr.number}#issuecomment-${id}`,
    body: text,
    user: by,
    created_at: created,
    updated_at: created,
    issue_url: `${API}/repos/${pr.owner}/${pr.repo}/issues/${pr.number}`,
    author_association: by.type === 'Bot' ? 'NONE' : 'MEMBER',
    performed_via_github_app: null,
    reactions: {
      url: `${API}/repos/${pr.owner}/${pr.repo}/issues/comments/${id}/reactions`,
      total_count: 0,
      '+1': 0,
      '-1': 0,
      laugh: 0,
      confused: 0,
      heart: 0,
      hooray: 0,
      eyes: 0,
      rocket: 0,
    },
  };
}

const LIST = `${API}/repos/:owner/:repo/issues/:number/comments`;
const ONE = `${API}/repos/:owner/:repo/issues/comments/:id`;

/** Every request the fake GitHub saw: method, path and query. */
let seen: string[] = [];
const server = setupServer();
server.events.on('request:start', ({ request }) => {
  const u = new URL(request.url);
  seen.push(`${request.method} ${u.pathname}${u.search}`);
});

before(() => server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => {
  server.resetHandlers();
  seen = [];
});
after(() => server.close());

/** GET handler serving `all` 100 to a page, with GitHub's Link header. */
function listing(all: readonly IssueComment[]) {
  return http.get(LIST, ({ request, params }) => {
    assert.equal(`${String(params.owner)}/${String(params.repo)}#${String(params.number)}`, 'acme/native6#7');
    const u = new URL(request.url);
    const perPage = Number(u.searchParams.get('per_page') ?? 30);
    const page = Number(u.searchParams.get('page') ?? 1);
    const last = Math.max(1, Math.ceil(all.length / perPage));
    const link = (p: number, rel: string) => `<${API}/repos/acme/native6/issues/7/comments?per_page=${perPage}&page=${p}>; rel="${rel}"`;
    const links = [
      ...(page > 1 ? [link(page - 1, 'prev'), link(1, 'first')] : []),
      ...(page < last ? [link(page + 1, 'next'), link(last, 'last')] : []),
    ];
    return HttpResponse.json(all.slice((page - 1) * perPage, page * perPage), { headers: links.length ? { link: links.join(', ') } : {} });
  });
}

test('github: no comment yet: one is created with the exact body', async () => {
  let posted: unknown;
  server.use(
    listing([issueComment(101, 'LGTM, but run the plan', human), issueComment(102, 'Pulumi preview for dfw: 1 to create', otherBot)]),
    http.post(LIST, async ({ request }) => {
      posted = await request.json();
      assert.equal(request.headers.get('authorization'), 'token test-token');
      assert.match(request.headers.get('user-agent') ?? '', /^native6 /);
      return HttpResponse.json(issueComment(103, body, actionsBot), { status: 201 });
    }),
  );
  const result = await upsertComment(createOctokit('test-token'), pr, marker, body);
  assert.deepEqual(posted, { body });
  assert.deepEqual(result, { id: 103, action: 'created', url: 'https://github.com/acme/native6/pull/7#issuecomment-103', duplicates: [] });
  assert.deepEqual(seen, ['GET /repos/acme/native6/issues/7/comments?per_page=100', 'POST /repos/acme/native6/issues/7/comments']);
});

test('github: the marked comment on page 3 of 3 is updated in place, after reading every page', async () => {
  const all = Array.from({ length: 250 }, (_, i) => issueComment(1000 + i, `comment ${i}`, i % 2 ? human : otherBot));
  all[230] = issueComment(1230, `${marker}\n## Plan for \`dfw\`: old`, actionsBot);
  let patched: { id: string; body: unknown } | undefined;
  server.use(
    listing(all),
    http.patch(ONE, async ({ request, params }) => {
      patched = { id: String(params.id), body: await request.json() };
      return HttpResponse.json({ ...issueComment(1230, body, actionsBot), updated_at: '2025-02-01T00:00:00Z' });
    }),
  );
  const result = await upsertComment(createOctokit('test-token'), pr, marker, body);
  assert.deepEqual(patched, { id: '1230', body: { body } });
  assert.deepEqual(result, { id: 1230, action: 'updated', url: 'https://github.com/acme/native6/pull/7#issuecomment-1230', duplicates: [] });
  assert.deepEqual(seen, [
    'GET /repos/acme/native6/issues/7/comments?per_page=100',
    'GET /repos/acme/native6/issues/7/comments?per_page=100&page=2',
    'GET /repos/acme/native6/issues/7/comments?per_page=100&page=3',
    'PATCH /repos/acme/native6/issues/comments/1230',
  ]);
});

test('github: the same body: nothing is written', async () => {
  server.use(listing([issueComment(1, 'first!'), issueComment(2, body, actionsBot)]));
  const result = await upsertComment(createOctokit('test-token'), pr, marker, body);
  assert.deepEqual(result, { id: 2, action: 'unchanged', url: 'https://github.com/acme/native6/pull/7#issuecomment-2', duplicates: [] });
  assert.deepEqual(seen, ['GET /repos/acme/native6/issues/7/comments?per_page=100'], 'no PATCH, no POST');
});

test("github: other bots' comments that look alike but do not start with the marker are left alone", async () => {
  const lookalikes = [
    issueComment(11, `${commentMarker('dfw2')}\n## Plan for \`dfw2\``, actionsBot),
    issueComment(12, `${commentMarker('dfw-prod')}\n## Plan for \`dfw-prod\``, actionsBot),
    issueComment(13, `Quoting the plan bot:\n> ${marker}\n> ## Plan for \`dfw\``, otherBot),
    issueComment(14, `#### :tropical_drink: \`preview\` on native6/dfw\n<!-- native6:plan stack=DFW -->`, otherBot),
    issueComment(15, '<!-- native6:plan stack=dfw', otherBot),
  ];
  let posted: unknown;
  server.use(
    listing(lookalikes),
    http.post(LIST, async ({ request }) => {
      posted = await request.json();
      return HttpResponse.json(issueComment(16, body, actionsBot), { status: 201 });
    }),
  );
  const result = await upsertComment(createOctokit('test-token'), pr, marker, body);
  assert.equal(result.action, 'created');
  assert.deepEqual(posted, { body });
  assert.ok(!seen.some((s) => s.startsWith('PATCH')), 'no look-alike was edited');
});

test('github: several marked comments: the oldest is kept up to date, the others are returned as duplicates', async () => {
  const patchedIds: string[] = [];
  server.use(
    listing([issueComment(21, `${marker}\nolder`, actionsBot), issueComment(22, 'hi'), issueComment(23, `\n${marker}\nnewer`, actionsBot)]),
    http.patch(ONE, ({ params }) => {
      patchedIds.push(String(params.id));
      return HttpResponse.json(issueComment(Number(params.id), body, actionsBot));
    }),
  );
  const result = await upsertComment(createOctokit('test-token'), pr, marker, body);
  assert.deepEqual(patchedIds, ['21']);
  assert.deepEqual(result, { id: 21, action: 'updated', url: 'https://github.com/acme/native6/pull/7#issuecomment-21', duplicates: [23] });
});

test('github: an injected fetch carries every request', async () => {
  const through: string[] = [];
  const fetchImpl: typeof fetch = (input, init) => {
    through.push(`${init?.method ?? 'GET'} ${input instanceof Request ? input.url : String(input)}`);
    return fetch(input, init);
  };
  server.use(listing([issueComment(2, body, actionsBot)]));
  const result = await upsertComment(createOctokit('test-token', fetchImpl), pr, marker, body);
  assert.equal(result.action, 'unchanged');
  assert.deepEqual(through, ['GET https://api.github.com/repos/acme/native6/issues/7/comments?per_page=100']);
});

test('github: a 404 on the listing names the repository and pull request', async () => {
  server.use(
    http.get(LIST, () =>
      HttpResponse.json(
        { message: 'Not Found', documentation_url: 'https://docs.github.com/rest/issues/comments#list-issue-comments', status: '404' },
        { status: 404 },
      ),
    ),
  );
  await assert.rejects(upsertComment(createOctokit('test-token'), pr, marker, body), (error: unknown) => {
    assert.ok(error instanceof GitHubCommentError);
    assert.equal(error.status, 404);
    assert.match(error.message, /listing comments on acme\/native6#7 failed with HTTP 404/);
    assert.match(error.message, /does not exist, or the token cannot see it/);
    return true;
  });
});

test('github: a 403 on the update names the repository, pull request and comment', async () => {
  server.use(
    listing([issueComment(5, `${marker}\nold`, actionsBot)]),
    http.patch(ONE, () =>
      HttpResponse.json(
        { message: 'Resource not accessible by integration', documentation_url: 'https://docs.github.com/rest/issues/comments#update-an-issue-comment', status: '403' },
        { status: 403 },
      ),
    ),
  );
  await assert.rejects(upsertComment(createOctokit('test-token'), pr, marker, body), (error: unknown) => {
    assert.ok(error instanceof GitHubCommentError);
    assert.equal(error.status, 403);
    assert.match(error.message, /updating comment 5 on acme\/native6#7 failed with HTTP 403: Resource not accessible by integration/);
    assert.match(error.message, /pull-requests: write/);
    return true;
  });
  assert.ok(!seen.some((s) => s.startsWith('POST')), 'a refused update does not fall back to a second comment');
});
