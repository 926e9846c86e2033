/**
 * spec.network and spec.policy (lib/cluster/network.ts): a field present but
 * empty is taken as absent, as everywhere in the spec; the paths the fixtures
 * of spec.test.ts leave out (from the mutation run of network.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatPrefix } from '../../lib/net/ipv6.js';
import { formatProblem } from '../../lib/cluster/problems.js';
import { loadCluster } from '../../lib/platforms/load.js';

const lab = (...spec: string[]) =>
  ['apiVersion: native6.dev/v1alpha1', 'kind: Cluster', 'metadata:', '  name: edge', 'spec:', '  platform: lab', '  kubernetesVersion: v1.35.4', ...spec, ''].join('\n');

function problems(text: string): string[] {
  const r = loadCluster('x.yaml', text);
  assert.equal(r.ok, false, 'the spec should be refused');
  return r.ok ? [] : r.problems.map(formatProblem);
}

test('an empty network section is missing, reported at its key', () => {
  assert.deepEqual(problems(lab('  network:', '  policy: {}')), [
    'x.yaml:8:3: spec.network: is required. Fix: add a network section with at least the reserved block, e.g. "block: 2001:db8:100::/56"',
  ]);
});

test('localASN equal to an empty peerASN (the provider\'s default): localASN is the one to change', () => {
  assert.deepEqual(problems(lab('  network:', '    block: 2001:db8:100::/56', '    localASN: 65530', '    peerASN:')), [
    "x.yaml:10:15: spec.network.localASN: is 65530, the provider's ASN (peerASN, 65530 by default); the nodes peer with the provider over eBGP. Fix: set localASN to a private ASN of the cluster's own, e.g. 65000",
  ]);
});

test('empty publicSources and trustedSources take their defaults: the whole internet, and no one more trusted', () => {
  const r = loadCluster('x.yaml', lab('  network:', '    block: 2001:db8:100::/56', '  policy:', '    publicSources:', '    trustedSources:'));
  assert.ok(r.ok, r.ok ? '' : r.problems.map(formatProblem).join('\n'));
  if (!r.ok) return;
  assert.deepEqual(r.spec.policy.publicSources.map(formatPrefix), ['::/0']);
  assert.deepEqual(r.spec.policy.trustedSources, []);
});
