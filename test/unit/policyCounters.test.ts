/**
 * The lab's policy table read back (lib/platforms/lab/calicoNode/policyCounters.ts):
 * real listings of nftables (test/fixtures/nft/, how they were made is in
 * its README) before and after a pod's request to the NAT64 prefix was
 * dropped by the IPv4 guard, and after the table was re-applied; JSON and
 * text give the same counters; what cannot be read is refused, saying why.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { dropComment, endOfTierComment } from '../../lib/platforms/lab/calicoNode/policy.js';
import { describeDrop, dropsBetween, ListingError, packetsByComment, parsePolicyListing } from '../../lib/platforms/lab/calicoNode/policyCounters.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/nft/${name}`, import.meta.url), 'utf8');
const GUARD = dropComment('baseline-guard-ipv4-egress', 'egress', 0);
const PRIVATE = dropComment('baseline-guard-private-workloads', 'ingress', 0);

test('nft -j: every counted rule with its chain, comment, packets and bytes; each workload\'s egress chain', () => {
  const after = parsePolicyListing(fixture('policy-after.json'));
  assert.equal(after.handle, 2);
  assert.deepEqual(after.counters, [
    { chain: 'in0', comment: PRIVATE, packets: 0, bytes: 0 },
    { chain: 'in0', comment: endOfTierComment('ingress'), packets: 0, bytes: 0 },
    { chain: 'eg0', comment: endOfTierComment('egress'), packets: 0, bytes: 0 },
    { chain: 'in1', comment: PRIVATE, packets: 0, bytes: 0 },
    { chain: 'in1', comment: endOfTierComment('ingress'), packets: 0, bytes: 0 },
    { chain: 'eg1', comment: GUARD, packets: 4, bytes: 320 },
    { chain: 'eg1', comment: endOfTierComment('egress'), packets: 0, bytes: 0 },
  ]);
  assert.deepEqual([...after.egressChains], [
    ['2001:db8:100:8::c1', 'eg0'],
    ['2001:db8:100:8::c4', 'eg1'],
  ]);
  // comment -> packets: summed over the chains that share a comment, or of one chain.
  assert.deepEqual(
    packetsByComment(after.counters),
    new Map([
      [PRIVATE, 0],
      ['end of tier: ingress', 0],
      ['end of tier: egress', 0],
      [GUARD, 4],
    ]),
  );
  assert.deepEqual(packetsByComment(after.counters, 'eg0'), new Map([['end of tier: egress', 0]]));
  assert.deepEqual(packetsByComment([...after.counters, { chain: 'eg9', comment: GUARD, packets: 3, bytes: 240 }]).get(GUARD), 7);
});

test('nft list table, with and without -a: the same counters and chains as JSON; the handle only with -a', () => {
  const json = parsePolicyListing(fixture('policy-after.json'));
  const text = parsePolicyListing(fixture('policy-after.txt'));
  const handles = parsePolicyListing(fixture('policy-after-a.txt'));
  assert.deepEqual(text.counters, json.counters);
  assert.deepEqual(handles.counters, json.counters);
  assert.deepEqual([...text.egressChains], [...json.egressChains]);
  assert.deepEqual([...handles.egressChains], [...json.egressChains]);
  assert.equal(text.handle, undefined);
  assert.equal(handles.handle, 2);
  // Only the source address's map leads to egress chains; the destination's leads to ingress ones.
  assert.deepEqual([...parsePolicyListing('table ip6 t {\n\tchain forward {\n\t\tip6 daddr vmap { 2001:db8::1 : jump in0 }\n\t}\n}').egressChains], []);
  const vmap = (field: string) => JSON.stringify({ nftables: [{ table: { name: 't', handle: 1 } }, { rule: { chain: 'forward', expr: [{ vmap: { key: { payload: { protocol: 'ip6', field } }, data: { set: [['2001:db8::1', { jump: { target: 'x0' } }]] } } }] } }] });
  assert.deepEqual([...parsePolicyListing(vmap('daddr')).egressChains], []);
  assert.deepEqual([...parsePolicyListing(vmap('saddr')).egressChains], [['2001:db8::1', 'x0']]);
});

test('what a chain counted between two listings: the guard\'s 4 packets; nothing when the table was made anew between them', () => {
  const before = parsePolicyListing(fixture('policy-before.json'));
  const after = parsePolicyListing(fixture('policy-after.json'));
  const reapplied = parsePolicyListing(fixture('policy-reapplied.json'));
  assert.equal(before.handle, 2);
  assert.deepEqual(dropsBetween(before, after, 'eg1'), { reapplied: false, grew: [{ comment: GUARD, packets: 4 }] });
  assert.deepEqual(dropsBetween(before, after, 'eg0'), { reapplied: false, grew: [] });
  assert.deepEqual(dropsBetween(before, before, 'eg1'), { reapplied: false, grew: [] });
  // Re-applied: a new handle (3), every counter from 0 again.
  assert.equal(reapplied.handle, 3);
  assert.deepEqual(dropsBetween(after, reapplied, 'eg1'), { reapplied: true });
  assert.deepEqual(dropsBetween(before, reapplied, 'eg0'), { reapplied: true });
  // Without handles (text without -a), a counter that went down, or rules that changed, say so too.
  const text = fixture('policy-after.txt');
  const later = parsePolicyListing(text.replace('counter packets 4 bytes 320', 'counter packets 1 bytes 80'));
  assert.deepEqual(dropsBetween(parsePolicyListing(text), later, 'eg1'), { reapplied: true });
  const renamed = parsePolicyListing(text.replace(GUARD, dropComment('another', 'egress', 0)));
  assert.deepEqual(dropsBetween(parsePolicyListing(text), renamed, 'eg1'), { reapplied: true });
  assert.deepEqual(dropsBetween(renamed, parsePolicyListing(text), 'eg1'), { reapplied: true });
  const more = parsePolicyListing(text.replace('counter packets 4 bytes 320', 'counter packets 9 bytes 720'));
  assert.deepEqual(dropsBetween(parsePolicyListing(text), more, 'eg1'), { reapplied: false, grew: [{ comment: GUARD, packets: 5 }] });
});

test("a drop's comment as verify shows it", () => {
  assert.equal(describeDrop(GUARD), 'baseline-guard-ipv4-egress (egress rule 0)');
  assert.equal(describeDrop(dropComment('knp.default.x', 'ingress', 12)), 'knp.default.x (ingress rule 12)');
  assert.equal(describeDrop(endOfTierComment('egress')), 'end of tier: egress');
});

test('a listing that cannot be read is refused, saying why', () => {
  const refused = (text: string, message: RegExp) => assert.throws(() => parsePolicyListing(text), (e: Error) => e instanceof ListingError && message.test(e.message), message.source);
  refused('', /^nft listing: empty \(is the table there\?\)$/);
  refused('{"nftables": [', /^nft -j listing: not JSON: /);
  refused('{"tables": []}', /^nft -j listing: no "nftables" array at the top$/);
  refused('{"nftables": [{"metainfo": {}}]}', /^nft -j listing: 0 tables \(none\); list one table$/);
  refused('{"nftables": [{"table": {"name": "a", "handle": 1}}, {"table": {"name": "b", "handle": 2}}]}', /^nft -j listing: 2 tables \(a, b\); list one table$/);
  refused('{"nftables": [{"table": {"name": "a"}}, {"rule": {"expr": []}}]}', /^nft -j listing: a rule of chain \(none\) names no chain$/);
  refused('{"nftables": [{"table": {"name": "a"}}, {"rule": {"chain": "eg0"}}]}', /^nft -j listing: a rule of chain eg0 has no "expr" list$/);
  refused('{"nftables": [{"table": {"name": "a"}}, {"rule": {"chain": "eg0", "comment": "x", "expr": [{"counter": {"bytes": 1}}]}}]}', /^nft -j listing: a rule of chain eg0 \("x"\) has a counter without packets and bytes$/);
  refused('chain eg0 {\n}', /^nft listing: the first line is not a table's \("chain eg0 \{"\)$/);
  refused('table ip6 t {\n\tchain forward {\n\t\tip6 saddr vmap { 2001:db8::1 : goto eg0 }\n\t}\n}', /^nft listing: chain forward: a vmap element "2001:db8::1 : goto eg0" is not "<address> : jump <chain>"$/);
  refused('table ip6 t {\n\tchain forward {\n\t\tip6 saddr vmap { 2001:db8::/64 : jump eg0 }\n\t}\n}', /^nft listing: "2001:db8::\/64" in an egress vmap is not one IPv6 address: /);
  // A named counter's reference, and a counter without a comment, are no rule of the compiler's: left out.
  const other = parsePolicyListing('{"nftables": [{"table": {"name": "a", "handle": 5}}, {"rule": {"chain": "eg0", "comment": "x", "expr": [{"counter": "named"}]}}, {"rule": {"chain": "eg0", "expr": [{"counter": {"packets": 1, "bytes": 2}}]}}]}');
  assert.deepEqual(other, { handle: 5, counters: [], egressChains: new Map() });
});
