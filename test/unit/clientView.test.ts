import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clientViewLines, summarizeClientView, type ClientStreamResult, type StreamAttempt } from '../../lib/platforms/lab/verify/clientViewSummary.js';

// Node addresses as the echo pod sees a masqueraded client: a machine's own address or one of its pod block's.
const ENTRY: Record<string, string> = { '2001:db8::3': 'cp-1', '2001:db8::5': 'cp-2', '2001:db8:8::1': 'w-1', '2001:db8:8:1::1': 'w-2' };
const entryOf = (client: string) => ENTRY[client];

const HUNG = 10_000;
const RESUMED = 20_000;

function stream(attempts: StreamAttempt[], connections: ClientStreamResult['connections'] = []): ClientStreamResult {
  return { targets: ['echo-cluster', 'echo-local'], start: 0, end: 30_000, intervalMs: 50, timeoutMs: 3000, attempts, connections };
}

test('new connections: only those started while the node was hung count, with the share failed and the last failure from the hang', () => {
  const v = summarizeClientView(
    stream([
      [0, 9_000, 0, '', 'no answer in 3000 ms'], // before the hang: noise, counted apart
      [0, 9_500, 1, 'w-2', '2001:db8::3'],
      [0, 10_000, 0, '', 'connect ENETUNREACH'], // at the hang: counted
      [0, 11_000, 0, '', 'connect ENETUNREACH'],
      [0, 12_000, 1, 'w-2', '2001:db8::5'],
      [0, 13_250, 0, '', 'no answer in 3000 ms'],
      [0, 19_999, 1, 'w-2', '2001:db8::5'],
      [0, 20_000, 0, '', 'no answer in 3000 ms'], // at the resume: not counted
      [1, 12_000, 1, 'w-2', '2001:db8:ffff::1'],
    ]),
    { victim: 'w-1', hungAt: HUNG, resumedAt: RESUMED, endpointsLeftAt: 14_000 },
    entryOf,
  );
  assert.equal(v.hungMs, 10_000);
  assert.equal(v.endpointsLeftMs, 4_000);
  const [ecmp, local] = v.targets;
  assert.equal(ecmp!.target, 'echo-cluster');
  assert.equal(ecmp!.attemptsWhileHung, 5);
  assert.equal(ecmp!.failedWhileHung, 3);
  assert.equal(ecmp!.failedShare, 0.6);
  assert.equal(ecmp!.lastFailureMs, 3_250);
  assert.equal(ecmp!.failedBeforeHang, 1);
  assert.deepEqual(ecmp!.errors, ['connect ENETUNREACH (2)', 'no answer in 3000 ms (1)']);
  assert.equal(local!.attemptsWhileHung, 1);
  assert.equal(local!.failedWhileHung, 0);
  assert.equal(local!.failedShare, 0);
  assert.equal(local!.lastFailureMs, undefined);
  assert.deepEqual(local!.errors, []);
});

test('established connections: those on the hung node (its pod, or entering through it) apart from those through survivors', () => {
  const v = summarizeClientView(
    stream(
      [],
      [
        { target: 0, node: 'w-1', client: '2001:db8::3', answers: 40, brokeAt: 10_400, error: 'read ECONNRESET' }, // its pod on the hung node
        { target: 0, node: 'w-2', client: '2001:db8:8::1', answers: 40, brokeAt: 10_500, error: 'read ECONNRESET' }, // entered through the hung node
        { target: 0, node: 'w-2', client: '2001:db8::5', answers: 40, brokeAt: 10_600, error: 'read ECONNRESET' }, // survivors: broke (a rehash)
        { target: 0, node: 'w-2', client: '2001:db8::3', answers: 200 }, // survivors: kept
        { target: 0, node: 'w-2', client: '2001:db8::5', answers: 20, brokeAt: 25_000, error: 'late' }, // broke after the resume: not the hang's
        { target: 0, node: 'w-2', client: '2001:db8::5', answers: 0, brokeAt: 100, error: 'never answered' }, // never established
        { target: 1, node: 'w-2', client: '2001:db8:ffff::1', answers: 200 }, // a client address of no node: its pod's node is its entry
        { target: 1, node: 'w-1', client: '2001:db8:ffff::1', answers: 40, brokeAt: 10_300, error: 'no answer in 3000 ms' },
      ],
    ),
    { victim: 'w-1', hungAt: HUNG, resumedAt: RESUMED },
    entryOf,
  );
  const [ecmp, local] = v.targets;
  assert.equal(v.endpointsLeftMs, undefined);
  assert.equal(ecmp!.established, 5);
  assert.equal(ecmp!.brokeWithHungNode, 2);
  assert.equal(ecmp!.throughSurvivors, 3);
  assert.equal(ecmp!.brokeThroughSurvivors, 1);
  assert.deepEqual(ecmp!.survivorBreaks, [{ node: 'w-2', entry: 'cp-2', ms: 600, error: 'read ECONNRESET' }]);
  assert.equal(local!.established, 2);
  assert.equal(local!.throughSurvivors, 1);
  assert.equal(local!.brokeThroughSurvivors, 0);
  assert.equal(local!.brokeWithHungNode, 1);
  assert.deepEqual(clientViewLines(v), [
    'echo-cluster: 0/0 new connections failed while w-1 was hung (0.0 %); none; 1/3 established connections through surviving nodes broke; 2 on the hung node broke',
    'echo-local: 0/0 new connections failed while w-1 was hung (0.0 %); none; 0/1 established connections through surviving nodes broke; 1 on the hung node broke',
  ]);
});

test('a hang that ends before it starts is refused', () => {
  assert.throws(() => summarizeClientView(stream([]), { victim: 'w-1', hungAt: 2, resumedAt: 1 }, entryOf), /the hang ends \(1\) before it starts \(2\)/);
});
