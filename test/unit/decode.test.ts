/**
 * The spec decoder's paths that the fixtures of spec.test.ts leave out (from
 * the mutation run of lib/cluster/decode.ts): a missing Kubernetes version, a
 * version with text before it, the name checks with the file name asked for,
 * a DNS zone or record name that is not a string, and where `locate` finds a field;
 * and what the platforms' rules (lib/platforms/<platform>/rules.ts) answer that the
 * fixtures leave out.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeCluster } from '../../lib/cluster/decode.js';
import { formatProblem } from '../../lib/cluster/problems.js';
import { loadCluster } from '../../lib/platforms/load.js';
import { platformRules } from '../../lib/platforms/index.js';

const lines = (...l: string[]) => `${l.join('\n')}\n`;

const lab = (name: string, ...spec: string[]) =>
  lines('apiVersion: native6.dev/v1alpha1', 'kind: Cluster', 'metadata:', `  name: ${name}`, 'spec:', '  platform: lab', ...spec);

const metal = (name: string, ...extra: string[]) =>
  lines(
    'apiVersion: native6.dev/v1alpha1',
    'kind: Cluster',
    'metadata:',
    `  name: ${name}`,
    'spec:',
    '  platform: equinix-metal',
    '  metro: da',
    '  kubernetesVersion: v1.35.4',
    '  controlPlane: {count: 3, plan: c3.small.x86}',
    '  network:',
    '    blockSize: 56',
    '  gitops:',
    '    url: https://github.com/example/clusters',
    ...extra,
  );

function problems(text: string, expectName?: string): string[] {
  const r = loadCluster('x.yaml', text, expectName === undefined ? {} : { expectName });
  assert.equal(r.ok, false, 'the spec should be refused');
  return r.ok ? [] : r.problems.map(formatProblem);
}

test('a spec without kubernetesVersion: the one problem says which field to add, with an example', () => {
  assert.deepEqual(problems(lab('edge', '  network:', '    block: 2001:db8:100::/56')), [
    'x.yaml:6:3: spec.kubernetesVersion: is required. Fix: add e.g. "kubernetesVersion: v1.35.4"',
  ]);
});

test('a Kubernetes version with anything before the v is not a release version', () => {
  for (const v of ['xv1.35.4', 'release-v1.35.4', ' v1.35.4 x']) {
    assert.deepEqual(problems(lab('edge', `  kubernetesVersion: "${v}"`, '  network:', '    block: 2001:db8:100::/56')), [
      `x.yaml:7:22: spec.kubernetesVersion: "${v}" is not a Kubernetes release version. Fix: write it as v1.MINOR.PATCH, e.g. v1.35.4`,
    ]);
  }
});

test('a cluster name that is not a string is reported once, not also as a file-name mismatch', () => {
  assert.deepEqual(problems(lab('42', '  kubernetesVersion: v1.35.4', '  network:', '    block: 2001:db8:100::/56'), 'edge'), [
    'x.yaml:4:9: metadata.name: must be a string, found the number 42. Fix: write the name as a string',
  ]);
});

test('with the cluster name wrong, the DNS record fix still shows a whole example name', () => {
  assert.deepEqual(problems(metal('Edge', 'dns:', '    zone: example.com', '    name: api.edge.example.com').replace('\ndns:', '\n  dns:')), [
    'x.yaml:4:9: metadata.name: "Edge" is not a valid cluster name. Fix: use at most 30 lower-case letters, digits and "-", starting and ending with a letter or digit',
    'x.yaml:16:11: spec.dns.name: "api.edge.example.com" is not a record name relative to the zone. Fix: write the name without the zone, e.g. api.cluster for api.cluster.<zone>',
  ]);
});

test('a DNS zone that is not a string, with a good record name: the zone\'s problem alone', () => {
  assert.deepEqual(problems(metal('edge', '  dns:', '    zone: 42', '    name: api')), [
    'x.yaml:15:11: spec.dns.zone: must be a string, found the number 42. Fix: write the zone as a string',
  ]);
});

test('a DNS record name that is not a string, in a good zone: the name\'s problem alone', () => {
  assert.deepEqual(problems(metal('edge', '  dns:', '    zone: example.com', '    name: 2')), [
    'x.yaml:16:11: spec.dns.name: must be a string, found the number 2. Fix: write the record name as a string',
  ]);
});

test('locate: the position of the first of the fields that the file sets, nothing when it sets none', () => {
  const r = decodeCluster('x.yaml', lab('edge', '  kubernetesVersion: v1.35.4', '  network:', '    block: 2001:db8:100::/56', '    podPoolSize: 60'), platformRules);
  assert.ok(r.ok);
  if (!r.ok) return;
  const pool = ['spec', 'network', 'podPoolSize'];
  const block = ['spec', 'network', 'block'];
  const size = ['spec', 'network', 'blockSize'];
  assert.deepEqual(r.locate(pool, block), { line: 10, column: 18 });
  assert.deepEqual(r.locate(size, block, pool), { line: 9, column: 12 });
  assert.deepEqual(r.locate(size), {});
  assert.deepEqual(r.locate(), {});
});

test('on Equinix Metal, a machine plan that is not a string is refused with how to write one', () => {
  const text = metal('edge', '  workers:', '    - {name: general, count: 2, plan: [c3.small.x86]}').replace('plan: c3.small.x86}', 'plan: 3}');
  assert.deepEqual(problems(text), [
    'x.yaml:9:34: spec.controlPlane.plan: must be a string, found the number 3. Fix: write the plan as a string, e.g. c3.small.x86',
    'x.yaml:15:39: spec.workers[0].plan: must be a string, found a list. Fix: write the plan as a string, e.g. c3.small.x86',
  ]);
});

test('an Equinix Metal spec leaves the node addresses to the provider, a lab spec plans them', () => {
  const decoded = (text: string) => {
    const r = loadCluster('x.yaml', text);
    assert.ok(r.ok, r.ok ? '' : r.problems.map(formatProblem).join('\n'));
    return r.spec;
  };
  assert.equal(decoded(metal('edge')).nodeAddresses, 'provider');
  assert.equal(decoded(lab('edge', '  kubernetesVersion: v1.35.4', '  network:', '    block: 2001:db8:100::/56')).nodeAddresses, 'planned');
});
