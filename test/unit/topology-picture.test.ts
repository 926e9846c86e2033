/** The fabric picture (lib/report/topology.ts): Mermaid and SVG goldens, deterministic, escaped. */
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
