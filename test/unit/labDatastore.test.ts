/**
 * The lab BGP agent's snapshot of its datastore copies
 * (lib/platforms/lab/calicoNode/datastore.ts, snapshotOf): Felix's workload
 * endpoints (pods with a pod-network address, not finished, not host
 * network), each Service's endpoint addresses and ports, and the Calico
 * NetworkPolicies the lab's policy engine cannot enforce refused by name.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { snapshotOf, WATCHED, type Lists, type Obj } from '../../lib/platforms/lab/calicoNode/datastore.js';

const empty = Object.fromEntries(Object.keys(WATCHED).map((k) => [k, []])) as unknown as Lists;
const pod = (name: string, status: Record<string, unknown>, spec: Record<string, unknown> = {}) => ({ metadata: { name, namespace: 'echo', labels: { app: 'echo' } }, spec: { nodeName: 'w-1', ...spec }, status }) as unknown as Obj;

test('every collection the agent reads is watched, Calico\'s and Kubernetes\' own', () => {
  assert.equal(WATCHED.pods, '/api/v1/pods');
  assert.equal(WATCHED.endpoints, '/api/v1/endpoints', 'confd reads core/v1 Endpoints');
  assert.equal(WATCHED.calicoNetworkPolicies, '/apis/crd.projectcalico.org/v1/networkpolicies');
  assert.equal(Object.keys(WATCHED).length, 15);
});

test('workloads are the pods with a pod-network address that are not finished', () => {
  const snap = snapshotOf(
    {
      ...empty,
      pods: [
        pod('running', { podIP: '2001:db8::5', phase: 'Running' }),
        pod('pending', { phase: 'Pending' }),
        pod('done', { podIP: '2001:db8::6', phase: 'Succeeded' }),
        pod('failed', { podIP: '2001:db8::7', phase: 'Failed' }),
        pod('host', { podIP: '2001:db8::10', phase: 'Running' }, { hostNetwork: true }),
        pod('unbound', { podIP: '2001:db8::8', phase: 'Running' }, { nodeName: undefined }),
      ],
    },
    {},
  );
  assert.deepEqual(snap.policy.workloads.map((w) => `${w.name}@${w.node}=${w.ip}`), ['running@w-1=2001:db8::5']);
  assert.equal(snap.policy.workloads[0]!.labels['projectcalico.org/namespace'], 'echo');
});

test('a Service\'s endpoints: every subset\'s addresses and ports, TCP by default', () => {
  const endpoints = [{ metadata: { name: 'echo', namespace: 'echo' }, subsets: [{ addresses: [{ ip: '2001:db8::5' }, { ip: '2001:db8::6' }], ports: [{ port: 8080 }, { port: 53, protocol: 'UDP' }] }] }] as unknown as Obj[];
  const snap = snapshotOf({ ...empty, endpoints }, { bgp: { password: 's' } });
  assert.deepEqual(snap.policy.serviceEndpoints.get('echo/echo'), { ips: ['2001:db8::5', '2001:db8::6'], ports: [{ protocol: 'TCP', port: 8080 }, { protocol: 'UDP', port: 53 }] });
  assert.deepEqual(snap.secrets, { bgp: { password: 's' } });
});

test('Calico NetworkPolicies are refused by name, not ignored', () => {
  assert.throws(() => snapshotOf({ ...empty, calicoNetworkPolicies: [{ metadata: { name: 'p', namespace: 'x' } }] }, {}), /Calico NetworkPolicies \(namespaced, crd\.projectcalico\.org\) are not supported/);
});
