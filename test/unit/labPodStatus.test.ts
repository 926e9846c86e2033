/**
 * The status the lab's kubelet writes for a pod
 * (lib/platforms/lab/machine/kubelet/podStatus.ts): conditions keep their
 * transition time while their status holds, startTime stays, and a status
 * the API server already holds is not written again.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { apiTime, podStatus, statusHeld, type ContainerState, type PodStatus } from '../../lib/platforms/lab/machine/kubelet/podStatus.js';

const T0 = '2026-12-08T00:00:00Z';
const T1 = '2026-12-08T00:00:05Z';
const T2 = '2026-12-08T00:00:09Z';

const container = (over: Partial<ContainerState> = {}): ContainerState => ({ name: 'echo', image: 'registry.k8s.io/e2e-test-images/agnhost:2.53', running: true, pid: 4242, startedAt: T0, restarts: 0, ready: false, ...over });
const pod = (c: ContainerState) => ({ nodeAddress: '2001:db8:4300::10', ip: '2001:db8:4300:100::5', firstSeen: T0, container: c });

function condition(s: PodStatus, type: string) {
  const c = s.conditions?.find((x) => x.type === type);
  assert.ok(c, `no ${type} condition`);
  return c;
}

test('API times are RFC 3339 at the second', () => {
  assert.equal(apiTime(Date.UTC(2026, 11, 8, 1, 2, 3, 456)), '2026-12-08T01:02:03Z');
});

test('a condition keeps its transition time while its status holds, and takes the new time when it turns', () => {
  const first = podStatus(pod(container()), undefined, T0);
  assert.equal(condition(first, 'Ready').status, 'False');
  assert.equal(condition(first, 'Ready').lastTransitionTime, T0);
  const same = podStatus(pod(container()), first, T1);
  assert.equal(condition(same, 'Ready').lastTransitionTime, T0, 'unchanged status, unchanged time');
  assert.equal(condition(same, 'PodScheduled').lastTransitionTime, T0);
  const ready = podStatus(pod(container({ ready: true })), same, T2);
  assert.equal(condition(ready, 'Ready').status, 'True');
  assert.equal(condition(ready, 'Ready').lastTransitionTime, T2, 'turned: the time it turned');
  assert.equal(condition(ready, 'ContainersReady').lastTransitionTime, T2);
  assert.equal(condition(ready, 'PodScheduled').lastTransitionTime, T0, 'the others keep theirs');
  assert.equal(ready.startTime, T0, 'startTime is when the kubelet first saw the pod');
});

test('a status the API server holds is not written again; any change is', () => {
  const first = podStatus(pod(container({ ready: true })), undefined, T0);
  assert.equal(statusHeld(first, undefined), false, 'nothing held yet');
  // The API server holds it, with fields of its own added (qosClass, lastProbeTime: null).
  const held: PodStatus = JSON.parse(JSON.stringify({ ...first, qosClass: 'BestEffort', conditions: first.conditions!.map((c) => ({ ...c, lastProbeTime: null })) }));
  const again = podStatus(pod(container({ ready: true })), held, T2);
  assert.equal(statusHeld(again, held), true, 'a steady pod costs no write');
  assert.equal(statusHeld(podStatus(pod(container({ ready: false })), held, T2), held), false, 'readiness changed');
  assert.equal(statusHeld(podStatus(pod(container({ ready: true, restarts: 1 })), held, T2), held), false, 'restart count changed');
  assert.equal(statusHeld(podStatus({ ...pod(container({ ready: true })), ip: '2001:db8:4300:100::6' }, held, T2), held), false, 'address changed');
  // Someone else changed it (a condition more, a phase): it is put back.
  assert.equal(statusHeld(again, { ...held, phase: 'Failed' }), false);
  assert.equal(statusHeld(again, { ...held, conditions: [...held.conditions!, { type: 'DisruptionTarget', status: 'True' }] }), false);
});

test('phase and container state: blocked, creating, running, crashing', () => {
  const blocked = podStatus(pod(container({ running: false, pid: undefined, blocked: { reason: 'ImageNotBuilt', message: 'run npm run setup' } })), undefined, T0);
  assert.equal(blocked.phase, 'Pending');
  assert.deepEqual((blocked.containerStatuses as Array<{ state: unknown }>)[0]!.state, { waiting: { reason: 'ImageNotBuilt', message: 'run npm run setup' } });
  const creating = podStatus({ ...pod(container({ running: false, pid: undefined })), ip: undefined }, undefined, T0);
  assert.equal(creating.phase, 'Pending');
  assert.equal(creating.podIP, undefined);
  assert.deepEqual((creating.containerStatuses as Array<{ state: unknown }>)[0]!.state, { waiting: { reason: 'ContainerCreating' } });
  const running = podStatus(pod(container()), undefined, T0);
  assert.equal(running.phase, 'Running');
  assert.deepEqual(running.podIPs, [{ ip: '2001:db8:4300:100::5' }]);
  const cs = (running.containerStatuses as Array<Record<string, unknown>>)[0]!;
  assert.equal(cs.containerID, 'native6-process://4242');
  const crashed = podStatus(pod(container({ running: false, pid: undefined, restarts: 2, lastExit: { code: null, signal: 'SIGKILL', at: T1 } })), undefined, T2);
  assert.equal(crashed.phase, 'Running');
  const c = (crashed.containerStatuses as Array<Record<string, unknown>>)[0]!;
  assert.equal(c.containerID, undefined);
  assert.deepEqual(c.state, { waiting: { reason: 'CrashLoopBackOff', message: `back-off restarting the container (exited SIGKILL at ${T1})` } });
  assert.deepEqual(c.lastState, { terminated: { exitCode: 137, signal: 'SIGKILL', finishedAt: T1 } });
});
