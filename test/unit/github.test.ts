/**
 * The plan comment on GitHub (lib/workflows/github.ts), against a fake GitHub
 * (msw): create, find on the last page, leave alone, errors; the retry and
 * throttling plugins at work (a secondary rate limit, a 5xx, the primary
 * limit), every retry bounded and logged.
 */
import assert from 'node:assert/strict';
import { dirname, resolve } from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { commentMarker } from '../../lib/workflows/comment.js';
import { createOctokit, GitHubCommentError, GITHUB_MAX_WAIT_SECONDS, upsertComment } from '../../lib/workflows/github.js';
import { createLineLog } from '../../lib/workflows/log.js';
import { runPlan } from '../../lib/workflows/plan.js';
import { actionsBot, API, human, issueComment, otherBot, pr, primaryRateLimit, secondaryRateLimit, serverError, type IssueComment } from '../github-fixture.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

const marker = commentMarker('dfw');
const body = `${marker}\n## Plan for \`dfw\`: \`infra/dfw.yaml\` at \`0123456\`\n\nNo resource steps were reported.\n`;

/** The client as the actions build it, its fetch the global one (which msw intercepts), GitHub's second shrunk to 1 ms. */
function client(lines: string[] = []) {
  return createOctokit('test-token', { log: createLineLog((l) => lines.push(l)), fetch, secondMs: 1 });
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
  const result = await upsertComment(client(), pr, marker, body);
  assert.deepEqual(posted, { body });
  assert.deepEqual(result, { id: 103, action: 'created', url: 'https://github.com/acme/native6/pull/7#issuecomment-103', duplicates: [], impostors: [] });
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
  const result = await upsertComment(client(), pr, marker, body);
  assert.deepEqual(patched, { id: '1230', body: { body } });
  assert.deepEqual(result, { id: 1230, action: 'updated', url: 'https://github.com/acme/native6/pull/7#issuecomment-1230', duplicates: [], impostors: [] });
  assert.deepEqual(seen, [
    'GET /repos/acme/native6/issues/7/comments?per_page=100',
    'GET /repos/acme/native6/issues/7/comments?per_page=100&page=2',
    'GET /repos/acme/native6/issues/7/comments?per_page=100&page=3',
    'PATCH /repos/acme/native6/issues/comments/1230',
  ]);
});

test('github: the same body: nothing is written', async () => {
  server.use(listing([issueComment(1, 'first!'), issueComment(2, body, actionsBot)]));
  const result = await upsertComment(client(), pr, marker, body);
  assert.deepEqual(result, { id: 2, action: 'unchanged', url: 'https://github.com/acme/native6/pull/7#issuecomment-2', duplicates: [], impostors: [] });
  assert.deepEqual(seen, ['GET /repos/acme/native6/issues/7/comments?per_page=100'], 'no PATCH, no POST');
});

test('github: a comment that starts with the marker but is not the workflow\'s (anyone may post it first) is never edited; ours is, and theirs is named', async () => {
  // A human and another bot posted the marker before the first run; the bot's own comment came later.
  server.use(
    listing([issueComment(31, `${marker}\n## Plan for \`dfw\`: trust me`, human), issueComment(32, `${marker}\nlooks official`, otherBot), issueComment(33, `${marker}\nold`, actionsBot)]),
    http.patch(`${API}/repos/acme/native6/issues/comments/:id`, async ({ request, params }) => {
      assert.deepEqual(await request.json(), { body });
      return HttpResponse.json(issueComment(Number(params.id), body, actionsBot));
    }),
  );
  const result = await upsertComment(client(), pr, marker, body);
  assert.deepEqual(result, { id: 33, action: 'updated', url: 'https://github.com/acme/native6/pull/7#issuecomment-33', duplicates: [], impostors: [31, 32] });
  assert.deepEqual(seen.filter((x) => !x.startsWith('GET')), ['PATCH /repos/acme/native6/issues/comments/33']);
});

test('github: only impostors carry the marker: a comment of our own is created beside them', async () => {
  let posted = false;
  server.use(
    listing([issueComment(41, `${marker}\nfirst!`, human)]),
    http.post(LIST, async () => {
      posted = true;
      return HttpResponse.json(issueComment(42, body, actionsBot), { status: 201 });
    }),
  );
  const result = await upsertComment(client(), pr, marker, body);
  assert.equal(posted, true);
  assert.deepEqual(result, { id: 42, action: 'created', url: 'https://github.com/acme/native6/pull/7#issuecomment-42', duplicates: [], impostors: [41] });
  // An App token posts as its app's bot: the author is the caller's to name.
  server.use(listing([issueComment(43, `${marker}\nold`, otherBot)]), http.patch(`${API}/repos/acme/native6/issues/comments/:id`, ({ params }) => HttpResponse.json(issueComment(Number(params.id), body, otherBot))));
  assert.equal((await upsertComment(client(), pr, marker, body, otherBot.login)).id, 43);
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
  const result = await upsertComment(client(), pr, marker, body);
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
  const result = await upsertComment(client(), pr, marker, body);
  assert.deepEqual(patchedIds, ['21']);
  assert.deepEqual(result, { id: 21, action: 'updated', url: 'https://github.com/acme/native6/pull/7#issuecomment-21', duplicates: [23], impostors: [] });
});

test('github: an injected fetch carries every request', async () => {
  const through: string[] = [];
  const fetchImpl: typeof fetch = (input, init) => {
    through.push(`${init?.method ?? 'GET'} ${input instanceof Request ? input.url : String(input)}`);
    return fetch(input, init);
  };
  server.use(listing([issueComment(2, body, actionsBot)]));
  const result = await upsertComment(createOctokit('test-token', { log: createLineLog(() => undefined), fetch: fetchImpl }), pr, marker, body);
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
  await assert.rejects(upsertComment(client(), pr, marker, body), (error: unknown) => {
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
  await assert.rejects(upsertComment(client(), pr, marker, body), (error: unknown) => {
    assert.ok(error instanceof GitHubCommentError);
    assert.equal(error.status, 403);
    assert.match(error.message, /updating comment 5 on acme\/native6#7 failed with HTTP 403: Resource not accessible by integration/);
    assert.match(error.message, /pull-requests: write/);
    return true;
  });
  assert.ok(!seen.some((s) => s.startsWith('POST')), 'a refused update does not fall back to a second comment');
  assert.equal(seen.filter((s) => s.startsWith('PATCH')).length, 1, 'a refusal that is no rate limit is not retried');
});

/**
 * A pull request's comments held as GitHub holds them: listed, created,
 * edited. `faults` are answered instead, in order, to the first requests
 * whose method they name; the comments are left as they were.
 */
function conversation(initial: readonly IssueComment[], faults: Array<{ method: 'GET' | 'POST' | 'PATCH'; answer: { body: object; init: ResponseInit } }> = []) {
  const comments = [...initial];
  let nextId = 500;
  const fault = (method: string) => {
    const i = faults.findIndex((f) => f.method === method);
    if (i < 0) return undefined;
    const [f] = faults.splice(i, 1);
    return HttpResponse.json(f!.answer.body, f!.answer.init);
  };
  server.use(
    http.get(LIST, ({ request }) => fault(request.method) ?? HttpResponse.json(comments)),
    http.post(LIST, async ({ request }) => {
      const refused = fault(request.method);
      if (refused) return refused;
      const c = issueComment(nextId++, ((await request.json()) as { body: string }).body, actionsBot);
      comments.push(c);
      return HttpResponse.json(c, { status: 201 });
    }),
    http.patch(ONE, async ({ request, params }) => {
      const refused = fault(request.method);
      if (refused) return refused;
      const i = comments.findIndex((c) => c.id === Number(params.id));
      if (i < 0) return HttpResponse.json({ message: 'Not Found', documentation_url: 'https://docs.github.com/rest/issues/comments#update-an-issue-comment', status: '404' }, { status: 404 });
      comments[i] = { ...comments[i]!, body: ((await request.json()) as { body: string }).body };
      return HttpResponse.json(comments[i]);
    }),
  );
  return comments;
}

test('github: a secondary rate limit on the comment POST is waited out once (the throttling plugin), and the plan posts exactly one comment', async () => {
  const comments = conversation([issueComment(1, 'LGTM', human)], [{ method: 'POST', answer: secondaryRateLimit(1) }]);
  const lines: string[] = [];
  const log = createLineLog((l) => lines.push(l));
  const result = await runPlan(
    { repoRoot: ROOT, specs: ['infra/dfw.yaml'], commitSha: '0123456', pullRequest: pr },
    { log, octokit: createOctokit('test-token', { log, fetch, secondMs: 1 }), preview: async () => ({ changes: [], summary: {}, output: '' }) },
  );
  assert.equal(result.ok, true, lines.join('\n'));
  assert.equal(result.stacks[0]?.comment, 'created');
  assert.deepEqual(seen, ['GET /repos/acme/native6/issues/7/comments?per_page=100', 'POST /repos/acme/native6/issues/7/comments', 'POST /repos/acme/native6/issues/7/comments']);
  const plans = comments.filter((c) => c.body?.startsWith(commentMarker('dfw')));
  assert.equal(plans.length, 1, 'exactly one plan comment');
  assert.equal(comments.length, 2);
  assert.ok(lines.includes('GitHub: secondary rate limit on POST /repos/acme/native6/issues/7/comments: retry 1 of 3 in 1 s'), lines.join('\n'));
  assert.ok(lines.includes(`comment created: ${plans[0]!.html_url}`), lines.join('\n'));
});

test('github: a secondary rate limit (429) on the comment PATCH is waited out once, and the one comment is edited', async () => {
  const comments = conversation([issueComment(5, `${marker}\nold`, actionsBot)], [{ method: 'PATCH', answer: secondaryRateLimit(2, 429) }]);
  const lines: string[] = [];
  const result = await upsertComment(client(lines), pr, marker, body);
  assert.deepEqual(result, { id: 5, action: 'updated', url: 'https://github.com/acme/native6/pull/7#issuecomment-5', duplicates: [], impostors: [] });
  assert.deepEqual(seen, ['GET /repos/acme/native6/issues/7/comments?per_page=100', 'PATCH /repos/acme/native6/issues/comments/5', 'PATCH /repos/acme/native6/issues/comments/5']);
  assert.deepEqual(comments.map((c) => c.body), [body]);
  assert.deepEqual(lines, ['GitHub: secondary rate limit on PATCH /repos/acme/native6/issues/comments/5: retry 1 of 3 in 2 s']);
});

test('github: a 5xx is tried again (the retry plugin): a 502 on the listing, a 503 on the POST, and one comment', async () => {
  const comments = conversation([], [{ method: 'GET', answer: serverError(502) }, { method: 'POST', answer: serverError(503) }]);
  const lines: string[] = [];
  const result = await upsertComment(client(lines), pr, marker, body);
  assert.equal(result.action, 'created');
  assert.equal(comments.length, 1);
  assert.deepEqual(seen, [
    'GET /repos/acme/native6/issues/7/comments?per_page=100',
    'GET /repos/acme/native6/issues/7/comments?per_page=100',
    'POST /repos/acme/native6/issues/7/comments',
    'POST /repos/acme/native6/issues/7/comments',
  ]);
  assert.deepEqual(lines, [
    'GitHub answered HTTP 502 to GET /repos/acme/native6/issues/7/comments: retry 1 of 3 in 1 s',
    'GitHub answered HTTP 503 to POST /repos/acme/native6/issues/7/comments: retry 1 of 3 in 1 s',
  ]);
});

test('github: a call that gets no answer (the connection fails) is tried again, and the log says it got no answer', async () => {
  let failed = false;
  server.use(
    http.get(LIST, () => {
      if (failed) return HttpResponse.json([issueComment(2, body, actionsBot)]);
      failed = true;
      return HttpResponse.error();
    }),
  );
  const lines: string[] = [];
  const result = await upsertComment(client(lines), pr, marker, body);
  assert.equal(result.action, 'unchanged');
  assert.equal(seen.length, 2);
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /^GET \/repos\/acme\/native6\/issues\/7\/comments got no answer from GitHub \(.+\): retry 1 of 3 in 1 s$/);
});

test('github: a call that never gets an answer fails after 3 retries without claiming an HTTP status', async () => {
  server.use(http.get(LIST, () => HttpResponse.error()));
  const lines: string[] = [];
  await assert.rejects(upsertComment(client(lines), pr, marker, body), (error: unknown) => {
    assert.ok(error instanceof GitHubCommentError);
    assert.equal(error.status, undefined);
    assert.match(error.message, /^GitHub: listing comments on acme\/native6#7 failed: /);
    assert.doesNotMatch(error.message, /HTTP/);
    return true;
  });
  assert.equal(seen.length, 4);
  assert.match(lines.at(-1)!, /^warning: GET \/repos\/acme\/native6\/issues\/7\/comments got no answer from GitHub \(.+\): no retry left \(3 done\), the call fails$/);
});

test('github: the primary rate limit spent is waited out until its reset', async () => {
  conversation([issueComment(2, body, actionsBot)], [{ method: 'GET', answer: primaryRateLimit(Math.floor(Date.now() / 1000) + 1) }]);
  const lines: string[] = [];
  const result = await upsertComment(client(lines), pr, marker, body);
  assert.equal(result.action, 'unchanged');
  assert.equal(seen.length, 2);
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /^GitHub: rate limit on GET \/repos\/acme\/native6\/issues\/7\/comments: retry 1 of 3 in \d+ s$/);
});

test('github: retries are bounded: a secondary rate limit every time is tried 3 more times, then the call fails and says so', async () => {
  conversation(
    [],
    Array.from({ length: 10 }, () => ({ method: 'POST' as const, answer: secondaryRateLimit(1) })),
  );
  const lines: string[] = [];
  await assert.rejects(upsertComment(client(lines), pr, marker, body), (error: unknown) => {
    assert.ok(error instanceof GitHubCommentError);
    assert.equal(error.status, 403);
    assert.match(error.message, /creating a comment on acme\/native6#7 failed with HTTP 403: You have exceeded a secondary rate limit/);
    assert.match(error.message, /a GitHub rate limit, retried as the log says/);
    assert.doesNotMatch(error.message, /pull-requests: write/);
    return true;
  });
  assert.equal(seen.filter((s) => s.startsWith('POST')).length, 4);
  const call = 'POST /repos/acme/native6/issues/7/comments';
  assert.deepEqual(lines, [
    `GitHub: secondary rate limit on ${call}: retry 1 of 3 in 1 s`,
    `GitHub: secondary rate limit on ${call}: retry 2 of 3 in 1 s`,
    `GitHub: secondary rate limit on ${call}: retry 3 of 3 in 1 s`,
    `warning: GitHub: secondary rate limit on ${call}: no retry left (3 done), the call fails`,
  ]);
});

test('github: retries are bounded: a 502 every time is tried 3 more times, then the call fails and says so', async () => {
  conversation([], Array.from({ length: 10 }, () => ({ method: 'GET' as const, answer: serverError(502) })));
  const lines: string[] = [];
  await assert.rejects(upsertComment(client(lines), pr, marker, body), (error: unknown) => {
    assert.ok(error instanceof GitHubCommentError);
    assert.equal(error.status, 502);
    assert.match(error.message, /listing comments on acme\/native6#7 failed with HTTP 502: Server Error/);
    return true;
  });
  assert.equal(seen.length, 4);
  const call = 'GET /repos/acme/native6/issues/7/comments';
  assert.deepEqual(lines, [
    `GitHub answered HTTP 502 to ${call}: retry 1 of 3 in 1 s`,
    `GitHub answered HTTP 502 to ${call}: retry 2 of 3 in 4 s`,
    `GitHub answered HTTP 502 to ${call}: retry 3 of 3 in 9 s`,
    `warning: GitHub answered HTTP 502 to ${call}: no retry left (3 done), the call fails`,
  ]);
});

test(`github: a rate limit asking for a wait longer than ${GITHUB_MAX_WAIT_SECONDS} s is not waited out`, async () => {
  conversation([], [{ method: 'POST', answer: secondaryRateLimit(3600) }]);
  const lines: string[] = [];
  await assert.rejects(upsertComment(client(lines), pr, marker, body), (error: unknown) => error instanceof GitHubCommentError && error.status === 403);
  assert.equal(seen.filter((s) => s.startsWith('POST')).length, 1);
  assert.deepEqual(lines, [
    `warning: GitHub: secondary rate limit on POST /repos/acme/native6/issues/7/comments: GitHub asks to wait 3600 s, more than ${GITHUB_MAX_WAIT_SECONDS} s: not waited, the call fails`,
  ]);
});
