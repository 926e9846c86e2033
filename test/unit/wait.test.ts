/** lib/phases/wait.ts: the one poll-until-ready loop, on a fake clock. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { waitFor, waitUntil, WaitTimeout } from '../../lib/phases/wait.js';

function clock() {
  let t = 0;
  const slept: number[] = [];
  return { now: () => t, sleep: async (ms: number) => void (slept.push(ms), (t += ms)), slept };
}

test('returns the first value the probe gives, looking every interval', async () => {
  const c = clock();
  let n = 0;
  const v = await waitFor('the answer', async () => (++n === 3 ? 42 : undefined), { timeoutMs: 10_000, intervalMs: 250, ...c });
  assert.equal(v, 42);
  assert.deepEqual(c.slept, [250, 250]);
});

test('a probe that throws is "not yet": logged, and the last error is in the timeout', async () => {
  const c = clock();
  const lines: string[] = [];
  const err = await waitUntil('the API server', async () => {
    throw new Error('connection refused\nstack');
  }, { timeoutMs: 1000, intervalMs: 400, log: (l) => lines.push(l), ...c }).catch((e: unknown) => e);
  assert.ok(err instanceof WaitTimeout);
  // Looks at 0, 400, 800 and 1200 ms: the last one is past the deadline.
  assert.equal(err.message, 'the API server: not after 1 s (4 looks); last: connection refused');
  assert.equal(err.looks, 4);
  assert.deepEqual(lines, [1, 2, 3, 4].map((i) => `the API server: look ${i}: connection refused`));
});

test('what the probe says it saw is in the timeout', async () => {
  const c = clock();
  await assert.rejects(
    waitUntil('BGP sessions', async (look) => (look.seen('r1 3/5, r2 5/5'), false), { timeoutMs: 500, ...c }),
    { name: 'WaitTimeout', message: 'BGP sessions: not after 0.5 s (2 looks); last: r1 3/5, r2 5/5' },
  );
});

test('a fatal error ends the wait at once', async () => {
  const c = clock();
  let looks = 0;
  class Exited extends Error {}
  await assert.rejects(
    waitUntil('the git server', async () => {
      looks++;
      throw new Exited('exited at start');
    }, { timeoutMs: 10_000, fatal: (e) => e instanceof Exited, ...c }),
    { message: 'exited at start' },
  );
  assert.equal(looks, 1);
  assert.deepEqual(c.slept, []);
});

test('false and undefined are "not yet"; 0 and "" are answers', async () => {
  const c = clock();
  const answers: Array<number | false | undefined> = [false, undefined, 0];
  assert.equal(await waitFor('zero', async () => answers.shift(), { timeoutMs: 10_000, ...c }), 0);
});
