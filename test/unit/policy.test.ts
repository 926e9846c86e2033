/**
 * The lab's policy engine (lib/calico/policy.ts): which policies apply to
 * which workload in which order, the nftables it compiles to, and what it
 * refuses. The zero-trust baseline and the demo app's policies are the ones
 * this repository renders.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compilePolicy, PolicyError } from '../../lib/calico/policy.js';
import { labPolicyInputs } from '../calico-fixture.js';

test('policy: the baseline and the app policies apply in Calico order', () => {
  const { summary } = compilePolicy(labPolicyInputs(), 'n2');
  assert.deepEqual(summary, [
    {
      workload: 'echo/echo-b',
      ingress: ['baseline-guard-public-workloads', 'baseline-allow-trusted-sources', 'knp.default.echo-public-ingress', 'baseline-default-deny'],
      egress: ['baseline-allow-apiserver', 'baseline-allow-dns', 'knp.default.echo-to-internal', 'baseline-default-deny'],
    },
    {
      workload: 'echo/internal',
      ingress: ['baseline-guard-private-workloads', 'baseline-allow-trusted-sources', 'knp.default.internal-from-echo', 'baseline-default-deny'],
      egress: ['baseline-allow-apiserver', 'baseline-allow-dns', 'baseline-default-deny'],
    },
  ]);
});

test('policy: nftables for a node (golden shape)', () => {
  const { script } = compilePolicy(labPolicyInputs(), 'n2');
  // internal's ingress: the private guard drops sources outside cluster/trusted, then echo pods on 8080 are let in.
  assert.match(script, /# echo\/internal 2001:db8:100:8::82\n {4}# baseline-guard-private-workloads \(order 10\)\n {4}ip6 saddr != @s\d+ drop/);
  assert.match(script, /meta l4proto tcp ip6 saddr @s\d+ th dport \{ 8080 \} accept/);
  // The API server rule: the Service's endpoints and port.
  assert.match(script, /meta l4proto tcp ip6 daddr @s\d+ th dport \{ 443 \} return/);
  assert.match(script, /drop comment "end of tier"/);
  assert.match(script, /ip6 daddr vmap \{ 2001:db8:100:8::81 : jump in0, 2001:db8:100:8::82 : jump in1 \}/);
  assert.equal(compilePolicy(labPolicyInputs(), 'n2').script, script, 'deterministic');
  // Neighbour discovery passes first in both hooks, before conntrack's verdicts and the pods' policies.
  for (const hook of ['forward', 'input']) {
    const chain = new RegExp(`chain ${hook} \\{\\n[^\\n]+\\n {4}icmpv6 type \\{ nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, nd-router-advert \\} accept\\n {4}ct state established,related accept`);
    assert.match(script, chain, `${hook}: NDP first`);
  }
  // A node without workloads still gets the table (conntrack rules), and no dispatch.
  assert.doesNotMatch(compilePolicy(labPolicyInputs(), 'n9').script, /vmap/);
});

test('policy: what the engine does not reproduce is refused', () => {
  const inputs = labPolicyInputs();
  const withGnp = (spec: Record<string, unknown>) => ({ ...inputs, globalNetworkPolicies: [{ metadata: { name: 'x' }, spec }] });
  assert.throws(() => compilePolicy(withGnp({ tier: 'security', selector: 'all()' }), 'n1'), /GlobalNetworkPolicy x: tiers are not supported/);
  assert.throws(() => compilePolicy(withGnp({ selector: 'all()', ingress: [{ action: 'Log' }] }), 'n1'), /action "Log"/);
  assert.throws(() => compilePolicy(withGnp({ selector: 'all()', ingress: [{ action: 'Allow', http: { methods: ['GET'] } }] }), 'n1'), /"http" is not supported/);
  assert.throws(() => compilePolicy(withGnp({ selector: "app = 'x'" }), 'n1'), (e: Error) => e instanceof PolicyError && /GlobalNetworkPolicy x.selector: invalid selector/.test(e.message));
  assert.throws(() => compilePolicy(withGnp({ selector: 'all()', ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: ['http'] } }] }), 'n1'), /port "http" is named/);
});
