/**
 * What the lab tests expect of verify's report, written out here (not taken
 * from verify): every family of checks, and which of them cannot apply to a
 * lab of a given shape. A family that applies must have checks, every check
 * must pass, and nothing may be reported missing.
 */
import assert from 'node:assert/strict';
import type { VerifyReport } from '../../lib/platforms/lab/verify/verify.js';

export const ALL_FAMILIES = [
  'machine-bootstrap',
  'bgp-sessions',
  'pod-block-routes',
  'service-range-ecmp',
  'metadata-bgp-peers',
  'downward-default',
  'internet-to-node',
  'nodes-ready',
  'api-clusterip',
  'api-ipv4-door',
  'api-with-control-plane-hung',
  'client-during-node-hang',
  'pod-to-pod-across-nodes',
  'pods-from-internet',
  'cluster-service',
  'cluster-service-ecmp-spread',
  'local-service-routes',
  'local-service-follows-endpoints',
  'policy-matrix',
  'policy-attacks',
  'policy-matrix-host-row',
  'flux',
  'internet-dns',
  'nat64-translators',
  'ipv4-egress',
  'ipv4-egress-new-namespace',
  'cluster-dns',
  'nat64-translator-restart',
] as const;

/** Families that cannot apply to one machine (one control plane, no worker). */
export const ONE_MACHINE = ['api-with-control-plane-hung', 'client-during-node-hang', 'pod-to-pod-across-nodes', 'cluster-service-ecmp-spread', 'local-service-follows-endpoints', 'policy-matrix-host-row'] as const;

/**
 * Every check passed; exactly the families in `notApplicable` are reported so
 * (each with a reason), and every other family has checks. `maybe` names
 * families whose applicability the scheduler decides (where the pods land).
 */
export function assertFamilies(report: VerifyReport, notApplicable: readonly string[], maybe: readonly string[] = []): void {
  assert.deepEqual(report.checks.filter((c) => !c.ok), [], 'every check passes');
  const na = report.notApplicable.filter((n) => !maybe.includes(n.family));
  assert.deepEqual(na.map((n) => n.family).sort(), [...notApplicable].sort(), 'the families reported not applicable');
  // Each family verify ran or not: reported not applicable exactly when it has no check.
  for (const n of report.notApplicable) assert.ok(n.reason.length > 20, `${n.family} says why it does not apply: "${n.reason}"`);
  const skipped = new Set(report.notApplicable.map((n) => n.family));
  const present = new Set(report.checks.map((c) => c.family));
  for (const family of ALL_FAMILIES) {
    if (skipped.has(family)) assert.ok(!present.has(family), `${family} is not applicable and has no check`);
    else assert.ok(present.has(family), `verify has checks of ${family}`);
  }
  assert.deepEqual([...present].filter((f) => !(ALL_FAMILIES as readonly string[]).includes(f)), [], 'no family the tests do not know');
}
