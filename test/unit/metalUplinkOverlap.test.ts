/**
 * A metal spec's link prefixes (spec.uplinks[].prefix) against the cluster's
 * own addresses (lib/platforms/load.ts planProblems): an uplink inside the
 * block, one that contains it, and one holding the NAT64 prefix the spec
 * gives outside the block are refused at the uplink's prefix, with its line,
 * what it overlaps and the fix. The machines, gateways and routers lie inside
 * their uplink's prefix, so their addresses are covered with it.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { Problem } from '../../lib/cluster/problems.js';
import { linkOverlaps } from '../../lib/plan/addressPlan.js';
import { loadCluster } from '../../lib/platforms/load.js';

const COLO = readFileSync(new URL('../../infra/colo.yaml', import.meta.url), 'utf8');

/** The text with every `from` replaced by `to` (at least once). */
function edit(text: string, from: string, to: string): string {
  assert.ok(text.includes(from), `"${from}" is not in the text`);
  return text.split(from).join(to);
}
/** The 1-based line of the first occurrence of `needle` in `text`. */
const lineOf = (text: string, needle: string) => text.slice(0, text.indexOf(needle)).split('\n').length;

function problems(text: string): Problem[] {
  const r = loadCluster('infra/colo.yaml', text);
  assert.equal(r.ok, false, 'the spec was accepted');
  return r.ok ? [] : r.problems;
}

test('infra/colo.yaml: its uplinks are clear of the block and the NAT64 prefix', () => {
  const r = loadCluster('infra/colo.yaml', COLO);
  assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.problems));
  for (const u of r.spec.inventory!.uplinks) assert.deepEqual(linkOverlaps(r.plan, u.prefix), [], u.name);
});

test("an uplink inside the block is refused at its prefix, naming the block and the ranges it hits", () => {
  // rack-b moved onto the block's /64 #2, the load balancers' (its gateway, router and machines with it: all on the link).
  const text = edit(COLO, '2001:db8:7:b::', '2001:db8:4200:2::');
  const p = problems(text);
  assert.equal(p.length, 1, p.map((x) => `${x.field}: ${x.message}`).join('\n'));
  assert.equal(p[0]!.file, 'infra/colo.yaml');
  assert.equal(p[0]!.field, 'spec.uplinks[1].prefix');
  assert.equal(p[0]!.line, lineOf(text, 'prefix: 2001:db8:4200:2::/64'));
  assert.match(
    p[0]!.message,
    /^2001:db8:4200:2::\/64 \(uplink rack-b\) overlaps the cluster's own addresses: the block 2001:db8:4200::\/48 \(spec\.network\.block\), its load-balancers range 2001:db8:4200:2::\/120; the machines, gateway and routers on the link/,
  );
  assert.match(p[0]!.fix, /^write the link's real prefix, outside the block 2001:db8:4200::\/48, or give spec\.network\.block a prefix routed to the cluster that does not contain the links/);

  // Inside the block but clear of every range carved so far: refused all the same (the block is carved further as the spec grows).
  const spare = edit(COLO, '2001:db8:7:b::', '2001:db8:4200:ff::');
  const q = problems(spare);
  assert.deepEqual(q.map((x) => x.field), ['spec.uplinks[1].prefix']);
  assert.match(q[0]!.message, /overlaps the cluster's own addresses: the block 2001:db8:4200::\/48 \(spec\.network\.block\); the plan carves pods, Services and NAT64 from the block, more of it as the spec grows$/);
});

test('a block that contains the links is refused at each uplink', () => {
  const text = edit(COLO, 'block: 2001:db8:4200::/48', 'block: 2001:db8:7::/48');
  const p = problems(text);
  assert.deepEqual(
    p.map((x) => [x.field, x.line]),
    [
      ['spec.uplinks[0].prefix', lineOf(text, 'prefix: 2001:db8:7:a::/64')],
      ['spec.uplinks[1].prefix', lineOf(text, 'prefix: 2001:db8:7:b::/64')],
    ],
  );
  assert.match(p[0]!.message, /^2001:db8:7:a::\/64 \(uplink rack-a\) overlaps the cluster's own addresses: the block 2001:db8:7::\/48 \(spec\.network\.block\);/);
  // A /48 link holding the block is refused too.
  const wide = edit(edit(edit(COLO, '2001:db8:7:b::', '2001:db8:8:b::'), 'prefix: 2001:db8:7:a::/64', 'prefix: 2001:db8:7::/48'), 'block: 2001:db8:4200::/48', 'block: 2001:db8:7:100::/56');
  const w = problems(wide);
  assert.deepEqual(w.map((x) => x.field), ['spec.uplinks[0].prefix']);
  assert.match(w[0]!.message, /^2001:db8:7::\/48 \(uplink rack-a\) overlaps the cluster's own addresses: the block 2001:db8:7:100::\/56 \(spec\.network\.block\), its nodes range 2001:db8:7:100::\/64, /);
});

test("a NAT64 prefix the spec gives on a link, outside the block, is refused at the uplink, the fix naming nat64Prefix", () => {
  const text = edit(COLO, '    loadBalancerRangeSize: 120\n', '    loadBalancerRangeSize: 120\n  egress:\n    ipv4: nat64\n    nat64Prefix: 2001:db8:7:b:0:1::/96\n');
  const p = problems(text);
  assert.equal(p.length, 1, p.map((x) => `${x.field}: ${x.message}`).join('\n'));
  assert.equal(p[0]!.field, 'spec.uplinks[1].prefix');
  assert.match(p[0]!.message, /^2001:db8:7:b::\/64 \(uplink rack-b\) overlaps the cluster's own addresses: its nat64 range 2001:db8:7:b:0:1::\/96;/);
  assert.match(p[0]!.fix, /^pick spec\.egress\.nat64Prefix outside the uplinks' prefixes, or remove it: the plan then takes 2001:db8:4200:4::\/96$/);
});
