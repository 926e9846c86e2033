/**
 * Property tests of the address planner over random valid specs (written as
 * YAML and read back through the decoder, so every generated spec is also a
 * spec the decoder must accept):
 *   - ranges are disjoint and inside the block, sizes legal;
 *   - machines get distinct /127s inside the node range (lab);
 *   - growth never renumbers: more machines, new pools (anywhere in the
 *     list), new optional ranges leave every existing address where it was.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { contains, containsAddress, formatAddress, formatPrefix, overlaps } from '../../lib/net/ipv6.js';
import type { AddressPlan } from '../../lib/plan/addressPlan.js';
import { podPoolPlacement } from '../../lib/plan/layout.js';
import { LIMITS } from '../../lib/spec/cluster.js';
import { loadCluster } from '../../lib/spec/load.js';
import { formatProblem } from '../../lib/spec/problems.js';

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

const docArb: fc.Arbitrary<Doc> = fc
  .record({
    platform: fc.constantFrom<'lab' | 'equinix-metal'>('lab', 'equinix-metal'),
    blockLength: fc.integer({ min: 40, max: 60 }),
    blockBits: fc.bigInt({ min: 0n, max: (1n << 24n) - 1n }),
    cp: fc.constantFrom(1, 3, 5),
    pools: fc.uniqueArray(fc.record({ name: poolName, count: fc.integer({ min: 0, max: 12 }) }), { selector: (p) => p.name, maxLength: 4 }),
    serviceRangeSize: fc.integer({ min: LIMITS.serviceRangeMin, max: LIMITS.serviceRangeMax }),
    podPoolSize: fc.integer({ min: LIMITS.podPoolMin, max: LIMITS.podPoolMax }),
    podBlockSize: fc.integer({ min: LIMITS.podBlockMin, max: LIMITS.podBlockMax }),
    lb: fc.option(fc.integer({ min: LIMITS.rangeMin, max: LIMITS.rangeMax }), { nil: undefined }),
    ext: fc.option(fc.integer({ min: LIMITS.rangeMin, max: LIMITS.rangeMax }), { nil: undefined }),
  })
  .map((d) => (d.platform === 'equinix-metal' ? { ...d, blockLength: 56 } : d))
  .filter((d) => podPoolPlacement(d.blockLength, d.podPoolSize).fits)
  .filter((d) => d.podBlockSize >= d.podPoolSize)
  .filter((d) => 1n << BigInt(d.podBlockSize - d.podPoolSize) >= BigInt(d.cp + d.pools.reduce((n, p) => n + p.count, 0)));

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

test('ranges are disjoint, inside the block, and of legal sizes', () => {
  fc.assert(
    fc.property(docArb, (d) => {
      const p = plan(d);
      const carved = p.ranges.filter((r) => r.name !== 'block' && r.name !== 'apiserver');
      for (const r of p.ranges) assert.ok(contains(p.block, r.prefix), `${r.name} ${formatPrefix(r.prefix)} outside ${formatPrefix(p.block)}`);
      for (let i = 0; i < carved.length; i++) {
        for (let j = i + 1; j < carved.length; j++) {
          assert.ok(!overlaps(carved[i]!.prefix, carved[j]!.prefix), `${carved[i]!.name} overlaps ${carved[j]!.name}`);
        }
      }
      assert.ok(p.services.length >= LIMITS.serviceRangeMin && p.services.length <= LIMITS.serviceRangeMax);
      assert.equal(p.apiServer, p.services.address + 1n);
      assert.ok(containsAddress(p.services, p.apiServer));
      assert.ok(p.pods.blockSize >= p.pods.pool.length && p.pods.blockSize >= LIMITS.podBlockMin && p.pods.blockSize <= LIMITS.podBlockMax);
      assert.ok(p.pods.blocks >= BigInt(p.machines.length));
      assert.equal(p.nodes.length, 64);
    }),
    { numRuns: RUNS },
  );
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
        assert.equal(p.machines.length, d.cp + d.pools.reduce((n, x) => n + x.count, 0));
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
    lb: fc.integer({ min: LIMITS.rangeMin, max: LIMITS.rangeMax }),
    ext: fc.integer({ min: LIMITS.rangeMin, max: LIMITS.rangeMax }),
  });
  fc.assert(
    fc.property(docArb, growth, (d, g) => {
      const pools = d.pools.map((p, i) => ({ ...p, count: p.count + g.more[i]! }));
      for (const np of g.newPools) {
        if (pools.some((p) => p.name === np.name)) continue;
        pools.splice(np.at % (pools.length + 1), 0, { name: np.name, count: np.count });
      }
      const grown: Doc = { ...d, cp: Math.min(5, d.cp + g.extraCp), pools, lb: d.lb ?? g.lb, ext: d.ext ?? g.ext };
      const nodes = grown.cp + pools.reduce((n, p) => n + p.count, 0);
      fc.pre(1n << BigInt(grown.podBlockSize - grown.podPoolSize) >= BigInt(nodes));

      const before = plan(d);
      const after = plan(grown);
      for (const name of ['nodes', 'services', 'apiserver', 'pods', 'load-balancers', 'external-ips'] as const) {
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
