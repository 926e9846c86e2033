/**
 * The address planner by example (the properties are in
 * addressPlan.property.test.ts): the rows people read (npm run plan, the PR
 * comment), the machines, the pool placement at its edges, pools whose names
 * hash to the same slot, and what planAddresses refuses when called on a spec
 * the decoder did not check. Expected values are written out.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { formatPrefix, parsePrefix } from '../../lib/net/ipv6.js';
import { machineRows, nat64Default, nat64Overlaps, planAddresses, PlanError, planRows, poolSlot, slotCollisions } from '../../lib/plan/addressPlan.js';
import { podPoolPlacement, SLOT } from '../../lib/plan/layout.js';
import { textTable } from '../../lib/plan/table.js';
import { nodeCount, type ClusterSpec } from '../../lib/cluster/cluster.js';
import { loadCluster } from '../../lib/platforms/load.js';
import { formatProblem } from '../../lib/cluster/problems.js';

function load(file: string, text = readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8')) {
  const r = loadCluster(file, text);
  assert.ok(r.ok, r.ok ? '' : r.problems.map(formatProblem).join('\n'));
  return r;
}

const SERVICES = 'Service ClusterIPs, announced from every node (ECMP)';
const API = 'the kubernetes Service ClusterIP: the API endpoint, reachable from outside';
const LB = 'LoadBalancer IPs, /128 per Service from nodes with endpoints when Local';
const EXT = 'Service externalIPs, /128 per Service from nodes with endpoints when Local';
const PODS = 'pod pool: Calico IPAM blocks of /122 (2^58 blocks), announced by the node that holds each';
const NAT64 = 'NAT64: pods reach IPv4-only hosts through it (DNS64 answers), translated on each node with its own IPv4; never announced';

test('plan rows: the lab, each range with its prefix and purpose', () => {
  assert.deepEqual(planRows(load('infra/lab.yaml').plan), [
    { range: 'block', prefix: '2001:db8:100::/56', purpose: 'reserved block (spec.network.block)' },
    { range: 'nodes', prefix: '2001:db8:100::/64', purpose: 'node addresses: one /127 per machine (gateway even, machine odd)' },
    { range: 'services', prefix: '2001:db8:100:1::/112', purpose: SERVICES },
    { range: 'apiserver', prefix: '2001:db8:100:1::1/128', purpose: API },
    { range: 'load-balancers', prefix: '2001:db8:100:2::/120', purpose: LB },
    { range: 'external-ips', prefix: '2001:db8:100:3::/120', purpose: EXT },
    { range: 'nat64', prefix: '2001:db8:100:4::/96', purpose: NAT64 },
    { range: 'pods', prefix: '2001:db8:100:8::/64', purpose: PODS },
  ]);
});

test('plan rows: Equinix Metal, with the block given and with only its size', () => {
  const text = readFileSync(new URL('../../infra/dfw.yaml', import.meta.url), 'utf8');
  const given = planRows(load('infra/dfw.yaml', text).plan);
  assert.deepEqual(given.slice(0, 2), [
    { range: 'block', prefix: '2001:db8:2a00::/56', purpose: 'reserved block (spec.network.block)' },
    { range: 'nodes', prefix: '2001:db8:2a00::/64', purpose: "node addresses: the provider's /127 per device" },
  ]);
  const requested = load('infra/dfw.yaml', text.replace('block: 2001:db8:2a00::/56', 'blockSize: 56'));
  assert.equal(requested.plan.resolved, false);
  assert.deepEqual(planRows(requested.plan), [
    // Relative to the block until apply records it: its bits written x (lib/plan/relativeText.ts).
    { range: 'block', prefix: 'xxxx:xxxx:xxxx:xx00::/56', purpose: 'reserved block: the /56 the provider assigns, recorded at apply (x: its bits, not known yet)' },
    { range: 'nodes', prefix: 'xxxx:xxxx:xxxx:xx00::/64', purpose: "node addresses: the provider's /127 per device" },
    { range: 'services', prefix: 'xxxx:xxxx:xxxx:xx01::/112', purpose: SERVICES },
    { range: 'apiserver', prefix: 'xxxx:xxxx:xxxx:xx01::1/128', purpose: API },
    { range: 'load-balancers', prefix: 'xxxx:xxxx:xxxx:xx02::/120', purpose: LB },
    { range: 'external-ips', prefix: 'xxxx:xxxx:xxxx:xx03::/120', purpose: EXT },
    { range: 'nat64', prefix: 'xxxx:xxxx:xxxx:xx04::/96', purpose: NAT64 },
    { range: 'pods', prefix: 'xxxx:xxxx:xxxx:xx08::/64', purpose: PODS },
  ]);
});

test('the NAT64 prefix: the first /96 of the block\'s /64 #4, or the spec\'s own (said so); no row and none in the plan without NAT64', () => {
  const lab = readFileSync(new URL('../../infra/lab.yaml', import.meta.url), 'utf8');
  const plan = load('infra/lab.yaml', lab).plan;
  assert.equal(SLOT.nat64, 4n);
  assert.equal(formatPrefix(plan.nat64!), '2001:db8:100:4::/96');
  assert.equal(formatPrefix(nat64Default(parsePrefix('2001:db8:100::/56'))), '2001:db8:100:4::/96');
  assert.equal(formatPrefix(nat64Default(parsePrefix('2001:db8::/33'))), '2001:db8:0:4::/96');
  const own = load('infra/lab.yaml', `${lab}  egress:\n    nat64Prefix: 2001:db8:100:7::/96\n`).plan;
  assert.equal(formatPrefix(own.nat64!), '2001:db8:100:7::/96');
  assert.deepEqual(planRows(own).find((r) => r.range === 'nat64'), {
    range: 'nat64',
    prefix: '2001:db8:100:7::/96',
    purpose: 'NAT64 (spec.egress.nat64Prefix): pods reach IPv4-only hosts through it (DNS64 answers), translated on each node with its own IPv4; never announced',
  });
  // (The lab refuses ipv4: none, its machines' resolver being IPv4 only: the plan is asked directly.)
  const labSpec = load('infra/lab.yaml').spec;
  const none = planAddresses({ ...labSpec, egress: { ipv4: 'none' } });
  assert.equal(none.nat64, undefined);
  assert.deepEqual(planRows(none).map((r) => r.range), ['block', 'nodes', 'services', 'apiserver', 'load-balancers', 'external-ips', 'pods']);
  // Nothing else moves with it.
  assert.deepEqual(planRows(none), planRows(plan).filter((r) => r.range !== 'nat64'));
});

test('nat64Overlaps: the carved ranges a NAT64 prefix overlaps, the block and the API server\'s address aside', () => {
  const { plan } = load('infra/lab.yaml');
  const at = (prefix: string) => nat64Overlaps({ ...plan, nat64: parsePrefix(prefix) }).map((r) => r.name);
  assert.deepEqual(at('2001:db8:100:4::/96'), []);
  assert.deepEqual(at('2001:db8:100:6::/96'), []);
  assert.deepEqual(at('64:ff9b::/96'), []);
  assert.deepEqual(at('2001:db8:100::/96'), ['nodes']);
  assert.deepEqual(at('2001:db8:100:1::/96'), ['services']);
  assert.deepEqual(at('2001:db8:100:1:0:1::/96'), []);
  assert.deepEqual(at('2001:db8:100:2::/96'), ['load-balancers']);
  assert.deepEqual(at('2001:db8:100:3::/96'), ['external-ips']);
  assert.deepEqual(at('2001:db8:100:8:1::/96'), ['pods']);
  const { nat64: _none, ...without } = plan;
  assert.deepEqual(nat64Overlaps(without), []);
});

test('plan rows: the number of IPAM blocks is written out up to 2^20, as a power above', () => {
  const lab = readFileSync(new URL('../../infra/lab.yaml', import.meta.url), 'utf8');
  const pods = (poolSize: number, blockSize: number) =>
    planRows(load('infra/lab.yaml', lab.replace('podPoolSize: 64', `podPoolSize: ${poolSize}`).replace('podBlockSize: 122', `podBlockSize: ${blockSize}`)).plan).find((r) => r.range === 'pods');
  assert.deepEqual(pods(108, 128), { range: 'pods', prefix: '2001:db8:100:8::/108', purpose: 'pod pool: Calico IPAM blocks of /128 (1048576 blocks), announced by the node that holds each' });
  assert.deepEqual(pods(107, 128), { range: 'pods', prefix: '2001:db8:100:8::/107', purpose: 'pod pool: Calico IPAM blocks of /128 (2^21 blocks), announced by the node that holds each' });
  assert.deepEqual(pods(112, 116), { range: 'pods', prefix: '2001:db8:100:8::/112', purpose: 'pod pool: Calico IPAM blocks of /116 (16 blocks), announced by the node that holds each' });
});

test('machines: control planes, then each pool in spec order, named, numbered and addressed', () => {
  const { plan } = load('infra/lab.yaml');
  assert.deepEqual(
    plan.machines.map((m) => [m.name, m.role, m.pool, m.index, m.plan]),
    [
      ['lab-cp-1', 'control-plane', 'cp', 1, 'lab'],
      ['lab-cp-2', 'control-plane', 'cp', 2, 'lab'],
      ['lab-cp-3', 'control-plane', 'cp', 3, 'lab'],
      ['lab-general-1', 'worker', 'general', 1, 'lab'],
      ['lab-general-2', 'worker', 'general', 2, 'lab'],
    ],
  );
  assert.deepEqual(machineRows(plan), [
    { machine: 'lab-cp-1', role: 'control-plane', plan: 'lab', address: '2001:db8:100::3/127', gateway: '2001:db8:100::2' },
    { machine: 'lab-cp-2', role: 'control-plane', plan: 'lab', address: '2001:db8:100::5/127', gateway: '2001:db8:100::4' },
    { machine: 'lab-cp-3', role: 'control-plane', plan: 'lab', address: '2001:db8:100::7/127', gateway: '2001:db8:100::6' },
    // The pool's slot (FNV-1a of "general", 0x24b9216b) in bits 16..47 of the node /64.
    { machine: 'lab-general-1', role: 'worker', plan: 'lab', address: '2001:db8:100::24b9:216b:3/127', gateway: '2001:db8:100::24b9:216b:2' },
    { machine: 'lab-general-2', role: 'worker', plan: 'lab', address: '2001:db8:100::24b9:216b:5/127', gateway: '2001:db8:100::24b9:216b:4' },
  ]);
  assert.equal(formatPrefix(plan.machines[0]!.link!.prefix), '2001:db8:100::2/127');
  assert.equal(nodeCount(load('infra/lab.yaml').spec), 5);
  // On Equinix Metal the provider numbers the machines.
  const dfw = load('infra/dfw.yaml').plan;
  assert.deepEqual(
    dfw.machines.map((m) => m.link),
    dfw.machines.map(() => undefined),
  );
  assert.deepEqual(machineRows(dfw)[3], { machine: 'dfw-general-1', role: 'worker', plan: 'm3.small.x86', address: 'assigned by the provider', gateway: '-' });
});

test('pool placement at the edges of a block', () => {
  assert.deepEqual(podPoolPlacement(56, 57), { fits: true, firstSlot: 128n, largestFitting: 57, reason: 'fits' });
  assert.deepEqual(podPoolPlacement(56, 64), { fits: true, firstSlot: 8n, largestFitting: 57, reason: 'fits' });
  assert.deepEqual(podPoolPlacement(60, 61), { fits: true, firstSlot: 8n, largestFitting: 61, reason: 'fits' });
  assert.deepEqual(podPoolPlacement(56, 96), { fits: true, firstSlot: 8n, largestFitting: 57, reason: 'fits' });
  assert.deepEqual(podPoolPlacement(56, 56), {
    fits: false,
    firstSlot: 256n,
    largestFitting: 57,
    reason: 'the block has 256 /64s, the first 8 are fixed ranges, and the pool needs 256 /64s aligned to its size',
  });
});

test('pools whose names hash to the same slot are refused, naming both', () => {
  // FNV-1a gives "d058" and "etayf" the same 32-bit slot (found by search).
  assert.equal(poolSlot('d058'), poolSlot('etayf'));
  assert.equal(poolSlot('d058'), 0x83abe794n);
  assert.equal(poolSlot('cp'), 0n);
  const text = readFileSync(new URL('../../infra/lab.yaml', import.meta.url), 'utf8').replace(
    '    - name: general\n      count: 2',
    '    - name: general\n      count: 2\n    - name: d058\n      count: 1\n    - name: x\n      count: 1\n    - name: etayf\n      count: 1',
  );
  const r = loadCluster('infra/lab.yaml', text);
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.deepEqual(r.problems.map(formatProblem), ['infra/lab.yaml: spec.workers: pools "d058" and "etayf" hash to the same node address slot. Fix: rename pool "etayf"']);
});

/** A decoded lab spec, changed: for planAddresses on what the decoder would have refused. */
function labSpec(change: (s: ClusterSpec) => ClusterSpec): ClusterSpec {
  return change(load('infra/lab.yaml').spec);
}

test('planAddresses refuses, on its own, a pool that does not fit and pools that collide', () => {
  const tooLarge = labSpec((s) => ({ ...s, network: { ...s.network, podPoolSize: 56 } }));
  assert.throws(
    () => planAddresses(tooLarge),
    (e: unknown) => {
      assert.ok(e instanceof PlanError, String(e));
      assert.equal(e.name, 'PlanError');
      assert.equal(
        e.message,
        'a /56 pod pool does not fit in 2001:db8:100::/56: the block has 256 /64s, the first 8 are fixed ranges, and the pool needs 256 /64s aligned to its size',
      );
      return true;
    },
  );
  const colliding = labSpec((s) => ({ ...s, workers: [...s.workers, { name: 'd058', count: 1, plan: 'lab' }, { name: 'etayf', count: 1, plan: 'lab' }] }));
  assert.deepEqual(slotCollisions(colliding), [['d058', 'etayf']]);
  assert.throws(() => planAddresses(colliding), (e: unknown) => e instanceof PlanError && e.message === 'worker pools "d058" and "etayf" hash to the same address slot; rename one of them');
  assert.deepEqual(slotCollisions(labSpec((s) => s)), []);
  // A /57 pool in a given /56 sits in its upper half.
  const upper = planAddresses(labSpec((s) => ({ ...s, network: { ...s.network, block: { prefix: parsePrefix('2001:db8:100::/56'), length: 56 }, podPoolSize: 57 } })));
  assert.equal(formatPrefix(upper.pods.pool), '2001:db8:100:80::/57');
});

test('text tables: columns padded to the widest cell, headers in capitals, no trailing spaces', () => {
  const rows: Array<Record<string, string>> = [
    { range: 'nodes', prefix: '2001:db8:100::/64' },
    { range: 'load-balancers', prefix: '2001:db8:100:2::/120' },
    { range: 'x' },
  ];
  assert.equal(
    textTable(rows, ['range', 'prefix']),
    ['RANGE           PREFIX', 'nodes           2001:db8:100::/64', 'load-balancers  2001:db8:100:2::/120', 'x'].join('\n'),
  );
  assert.equal(textTable([], ['a', 'long']), 'A  LONG');
});

// From the mutation run of lib/plan (docs/mutation.md).

test('a pool whose name hashes to 0 takes slot 1, not the control planes\' slot', () => {
  // FNV-1a of "v1iraa1l" is 0 (found by a meet-in-the-middle search).
  const text = readFileSync(new URL('../../infra/lab.yaml', import.meta.url), 'utf8').replace('    - name: general\n      count: 2', '    - name: v1iraa1l\n      count: 1');
  const { plan } = load('infra/lab.yaml', text);
  assert.deepEqual(machineRows(plan).slice(3), [{ machine: 'lab-v1iraa1l-1', role: 'worker', plan: 'lab', address: '2001:db8:100::1:3/127', gateway: '2001:db8:100::1:2' }]);
});

test('text tables: a missing cell is blank and does not widen its column', () => {
  assert.equal(textTable([{ a: '1', b: 'x' }, { b: 'y' }], ['a', 'b']), ['A  B', '1  x', '   y'].join('\n'));
});
