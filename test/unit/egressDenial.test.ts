/**
 * Verify's proof that a pod without permission cannot reach IPv4
 * (lib/platforms/lab/verify/egress.ts): the rule it names is the rendered
 * baseline's guard, a Deny to the NAT64 set; and the outcome it reports from
 * the pod's answer and its chain's counters, first on the real listings of
 * test/fixtures/nft/ (a request dropped by the guard, 4 packets), then on
 * every way a denial can fail to be one.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { compilePolicy, dropComment, endOfTierComment } from '../../lib/platforms/lab/calicoNode/policy.js';
import { dropsBetween, parsePolicyListing } from '../../lib/platforms/lab/calicoNode/policyCounters.js';
import { denialOutcome, guardExpected, IPV4_GUARD } from '../../lib/platforms/lab/verify/egress.js';
import { labPolicyInputs } from '../calico-fixture.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/nft/${name}`, import.meta.url), 'utf8');
const GUARD = dropComment(IPV4_GUARD.policy, IPV4_GUARD.direction, IPV4_GUARD.rule);

test("the rule verify names is the rendered baseline's Deny to the NAT64 set, and the compiler counts it", () => {
  const inputs = labPolicyInputs();
  const policy = inputs.globalNetworkPolicies.find((p) => p.metadata?.name === IPV4_GUARD.policy);
  assert.ok(policy, `the baseline renders ${IPV4_GUARD.policy}`);
  const rule = (policy.spec?.[IPV4_GUARD.direction] as Array<{ action?: string; destination?: { selector?: string } }> | undefined)?.[IPV4_GUARD.rule];
  assert.deepEqual(rule, { action: 'Deny', destination: { selector: "native6.dev/network == 'nat64' && !has(projectcalico.org/namespace)" } });
  // On a node with an unlabelled workload (echo/internal, n2), its chain counts that rule by that name.
  assert.match(compilePolicy(inputs, 'n2').script, new RegExp(`\\n {4}ip6 daddr @s\\d+ counter drop comment "${GUARD}"\\n`));
});

test('a denial, read from real listings: no answer, and the guard alone counted the request\'s packets', () => {
  const before = parsePolicyListing(fixture('policy-before.json'));
  const after = parsePolicyListing(fixture('policy-after.json'));
  const chain = after.egressChains.get('2001:db8:100:8::c4')!;
  const counted = dropsBetween(before, after, chain);
  assert.ok(!counted.reapplied);
  assert.deepEqual(denialOutcome('lt-w-1', chain, 'no answer', counted.grew), {
    expected: 'no answer; dropped on lt-w-1 by baseline-guard-ipv4-egress (egress rule 0), +N packets',
    observed: 'no answer; dropped on lt-w-1 by baseline-guard-ipv4-egress (egress rule 0), +4 packets',
    ok: true,
  });
  // The labelled workload's chain counted nothing meanwhile: were it asked about, no denial is shown.
  const other = dropsBetween(before, after, after.egressChains.get('2001:db8:100:8::c1')!);
  assert.ok(!other.reapplied);
  assert.deepEqual(denialOutcome('lt-w-1', 'eg0', 'no answer', other.grew), {
    expected: guardExpected('lt-w-1'),
    observed: 'no answer; no drop counted in its egress chain (eg0) on lt-w-1',
    ok: false,
  });
});

test('not a denial by the guard: answered, timed out with nothing counted, or dropped by another rule', () => {
  const outcome = (answer: string, grew: Array<{ comment: string; packets: number }>) => denialOutcome('lt-cp-1', 'eg3', answer, grew);
  assert.deepEqual(outcome('no answer', [{ comment: GUARD, packets: 1 }]), {
    expected: 'no answer; dropped on lt-cp-1 by baseline-guard-ipv4-egress (egress rule 0), +N packets',
    observed: 'no answer; dropped on lt-cp-1 by baseline-guard-ipv4-egress (egress rule 0), +1 packet',
    ok: true,
  });
  // Reached the host: the guard let it through.
  assert.equal(outcome('seen as 198.51.100.9', []).ok, false);
  assert.equal(outcome('seen as 198.51.100.9', []).observed, 'seen as 198.51.100.9; no drop counted in its egress chain (eg3) on lt-cp-1');
  // Answered although the guard counted (another flow of the pod's was dropped): not a proof.
  assert.equal(outcome('seen as 198.51.100.9', [{ comment: GUARD, packets: 2 }]).ok, false);
  // Timed out, nothing dropped by policy: lost somewhere else.
  assert.equal(outcome('no answer', []).ok, false);
  // Dropped, but by the end of the tier or another policy's rule: the guard did not do it.
  const end = outcome('no answer', [{ comment: endOfTierComment('egress'), packets: 3 }]);
  assert.deepEqual(end, { expected: guardExpected('lt-cp-1'), observed: 'no answer; dropped on lt-cp-1 by end of tier: egress, +3 packets', ok: false });
  assert.equal(outcome('no answer', [{ comment: dropComment(IPV4_GUARD.policy, 'egress', 1), packets: 3 }]).ok, false);
  // The guard and another rule both counted: which one denied the request cannot be told.
  const both = outcome('no answer', [{ comment: GUARD, packets: 3 }, { comment: endOfTierComment('egress'), packets: 1 }]);
  assert.equal(both.ok, false);
  assert.equal(both.observed, 'no answer; dropped on lt-cp-1 by baseline-guard-ipv4-egress (egress rule 0), +3 packets; dropped on lt-cp-1 by end of tier: egress, +1 packet');
});
