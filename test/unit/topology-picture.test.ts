/**
 * The fabric picture (lib/report/topology.ts): Mermaid and SVG goldens, with
 * and without the egress path, deterministic, escaped; a picture without
 * egress (an older report's) draws as before.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mermaidTopology, svgTopology, type FabricPicture } from '../../lib/report/topology.js';
import { assertGolden } from '../golden.js';

const routes = [
  { prefix: '2001:db8:100:1::/112', via: ['cp-1', 'cp-2', 'w-1'], kind: 'service-range' as const },
  { prefix: '2001:db8:100:3::2/128', via: ['w-1'], kind: 'service-128' as const },
  { prefix: '2001:db8:100:8::40/122', via: ['cp-1'], kind: 'pod-block' as const },
  { prefix: '2001:db8:100:8::80/122', via: ['w-1'], kind: 'pod-block' as const },
];
const picture: FabricPicture = {
  cluster: 'demo <lab>',
  routers: [
    { name: 'r1', peerIP: '2001:db8:ffff::e', sessions: ['cp-1', 'cp-2', 'w-1'], routes },
    { name: 'r2', peerIP: '2001:db8:ffff::f', sessions: ['cp-1', 'w-1'], routes },
  ],
  machines: [
    { name: 'cp-1', address: '2001:db8:100::3', role: 'control-plane' },
    { name: 'cp-2', address: '2001:db8:100::5', role: 'control-plane' },
    { name: 'w-1', address: '2001:db8:100::7', role: 'worker' },
  ],
};

/** The same cluster with NAT64: every node translates with its own IPv4. */
const withEgress: FabricPicture = {
  ...picture,
  egress: {
    nat64: '2001:db8:100:4::/96',
    internetV4: '192.0.2.0/24',
    machines: [
      { name: 'cp-1', ipv4: '198.51.100.1' },
      { name: 'cp-2', ipv4: '198.51.100.3' },
      { name: 'w-1', ipv4: '198.51.100.5' },
    ],
  },
};

test('fabric picture: Mermaid and SVG (goldens)', () => {
  const mmd = mermaidTopology(picture);
  assertGolden('picture/demo.mmd', mmd);
  assert.match(mmd, /s1\(\["2001:db8:100:1::\/112<br\/>ECMP x3"\]\)/);
  assert.match(mmd, /r1 -\.-\|down\| m1/);
  const svg = svgTopology(picture);
  assertGolden('picture/demo.svg', svg);
  assert.match(svg, /demo &lt;lab&gt;/);
  assert.equal(svgTopology(picture), svg);
  assert.equal((svg.match(/stroke="#c77700" stroke-width="2.5"/g) ?? []).length, 1 + 1);
});

test('fabric picture with egress: the NAT64 box, the IPv4 internet and an edge from each machine with its IPv4 (goldens)', () => {
  const mmd = mermaidTopology(withEgress);
  assertGolden('picture/demo-egress.mmd', mmd);
  assert.match(mmd, /\n {2}nat64\{\{"NAT64 2001:db8:100:4::\/96<br\/>translated on each node, with its IPv4"\}\}\n/);
  assert.match(mmd, /\n {2}inet4\["IPv4 internet<br\/>192\.0\.2\.0\/24"\]\n/);
  assert.deepEqual(
    mmd.split('\n').filter((l) => l.includes('-->|')),
    ['  m0 -->|198.51.100.1| inet4', '  m1 -->|198.51.100.3| inet4', '  m2 -->|198.51.100.5| inet4'],
  );
  // The egress part only adds lines: everything an older report drew is there, in the same order.
  const before = mermaidTopology(picture).trimEnd().split('\n');
  const after = mmd.trimEnd().split('\n');
  assert.deepEqual(after.filter((l) => before.includes(l)), before);
  assert.deepEqual(after.filter((l) => !before.includes(l)).length, 2 + 3 + 2 + 1);

  const svg = svgTopology(withEgress);
  assertGolden('picture/demo-egress.svg', svg);
  assert.equal(svgTopology(withEgress), svg);
  assert.equal((svg.match(/<g class="egress-edge">/g) ?? []).length, 3);
  for (const ip of ['198.51.100.1', '198.51.100.3', '198.51.100.5']) assert.match(svg, new RegExp(`>${ip.replace(/\./g, '\\.')}</text></g>`));
  assert.match(svg, /<g class="nat64">[^\n]*\n<text [^>]*>NAT64 2001:db8:100:4::\/96<\/text>\n<text [^>]*>translated on each node, with its IPv4<\/text>\n<\/g>/);
  assert.match(svg, /<g class="internet-v4">[^\n]*\n<text [^>]*>IPv4 internet<\/text>\n<text [^>]*>192\.0\.2\.0\/24<\/text>\n<\/g>/);
  assert.match(svg, />NAT64 egress from the node's IPv4<\/text>/);
});

test('fabric picture without egress: no NAT64, no IPv4 internet, no egress edge', () => {
  for (const p of [picture, { ...picture, egress: undefined }]) {
    const mmd = mermaidTopology(p);
    assert.doesNotMatch(mmd, /nat64|inet4|egress|NAT64|IPv4/);
    const svg = svgTopology(p);
    assert.doesNotMatch(svg, /nat64|internet-v4|egress|NAT64|IPv4/);
  }
});

test('fabric picture: egress edges follow the machines of the picture, in their order', () => {
  const partial: FabricPicture = {
    ...picture,
    egress: {
      nat64: '64:ff9b::/96',
      // w-1 before cp-1; cp-2 has none; gone-1 is not in the picture; cp-1 twice (the first one counts).
      machines: [
        { name: 'w-1', ipv4: '203.0.113.5' },
        { name: 'gone-1', ipv4: '203.0.113.9' },
        { name: 'cp-1', ipv4: '203.0.113.1' },
        { name: 'cp-1', ipv4: '203.0.113.7' },
      ],
    },
  };
  const mmd = mermaidTopology(partial);
  assert.deepEqual(
    mmd.split('\n').filter((l) => l.includes('inet4') && !l.startsWith('  class')),
    ['  inet4["IPv4 internet"]', '  m0 -->|203.0.113.1| inet4', '  m2 -->|203.0.113.5| inet4', '  nat64 -.- inet4'],
  );
  const svg = svgTopology(partial);
  assert.deepEqual(
    [...svg.matchAll(/>(203\.0\.113\.\d+)<\/text><\/g>/g)].map((m) => m[1]),
    ['203.0.113.1', '203.0.113.5'],
  );
  // Without internetV4 the IPv4 internet's box has its name only.
  assert.match(svg, /<g class="internet-v4">[^\n]*\n<text [^>]*>IPv4 internet<\/text>\n<\/g>/);
});
