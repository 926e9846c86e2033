/**
 * Property tests of the address planner over random specs (written as YAML
 * and read back through the decoder):
 *   - every range sits where the layout (README, "The address plan") puts
 *     it, the ranges are disjoint and inside the block;
 *   - the decoder accepts a pod pool exactly when it fits and holds a block
 *     per machine, and refuses every other one with the fix;
 *   - machines get distinct /127s inside the node range (lab);
 *   - growth never renumbers: more machines, new pools (anywhere in the
 *     list), new optional ranges leave every existing address where it was.
 *
 * The expectations are derived here from the layout's rules, never from the
 * planner's own functions: /64 #0 nodes, #1 Services, #2 LoadBalancers,
 * #3 external IPs, #4 the NAT64 prefix (its first /96; both platforms
 * translate by default), the pod pool from /64 #8 at the first offset aligned to
 * its size. In a /32 to /60 block, that pool fits exactly when it is smaller
 * than the block (a pool of at least 8 /64s starts at its own size, so at
 * best it is the block's upper half; a smaller one starts at #8, and a /60
 * block has 16 /64s).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { contains, formatAddress, formatPrefix, overlaps } from '../../lib/net/ipv6.js';
import type { AddressPlan } from '../../lib/plan/addressPlan.js';
import { loadCluster } from '../../lib/platforms/load.js';
import { formatProblem } from '../../lib/cluster/problems.js';

const RUNS = 1000;

interface Doc {
  platform: 'lab' | 'equinix-metal';
  blockLength: number;
  blockBits: bigint;
  cp: number;
  pools: Array<{ name: string; count: number }>;
  serviceRangeSize: number;
  podPoolSize: number;
  podBlockSize: number;
  lb?: number;
  ext?: number;
}

const poolName = fc.stringMatching(/^[a-z][a-z0-9]{0,6}$/).filter((n) => n !== 'cp');

/** The spec's ranges (README, "The cluster spec"), written out here rather than read from the product. */
const SERVICE_RANGE = { min: 108, max: 120 };
const POD_POOL = { min: 48, max: 112 };
const POD_BLOCK = { min: 116, max: 128 };
const OPTIONAL_RANGE = { min: 64, max: 124 };

/** The largest pod pool (smallest prefix length) a /blockLength block holds after its fixed ranges: its upper half. */
const largestPool = (blockLength: number) => Math.max(POD_POOL.min, blockLength + 1);
const machinesOf = (d: Pick<Doc, 'cp' | 'pools'>) => d.cp + d.pools.reduce((n, p) => n + p.count, 0);
/** Bits needed to give each of n machines its own IPAM block: ceil(log2 n). */
const bitsFor = (n: number) => Math.ceil(Math.log2(Math.max(1, n)));

const shapeArb = fc
  .record({
    platform: fc.constantFrom<'lab' | 'equinix-metal'>('lab', 'equinix-metal'),
    blockLength: fc.integer({ min: 33, max: 60 }),
    blockBits: fc.bigInt({ min: 0n, max: (1n << 24n) - 1n }),
    cp: fc.constantFrom(1, 3, 5),
    pools: fc.uniqueArray(fc.record({ name: poolName, count: fc.integer({ min: 0, max: 12 }) }), { selector: (p) => p.name, maxLength: 4 }),
    serviceRangeSize: fc.integer(SERVICE_RANGE),
    lb: fc.option(fc.integer(OPTIONAL_RANGE), { nil: undefined }),
    ext: fc.option(fc.integer(OPTIONAL_RANGE), { nil: undefined }),
  })
  .map((d) => (d.platform === 'equinix-metal' ? { ...d, blockLength: 56 } : d));

/** Valid specs by construction: a pool that fits and holds a block per machine. */
const docArb: fc.Arbitrary<Doc> = shapeArb.chain((d) =>
  fc.integer({ min: largestPool(d.blockLength), max: POD_POOL.max }).chain((podPoolSize) =>
    fc.integer({ min: Math.max(POD_BLOCK.min, podPoolSize + bitsFor(machinesOf(d))), max: POD_BLOCK.max }).map((podBlockSize): Doc => ({ ...d, podPoolSize, podBlockSize })),
  ),
);

/** Any pool and block size in their ranges, fitting or not. */
const anyPoolArb: fc.Arbitrary<Doc> = shapeArb.chain((d) =>
  fc.record({ podPoolSize: fc.integer(POD_POOL), podBlockSize: fc.integer(POD_BLOCK) }).map((sizes): Doc => ({ ...d, ...sizes })),
);

/** The block: random bits below 2001:db8::/32, aligned to its length, clear of the lab provider's 2001:db8:ffff::/48. */
function blockText(d: Doc): string {
  const base = 0x20010db8n << 96n;
  const mask = ((1n << 128n) - 1n) ^ ((1n << BigInt(128 - d.blockLength)) - 1n);
  const address0 = (base | (d.blockBits << 72n)) & mask;
  const address = address0 & ~(1n << 95n); // third group below 0x8000: never 2001:db8:ffff::
  return `${formatAddress(address)}/${d.blockLength}`;
}

function yamlOf(d: Doc): string {
  const metal = d.platform === 'equinix-metal';
  return stringify({
    apiVersion: 'native6.dev/v1alpha1',
    kind: 'Cluster',
    metadata: { name: 'prop' },
    spec: {
      platform: d.platform,
      ...(metal ? { metro: 'da', gitops: { url: 'https://github.com/example/clusters' } } : {}),
      kubernetesVersion: 'v1.35.4',
      controlPlane: { count: d.cp, ...(metal ? { plan: 'c3.small.x86' } : {}) },
      workers: d.pools.map((p) => ({ name: p.name, count: p.count, ...(metal ? { plan: 'm3.small.x86' } : {}) })),
      network: {
        block: blockText(d),
        serviceRangeSize: d.serviceRangeSize,
        podPoolSize: d.podPoolSize,
        podBlockSize: d.podBlockSize,
        ...(d.lb !== undefined ? { loadBalancerRangeSize: d.lb } : {}),
        ...(d.ext !== undefined ? { externalIPRangeSize: d.ext } : {}),
      },
    },
  });
}

function plan(d: Doc): AddressPlan {
  const r = loadCluster('prop.yaml', yamlOf(d));
  if (!r.ok) throw new Error(`generated spec refused:\n${r.problems.map(formatProblem).join('\n')}\n${yamlOf(d)}`);
  return r.plan;
}

const slot64 = (p: AddressPlan, n: bigint) => formatPrefix({ address: p.block.address + (n << 64n), length: 64 });
const at = (p: AddressPlan, n: bigint, length: number) => formatPrefix({ address: p.block.address + (n << 64n), length });

test('every range sits where the layout puts it; the ranges are disjoint and inside the block', () => {
  fc.assert(
    fc.property(docArb, (d) => {
      const p = plan(d);
      assert.equal(formatPrefix(p.block), blockText(d));
      assert.equal(formatPrefix(p.nodes), slot64(p, 0n));
      assert.equal(formatPrefix(p.services), at(p, 1n, d.serviceRangeSize));
      // The kubernetes Service ClusterIP is the first host of the Service range.
      assert.equal(formatAddress(p.apiServer), formatAddress(p.block.address + (1n << 64n) + 1n));
      assert.equal(p.loadBalancers && formatPrefix(p.loadBalancers), d.lb === undefined ? undefined : at(p, 2n, d.lb));
      assert.equal(p.externalIPs && formatPrefix(p.externalIPs), d.ext === undefined ? undefined : at(p, 3n, d.ext));
      assert.equal(p.nat64 && formatPrefix(p.nat64), at(p, 4n, 96));
      // A pool of 8 /64s or fewer starts at /64 #8; a larger one at the first multiple of its size.
      const poolSlots = d.podPoolSize >= 64 ? 1n : 1n << BigInt(64 - d.podPoolSize);
      assert.equal(formatPrefix(p.pods.pool), at(p, poolSlots <= 8n ? 8n : poolSlots, d.podPoolSize));
      assert.equal(p.pods.blockSize, d.podBlockSize);
      assert.equal(p.pods.blocks, 1n << BigInt(d.podBlockSize - d.podPoolSize));
      assert.equal(p.machines.length, machinesOf(d));

      const carved = p.ranges.filter((r) => r.name !== 'block' && r.name !== 'apiserver');
      assert.deepEqual(
        carved.map((r) => r.name),
        ['nodes', 'services', ...(d.lb !== undefined ? ['load-balancers'] : []), ...(d.ext !== undefined ? ['external-ips'] : []), 'nat64', 'pods'],
      );
      for (const r of p.ranges) assert.ok(contains(p.block, r.prefix), `${r.name} ${formatPrefix(r.prefix)} outside ${formatPrefix(p.block)}`);
      for (let i = 0; i < carved.length; i++) {
        for (let j = i + 1; j < carved.length; j++) {
          assert.ok(!overlaps(carved[i]!.prefix, carved[j]!.prefix), `${carved[i]!.name} overlaps ${carved[j]!.name}`);
        }
      }
    }),
    { numRuns: RUNS },
  );
});

test('a pod pool is accepted exactly when it fits in the block and holds a block per machine', () => {
  fc.assert(
    fc.property(anyPoolArb, (d) => {
      const r = loadCluster('prop.yaml', yamlOf(d));
      const fits = d.podPoolSize > d.blockLength;
      const holds = d.podBlockSize - d.podPoolSize >= bitsFor(machinesOf(d));
      const problems = r.ok ? [] : r.problems.map((x) => `${x.field}: ${x.message}. Fix: ${x.fix}`);
      if (fits && holds) {
        assert.deepEqual(problems, []);
        return;
      }
      if (!fits) {
        const blockSlots = 1n << BigInt(64 - d.blockLength);
        const poolSlots = 1n << BigInt(64 - d.podPoolSize);
        assert.deepEqual(problems, [
          `spec.network.podPoolSize: a /${d.podPoolSize} pod pool does not fit in a /${d.blockLength} block after its fixed ranges (the block has ${blockSlots} /64s, the first 8 are fixed ranges, and the pool needs ${poolSlots} /64s aligned to its size). Fix: use a smaller pod pool (podPoolSize ${d.blockLength + 1} or more) or a larger block`,
        ]);
        return;
      }
      const machines = machinesOf(d);
      assert.deepEqual(problems, [
        `spec.network.podBlockSize: a /${d.podPoolSize} pod pool holds ${2 ** (d.podBlockSize - d.podPoolSize)} /${d.podBlockSize} blocks, fewer than the ${machines} nodes that each need one. Fix: use a larger pod pool (smaller podPoolSize) or smaller blocks (larger podBlockSize)`,
      ]);
    }),
    { numRuns: RUNS },
  );
});

test('the largest pod pool a block holds is its upper half; the next larger one is refused', () => {
  const lab = (block: string, podPoolSize: number) =>
    stringify({
      apiVersion: 'native6.dev/v1alpha1',
      kind: 'Cluster',
      metadata: { name: 'edge' },
      spec: { platform: 'lab', kubernetesVersion: 'v1.35.4', network: { block, podPoolSize } },
    });
  const cases: Array<[string, number, string]> = [
    ['2001:db8:100::/56', 57, '2001:db8:100:80::/57'],
    ['2001:db8:100::/60', 61, '2001:db8:100:8::/61'],
    ['2001:db8:100::/60', 64, '2001:db8:100:8::/64'],
    ['2001:db8:100::/47', 48, '2001:db8:101::/48'],
    ['2001:db8::/33', 48, '2001:db8:1::/48'],
  ];
  for (const [block, size, pool] of cases) {
    const r = loadCluster('edge.yaml', lab(block, size));
    assert.ok(r.ok, r.ok ? '' : r.problems.map(formatProblem).join('\n'));
    if (!r.ok) continue;
    assert.equal(formatPrefix(r.plan.pods.pool), pool, `a /${size} pool in ${block}`);
  }
  const refused = loadCluster('edge.yaml', lab('2001:db8:100::/56', 56));
  assert.equal(refused.ok, false);
  const refusedSmall = loadCluster('edge.yaml', lab('2001:db8:100::/60', 60));
  assert.equal(refusedSmall.ok, false);
  if (refusedSmall.ok) return;
  assert.deepEqual(refusedSmall.problems.map(formatProblem), [
    'edge.yaml:10:18: spec.network.podPoolSize: a /60 pod pool does not fit in a /60 block after its fixed ranges (the block has 16 /64s, the first 8 are fixed ranges, and the pool needs 16 /64s aligned to its size). Fix: use a smaller pod pool (podPoolSize 61 or more) or a larger block',
  ]);
});

test('lab machines get distinct /127s inside the node range', () => {
  fc.assert(
    fc.property(
      docArb.filter((d) => d.platform === 'lab'),
      (d) => {
        const p = plan(d);
        const seen = new Set<bigint>();
        for (const m of p.machines) {
          assert.ok(m.link, `${m.name} has no address`);
          assert.ok(contains(p.nodes, m.link.prefix));
          assert.equal(m.link.gateway % 2n, 0n);
          assert.equal(m.link.address, m.link.gateway + 1n);
          assert.ok(!seen.has(m.link.gateway), `${m.name} reuses a /127`);
          seen.add(m.link.gateway);
        }
        assert.equal(p.machines.length, machinesOf(d));
      },
    ),
    { numRuns: RUNS },
  );
});

test('growth never renumbers what exists', () => {
  const growth = fc.record({
    extraCp: fc.constantFrom(0, 2),
    more: fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 4, maxLength: 4 }),
    newPools: fc.uniqueArray(fc.record({ name: poolName, count: fc.integer({ min: 1, max: 4 }), at: fc.nat() }), { selector: (p) => p.name, maxLength: 2 }),
    lb: fc.integer(OPTIONAL_RANGE),
    ext: fc.integer(OPTIONAL_RANGE),
  });
  fc.assert(
    fc.property(docArb, growth, (d, g) => {
      const pools = d.pools.map((p, i) => ({ ...p, count: p.count + g.more[i]! }));
      for (const np of g.newPools) {
        if (pools.some((p) => p.name === np.name)) continue;
        pools.splice(np.at % (pools.length + 1), 0, { name: np.name, count: np.count });
      }
      const grown: Doc = { ...d, cp: Math.min(5, d.cp + g.extraCp), pools, lb: d.lb ?? g.lb, ext: d.ext ?? g.ext };
      fc.pre(grown.podBlockSize - grown.podPoolSize >= bitsFor(machinesOf(grown)));

      const before = plan(d);
      const after = plan(grown);
      for (const name of ['nodes', 'services', 'apiserver', 'pods', 'load-balancers', 'external-ips', 'nat64'] as const) {
        const b = before.ranges.find((r) => r.name === name);
        const a = after.ranges.find((r) => r.name === name);
        if (b) assert.equal(formatPrefix(a!.prefix), formatPrefix(b.prefix), `${name} moved`);
      }
      const afterByName = new Map(after.machines.map((m) => [m.name, m]));
      for (const m of before.machines) {
        const n = afterByName.get(m.name);
        assert.ok(n, `${m.name} disappeared`);
        assert.equal(n.link?.address, m.link?.address, `${m.name} was renumbered`);
      }
    }),
    { numRuns: RUNS },
  );
});
