import assert from 'node:assert/strict';
import { test } from 'node:test';
import { heartbeatTiming } from '../../lib/platforms/lab/machine/kubelet/nodeAgent.js';
import { kubeletConfiguration, NODE_FAILURE } from '../../lib/render/kubeadm.js';
import { readFileSync } from 'node:fs';
import { loadCluster } from '../../lib/platforms/load.js';

test("the lab kubelet's heartbeat: the kubelet's defaults (Lease 40 s renewed every 10 s) without a configuration", () => {
  assert.deepEqual(heartbeatTiming({}), { leaseDurationSeconds: 40, intervalMs: 10_000 });
});

test('the Lease is renewed every quarter of its duration, or at the status period when that is shorter', () => {
  assert.deepEqual(heartbeatTiming({ nodeLeaseDurationSeconds: 16, nodeStatusUpdateFrequency: '4s' }), { leaseDurationSeconds: 16, intervalMs: 4_000 });
  assert.deepEqual(heartbeatTiming({ nodeLeaseDurationSeconds: 40, nodeStatusUpdateFrequency: '4s' }), { leaseDurationSeconds: 40, intervalMs: 4_000 });
  assert.deepEqual(heartbeatTiming({ nodeLeaseDurationSeconds: 8, nodeStatusUpdateFrequency: '1m' }), { leaseDurationSeconds: 8, intervalMs: 2_000 });
  assert.deepEqual(heartbeatTiming({ nodeLeaseDurationSeconds: 40, nodeStatusUpdateFrequency: '1500ms' }), { leaseDurationSeconds: 40, intervalMs: 1_500 });
  assert.deepEqual(heartbeatTiming({ nodeLeaseDurationSeconds: 40, nodeStatusUpdateFrequency: '2.5s' }), { leaseDurationSeconds: 40, intervalMs: 2_500 });
});

test('what the cluster renders, read back: a Lease of 16 s renewed every 4 s, five renewals inside the node controller’s 20 s', () => {
  const loaded = loadCluster('infra/dfw.yaml', readFileSync(new URL('../../infra/dfw.yaml', import.meta.url), 'utf8'));
  if (!loaded.ok) throw new Error('infra/dfw.yaml does not load');
  const plan = loaded.plan;
  const kubelet = kubeletConfiguration(plan) as { nodeLeaseDurationSeconds: number; nodeStatusUpdateFrequency: string };
  const t = heartbeatTiming(kubelet);
  assert.deepEqual(t, { leaseDurationSeconds: 16, intervalMs: 4_000 });
  assert.equal(Number.parseInt(NODE_FAILURE.monitorGracePeriod, 10) * 1000 / t.intervalMs, 5);
});

test('a configuration the kubelet would refuse is named', () => {
  assert.throws(() => heartbeatTiming({ nodeLeaseDurationSeconds: 0 }), /nodeLeaseDurationSeconds must be a whole number of seconds ≥ 1, got 0/);
  assert.throws(() => heartbeatTiming({ nodeLeaseDurationSeconds: '40' }), /nodeLeaseDurationSeconds must be a whole number of seconds ≥ 1, got "40"/);
  assert.throws(() => heartbeatTiming({ nodeLeaseDurationSeconds: 2.5 }), /nodeLeaseDurationSeconds/);
  assert.throws(() => heartbeatTiming({ nodeStatusUpdateFrequency: '10' }), /nodeStatusUpdateFrequency must be a duration such as 10s, got "10"/);
  assert.throws(() => heartbeatTiming({ nodeStatusUpdateFrequency: 10 }), /nodeStatusUpdateFrequency must be a duration such as 10s, got 10/);
  assert.throws(() => heartbeatTiming({ nodeStatusUpdateFrequency: '0s' }), /nodeStatusUpdateFrequency must be longer than 0, got "0s"/);
});
