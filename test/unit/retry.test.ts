/** Bounded backoff (lib/workflows/retry.ts): delays, one log line per attempt, the final error, fatal errors. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffDelay, retry, RetryError } from '../../lib/phases/retry.js';

/** A fake clock; it starts far from 0 so that elapsed times are differences, not readings. */
function clock(start = 1_700_000_000_000) {
  let t = start;
  const waits: number[] = [];
  return { now: () => t, sleep: async (ms: number) => void (waits.push(ms), (t += ms)), waits };
}

test('delays double from the initial one and stop at the maximum', () => {
  const o = { initialMs: 2000, maxMs: 60_000 };
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map((n) => backoffDelay(n, o)), [2000, 4000, 8000, 16000, 32000, 60000, 60000]);
  assert.deepEqual([1, 2, 3].map((n) => backoffDelay(n, { ...o, factor: 3 })), [2000, 6000, 18000]);
});

test('succeeds on a later attempt, logging every failed one with its wait', async () => {
  const c = clock();
  const lines: string[] = [];
  let calls = 0;
  const v = await retry(
    async (n) => {
      calls++;
      if (n < 3) throw new Error(`connect ECONNREFUSED [2001:db8::1]:443 (try ${n})`);
      return 'v1.35.4';
    },
    { what: 'the API server of lab', attempts: 5, initialMs: 1000, maxMs: 10_000, log: (l) => lines.push(l), sleep: c.sleep, now: c.now },
  );
  assert.equal(v, 'v1.35.4');
  assert.equal(calls, 3);
  assert.deepEqual(c.waits, [1000, 2000]);
  assert.deepEqual(lines, [
    'the API server of lab: attempt 1/5 failed: connect ECONNREFUSED [2001:db8::1]:443 (try 1); next in 1.0s',
    'the API server of lab: attempt 2/5 failed: connect ECONNREFUSED [2001:db8::1]:443 (try 2); next in 2.0s',
    'the API server of lab: attempt 3/5 succeeded after 3.0s',
  ]);
});

test('gives up after the last attempt with an error that says what, how often, how long and why', async () => {
  const c = clock();
  const lines: string[] = [];
  let calls = 0;
  await assert.rejects(
    retry(async () => (calls++, Promise.reject(new Error('503 Service Unavailable\nbody…'))), { what: 'the API server of dfw', attempts: 4, initialMs: 2000, maxMs: 5000, log: (l) => lines.push(l), sleep: c.sleep, now: c.now }),
    (e: unknown) => {
      assert.ok(e instanceof RetryError);
      assert.equal(e.message, 'the API server of dfw: gave up after 4 attempts over 11.0s; last error: 503 Service Unavailable');
      assert.equal(e.attempts, 4);
      assert.equal(calls, 4, 'the attempts reported are the attempts made');
      return true;
    },
  );
  assert.deepEqual(c.waits, [2000, 4000, 5000]);
  assert.equal(lines.length, 4);
  assert.equal(lines[3], 'the API server of dfw: attempt 4/4 failed: 503 Service Unavailable');
});

test('success at the first attempt logs nothing and waits for nothing', async () => {
  const c = clock();
  const lines: string[] = [];
  assert.equal(await retry(async (n) => `ok ${n}`, { what: 'x', attempts: 3, initialMs: 1000, maxMs: 1000, log: (l) => lines.push(l), sleep: c.sleep, now: c.now }), 'ok 1');
  assert.deepEqual(lines, []);
  assert.deepEqual(c.waits, []);
});

test('without a sleep of its own, it waits on a real timer for the backoff delay', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  // setImmediate is not mocked: it runs once every pending promise callback has.
  const settle = () => new Promise<void>((r) => setImmediate(r));
  const calls: number[] = [];
  const done = retry(
    async (n) => {
      calls.push(n);
      if (n === 1) throw new Error('busy');
      return 'v';
    },
    { what: 'x', attempts: 2, initialMs: 5000, maxMs: 5000 },
  );
  await settle(); // the first attempt fails and the wait starts
  assert.deepEqual(calls, [1]);
  t.mock.timers.tick(4999);
  await settle();
  assert.deepEqual(calls, [1], 'the second attempt came before the delay');
  t.mock.timers.tick(1);
  assert.equal(await done, 'v');
  assert.deepEqual(calls, [1, 2]);
});

test('a fatal error is not retried', async () => {
  const c = clock();
  let calls = 0;
  await assert.rejects(
    retry(
      async () => {
        calls++;
        throw new Error('401 Unauthorized');
      },
      { what: 'x', attempts: 5, initialMs: 10, maxMs: 10, sleep: c.sleep, now: c.now, fatal: (e) => (e as Error).message.startsWith('401') },
    ),
    /401 Unauthorized/,
  );
  assert.equal(calls, 1);
  assert.deepEqual(c.waits, []);
});

test('refuses a nonsensical attempt count, before trying anything', async () => {
  for (const attempts of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    let calls = 0;
    await assert.rejects(
      retry(async () => ++calls, { what: 'x', attempts, initialMs: 1, maxMs: 1 }),
      (e: unknown) => {
        assert.ok(!(e instanceof RetryError));
        assert.equal((e as Error).message, `retry: attempts must be a positive integer, got ${attempts}`);
        return true;
      },
    );
    assert.equal(calls, 0, `attempts ${attempts}`);
  }
});

test('one attempt allowed: no wait, and the error says one attempt', async () => {
  const c = clock();
  const lines: string[] = [];
  let calls = 0;
  await assert.rejects(
    retry(
      async () => {
        calls++;
        throw new Error('ECONNRESET');
      },
      { what: 'git push', attempts: 1, initialMs: 1000, maxMs: 1000, log: (l) => lines.push(l), sleep: c.sleep, now: c.now },
    ),
    (e: unknown) => {
      assert.ok(e instanceof RetryError);
      assert.equal(e.message, 'git push: gave up after 1 attempt over 0.0s; last error: ECONNRESET');
      assert.equal(e.attempts, 1);
      assert.equal((e.lastError as Error).message, 'ECONNRESET');
      return true;
    },
  );
  assert.equal(calls, 1);
  assert.deepEqual(c.waits, []);
  assert.deepEqual(lines, ['git push: attempt 1/1 failed: ECONNRESET']);
});
