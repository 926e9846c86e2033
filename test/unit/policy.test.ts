/**
 * The lab's policy engine (lib/platforms/lab/calicoNode/policy.ts): which policies apply to
 * which workload in which order, the nftables it compiles to, and what it
 * refuses. The zero-trust baseline and the demo app's policies are the ones
 * this repository renders.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { compilePolicy, dropComment, NFT_COMMENT_MAX, PolicyError, workloadLabels, type PolicyInputs } from '../../lib/platforms/lab/calicoNode/policy.js';
import { parsePrefix, synthesize } from '../../lib/net/ipv6.js';
import { loadCluster } from '../../lib/platforms/load.js';
import { LAB_INTERNET_HOSTS } from '../../lib/platforms/lab/provider/provider.js';
import { corefile } from '../../lib/render/coredns.js';
import { judge, labPolicyInputs, resolved, type Packet } from '../calico-fixture.js';

const INTERNET = '2a00:1450:4001:81c::200e';
const ECHO_A = '2001:db8:100:8::41';
const ECHO_B = '2001:db8:100:8::81';
const INTERNAL = '2001:db8:100:8::82';
const NODE = '2001:db8:100::3';
const http = (saddr: string, daddr: string, dport = 8080): Packet => ({ saddr, daddr, proto: 'tcp', dport });

test('policy: the baseline and the app policies apply in Calico order', () => {
  const { summary } = compilePolicy(labPolicyInputs(), 'n2');
  assert.deepEqual(summary, [
    {
      workload: 'echo/echo-b',
      ingress: ['baseline-guard-public-workloads', 'baseline-allow-trusted-sources', 'knp.default.echo-public-ingress', 'baseline-default-deny'],
      egress: ['baseline-guard-ipv4-egress', 'baseline-allow-apiserver', 'baseline-allow-dns', 'knp.default.echo-to-internal', 'baseline-default-deny'],
    },
    {
      workload: 'echo/internal',
      ingress: ['baseline-guard-private-workloads', 'baseline-allow-trusted-sources', 'knp.default.internal-from-echo', 'baseline-default-deny'],
      egress: ['baseline-guard-ipv4-egress', 'baseline-allow-apiserver', 'baseline-allow-dns', 'baseline-default-deny'],
    },
  ]);
});

test('policy: nftables for a node, with every address set written out', () => {
  const { script } = compilePolicy(labPolicyInputs(), 'n2');
  const text = resolved(script);
  // internal's ingress: the private guard drops sources outside the cluster's ranges (no trusted
  // sources in the lab), the trusted sources (none) are let in, then echo pods on 8080.
  assert.ok(
    text.includes(
      [
        '    # echo/internal 2001:db8:100:8::82',
        '    # baseline-guard-private-workloads (order 10)',
        '    ip6 saddr != { 2001:db8:100:8::/64, 2001:db8:100::/64 } counter drop comment "deny: baseline-guard-private-workloads ingress rule 0"',
        '    # baseline-allow-trusted-sources (order 20)',
        '    ip6 saddr { } accept',
        '    # knp.default.internal-from-echo (order 1000)',
        '    meta l4proto tcp ip6 saddr { 2001:db8:100:8::41/128, 2001:db8:100:8::81/128 } th dport { 8080 } accept',
        '    # baseline-default-deny (order 10000)',
        '    counter drop comment "end of tier: ingress"',
      ].join('\n'),
    ),
    text,
  );
  // echo's ingress: the public guard lets the cluster and spec.policy.publicSources (::/0 by default) in.
  assert.match(text, /# baseline-guard-public-workloads \(order 10\)\n {4}ip6 saddr != \{ 2001:db8:100:8::\/64, 2001:db8:100::\/64, ::\/0 \} counter drop comment "deny: baseline-guard-public-workloads ingress rule 0"\n/);
  assert.match(text, /# knp.default.echo-public-ingress \(order 1000\)\n {4}meta l4proto tcp ip6 saddr \{ ::\/0 \} th dport \{ 8080 \} accept\n/);
  // The API server rule: the Service's endpoints and port.
  assert.match(text, /meta l4proto tcp ip6 daddr \{ 2001:db8:100::3\/128, 2001:db8:100::5\/128 \} th dport \{ 443 \} return/);
  assert.match(text, /# knp.default.echo-to-internal \(order 1000\)\n {4}meta l4proto tcp ip6 daddr \{ 2001:db8:100:8::82\/128 \} th dport \{ 8080 \} return\n/);
  assert.match(script, /\n {4}counter drop comment "end of tier: egress"\n {2}\}\n/);
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

test('policy: packets judged by the rendered policies (internet, nodes, pods)', () => {
  const { script } = compilePolicy(labPolicyInputs(), 'n2');
  assert.deepEqual(judge(script, 'echo/echo-b', 'in', http(INTERNET, ECHO_B)), { verdict: 'accept', by: 'knp.default.echo-public-ingress' });
  assert.deepEqual(judge(script, 'echo/echo-b', 'in', http(INTERNET, ECHO_B, 22)), { verdict: 'drop', by: 'baseline-default-deny' });
  assert.deepEqual(judge(script, 'echo/internal', 'in', http(INTERNET, INTERNAL)), { verdict: 'drop', by: 'baseline-guard-private-workloads' });
  assert.deepEqual(judge(script, 'echo/internal', 'in', http(ECHO_A, INTERNAL)), { verdict: 'accept', by: 'knp.default.internal-from-echo' });
  assert.deepEqual(judge(script, 'echo/internal', 'in', http(NODE, INTERNAL)), { verdict: 'drop', by: 'baseline-default-deny' });
  assert.deepEqual(judge(script, 'echo/echo-b', 'eg', http(ECHO_B, INTERNAL)), { verdict: 'return', by: 'knp.default.echo-to-internal' });
  assert.deepEqual(judge(script, 'echo/echo-b', 'eg', http(ECHO_B, INTERNET, 443)), { verdict: 'drop', by: 'baseline-default-deny' });
  assert.deepEqual(judge(script, 'echo/internal', 'eg', http(INTERNAL, NODE, 443)), { verdict: 'return', by: 'baseline-allow-apiserver' });
});

/** github.com's 140.82.114.4 behind the lab's NAT64 prefix (2001:db8:100:4::/96, the plan's default for infra/lab.yaml). */
const GITHUB_NAT64 = '2001:db8:100:4::8c52:7204';

/**
 * The lab's inputs with workloads on node n3 that want the IPv4 internet, and
 * Flux's own NetworkPolicy (every egress of its namespace allowed, as Flux
 * installs it).
 */
function ipv4Inputs(): PolicyInputs {
  const inputs = labPolicyInputs();
  const w = (name: string, ip: string, ns: string, labels: Record<string, string>) => ({ namespace: ns, name, ip, node: 'n3', labels: workloadLabels(labels, ns) });
  return {
    ...inputs,
    namespaces: [...inputs.namespaces, { metadata: { name: 'flux-system' } }],
    workloads: [
      ...inputs.workloads,
      w('fetcher', '2001:db8:100:8::c1', 'echo', { app: 'fetcher', 'native6.dev/ipv4-egress': 'true' }),
      w('source-controller', '2001:db8:100:8::c2', 'flux-system', { app: 'source-controller' }),
      w('kustomize-controller', '2001:db8:100:8::c3', 'flux-system', { app: 'kustomize-controller' }),
      w('impostor', '2001:db8:100:8::c4', 'echo', { app: 'source-controller' }),
      w('declined', '2001:db8:100:8::c5', 'echo', { app: 'declined', 'native6.dev/ipv4-egress': 'false' }),
    ],
    networkPolicies: [...inputs.networkPolicies, { metadata: { name: 'allow-egress', namespace: 'flux-system' }, spec: { podSelector: {}, policyTypes: ['Egress'], egress: [{}] } }],
  };
}

test('policy: the IPv4 internet, through the NAT64 prefix, for workloads labelled for it and Flux\'s source-controller only', () => {
  const { script, summary } = compilePolicy(ipv4Inputs(), 'n3');
  const egress = (workload: string) => summary.find((x) => x.workload === workload)?.egress;
  // Labelled and source-controller: not guarded, allowed at order 100; any other workload is guarded at order 10.
  assert.deepEqual(egress('echo/fetcher'), ['baseline-allow-apiserver', 'baseline-allow-dns', 'baseline-allow-ipv4-egress', 'baseline-default-deny']);
  assert.deepEqual(egress('flux-system/source-controller'), ['baseline-allow-apiserver', 'baseline-allow-dns', 'baseline-allow-ipv4-egress', 'knp.default.allow-egress', 'baseline-default-deny']);
  assert.deepEqual(egress('flux-system/kustomize-controller'), ['baseline-guard-ipv4-egress', 'baseline-allow-apiserver', 'baseline-allow-dns', 'knp.default.allow-egress', 'baseline-default-deny']);
  const https = (from: string, to = GITHUB_NAT64) => http(from, to, 443);
  assert.deepEqual(judge(script, 'echo/fetcher', 'eg', https('2001:db8:100:8::c1')), { verdict: 'return', by: 'baseline-allow-ipv4-egress' });
  assert.deepEqual(judge(script, 'flux-system/source-controller', 'eg', https('2001:db8:100:8::c2')), { verdict: 'return', by: 'baseline-allow-ipv4-egress' });
  // Flux's namespace policy opens every egress, but the guard comes first.
  assert.deepEqual(judge(script, 'flux-system/kustomize-controller', 'eg', https('2001:db8:100:8::c3')), { verdict: 'drop', by: 'baseline-guard-ipv4-egress' });
  assert.deepEqual(judge(script, 'flux-system/kustomize-controller', 'eg', https('2001:db8:100:8::c3', INTERNET)), { verdict: 'return', by: 'knp.default.allow-egress' });
  // source-controller's label in another namespace, or the label not "true", is not enough.
  assert.deepEqual(judge(script, 'echo/impostor', 'eg', https('2001:db8:100:8::c4')), { verdict: 'drop', by: 'baseline-guard-ipv4-egress' });
  assert.deepEqual(judge(script, 'echo/declined', 'eg', https('2001:db8:100:8::c5')), { verdict: 'drop', by: 'baseline-guard-ipv4-egress' });
  // The label opens the IPv4 internet only, not the IPv6 one.
  assert.deepEqual(judge(script, 'echo/fetcher', 'eg', https('2001:db8:100:8::c1', INTERNET)), { verdict: 'drop', by: 'baseline-default-deny' });
});

test("policy: every drop counts its packets and names its rule in its comment; nothing else is counted", () => {
  const { script } = compilePolicy(ipv4Inputs(), 'n3');
  const text = resolved(script);
  // The guard that denies IPv4, in the chain of each workload it applies to (verify reads this counter).
  const guard = '    ip6 daddr { 2001:db8:100:4::/96 } counter drop comment "deny: baseline-guard-ipv4-egress egress rule 0"';
  assert.equal(text.split('\n').filter((l) => l === guard).length, 3, 'on n3: kustomize-controller, impostor and declined; fetcher and source-controller are not guarded');
  const rules = script.split('\n').filter((l) => /^ {4}[^#]/.test(l) && !/^ {4}(type|elements) /.test(l));
  const drops = rules.filter((l) => /\bdrop\b/.test(l) && !l.includes('ct state invalid drop'));
  assert.ok(drops.length > 0);
  for (const l of drops) assert.match(l, /(^| )counter drop comment "(deny: \S+ (ingress|egress) rule \d+|end of tier: (ingress|egress))"$/, l);
  assert.deepEqual(rules.filter((l) => l.includes('counter')), drops, 'only drops are counted');
  // The end of the tier, in both directions, once per chain of a workload that policies apply to.
  const chains = [...script.matchAll(/\n {2}chain ((in|eg)\d+) \{/g)].map((m) => m[1]!);
  assert.equal(rules.filter((l) => l === '    counter drop comment "end of tier: egress"').length, chains.filter((c) => c.startsWith('eg')).length);
  assert.equal(rules.filter((l) => l === '    counter drop comment "end of tier: ingress"').length, chains.filter((c) => c.startsWith('in')).length);
});

test("policy: a Deny rule's comment gives its index in the policy's own list, past its Allow and Pass rules", () => {
  const inputs = labPolicyInputs();
  const policy = {
    metadata: { name: 'lab-deny-third' },
    spec: {
      order: 5,
      selector: "app == 'internal'",
      types: ['Egress'],
      egress: [
        { action: 'Allow', protocol: 'TCP', destination: { nets: ['2001:db8:1::/48'], ports: [443] } },
        { action: 'Pass', destination: { nets: ['2001:db8:2::/48'] } },
        { action: 'Deny', destination: { nets: ['2001:db8:3::/48'] } },
      ],
    },
  };
  const { script } = compilePolicy({ ...inputs, globalNetworkPolicies: [...inputs.globalNetworkPolicies, policy] }, 'n2');
  assert.match(resolved(script), /\n {4}ip6 daddr \{ 2001:db8:3::\/48 \} counter drop comment "deny: lab-deny-third egress rule 2"\n/);
  assert.doesNotMatch(script, /lab-deny-third egress rule [01]"/);
  assert.deepEqual(judge(script, 'echo/internal', 'eg', http(INTERNAL, '2001:db8:3::1', 443)), { verdict: 'drop', by: 'lab-deny-third' });
});

test("policy: a drop's comment fits nftables' 128 characters, whatever the policy's name", () => {
  assert.equal(dropComment('baseline-guard-ipv4-egress', 'egress', 0), 'deny: baseline-guard-ipv4-egress egress rule 0');
  // A Kubernetes name may be 253 characters: cut, with a hash of the whole name, so that two stay apart.
  const long = (tail: string) => `${'a'.repeat(120)}.${tail}`;
  const one = dropComment(long('one'), 'ingress', 12);
  const two = dropComment(long('two'), 'ingress', 12);
  assert.equal(one.length, NFT_COMMENT_MAX);
  assert.match(one, /^deny: a{97}~[0-9a-f]{8} ingress rule 12$/);
  assert.notEqual(one, two);
  assert.equal(dropComment(long('one'), 'ingress', 12), one, 'deterministic');
  const fits = `x${'b'.repeat(NFT_COMMENT_MAX - 'deny:  egress rule 0'.length - 1)}`;
  assert.equal(dropComment(fits, 'egress', 0), `deny: ${fits} egress rule 0`, 'exactly 128: kept whole');
  // And in a compiled script.
  const inputs = labPolicyInputs();
  const name = `${'g'.repeat(200)}-guard`;
  const { script } = compilePolicy(
    { ...inputs, globalNetworkPolicies: [...inputs.globalNetworkPolicies, { metadata: { name }, spec: { order: 1, selector: 'all()', types: ['Ingress'], ingress: [{ action: 'Deny', source: { nets: ['2001:db8:9::/48'] } }] } }] },
    'n2',
  );
  const comments = [...script.matchAll(/comment "([^"]*)"/g)].map((m) => m[1]!);
  assert.ok(comments.some((c) => c.startsWith('deny: ggg')));
  for (const c of comments) assert.ok(c.length <= NFT_COMMENT_MAX, c);
});

test('policy: without a NAT64 set (spec.egress.ipv4: none), the IPv4 rules select no address', () => {
  const inputs = ipv4Inputs();
  const none = { ...inputs, globalNetworkSets: inputs.globalNetworkSets.filter((x) => x.metadata?.labels?.['native6.dev/network'] !== 'nat64') };
  assert.equal(none.globalNetworkSets.length, inputs.globalNetworkSets.length - 1, 'the lab renders one NAT64 set');
  const { script } = compilePolicy(none, 'n3');
  assert.deepEqual(judge(script, 'echo/fetcher', 'eg', http('2001:db8:100:8::c1', GITHUB_NAT64, 443)), { verdict: 'drop', by: 'baseline-default-deny' });
  assert.deepEqual(judge(script, 'flux-system/kustomize-controller', 'eg', http('2001:db8:100:8::c3', GITHUB_NAT64, 443)), { verdict: 'return', by: 'knp.default.allow-egress' });
});

/** The lab resolver's 192.0.2.53 under the lab's NAT64 prefix: the upstream CoreDNS forwards to (lib/render/coredns.ts). */
const RESOLVER_NAT64 = synthesize(parsePrefix('2001:db8:100:4::/96'), LAB_INTERNET_HOSTS.resolver.ipv4);

test("policy: CoreDNS reaches its upstream resolver under the NAT64 prefix on port 53 and nothing else of it; another kube-system pod reaches none of it", () => {
  assert.equal(RESOLVER_NAT64, '2001:db8:100:4::c000:235');
  const lab = loadCluster('infra/lab.yaml', readFileSync(new URL('../../infra/lab.yaml', import.meta.url), 'utf8'));
  assert.ok(lab.ok);
  assert.ok(corefile(lab.spec, lab.plan).includes(`forward . ${RESOLVER_NAT64} {`), "the lab's Corefile forwards to this address");
  const inputs = labPolicyInputs();
  const w = (name: string, ip: string, labels: Record<string, string>) => ({ namespace: 'kube-system', name, ip, node: 'n3', labels: workloadLabels(labels, 'kube-system') });
  const { script, summary } = compilePolicy(
    {
      ...inputs,
      workloads: [...inputs.workloads, w('coredns-5d78c9869d-x2x4k', '2001:db8:100:8::c6', { 'k8s-app': 'kube-dns', 'pod-template-hash': '5d78c9869d' }), w('metrics', '2001:db8:100:8::c7', { 'k8s-app': 'metrics-server' })],
    },
    'n3',
  );
  const egress = (workload: string) => summary.find((x) => x.workload === workload)?.egress;
  // CoreDNS passes the guard and is not given the IPv4 internet: only the DNS server's own rules open anything to it.
  assert.deepEqual(egress('kube-system/coredns-5d78c9869d-x2x4k'), ['baseline-allow-apiserver', 'baseline-allow-dns', 'baseline-dns-server', 'baseline-default-deny']);
  assert.deepEqual(egress('kube-system/metrics'), ['baseline-guard-ipv4-egress', 'baseline-allow-apiserver', 'baseline-allow-dns', 'baseline-default-deny']);
  const to = (saddr: string, daddr: string, proto: 'tcp' | 'udp', dport: number): Packet => ({ saddr, daddr, proto, dport });
  const dns = '2001:db8:100:8::c6';
  assert.deepEqual(judge(script, 'kube-system/coredns-5d78c9869d-x2x4k', 'eg', to(dns, RESOLVER_NAT64, 'udp', 53)), { verdict: 'return', by: 'baseline-dns-server' });
  assert.deepEqual(judge(script, 'kube-system/coredns-5d78c9869d-x2x4k', 'eg', to(dns, RESOLVER_NAT64, 'tcp', 53)), { verdict: 'return', by: 'baseline-dns-server' });
  // Port 53 only: the resolver's other ports, and any other IPv4 host's, stay closed to it.
  assert.deepEqual(judge(script, 'kube-system/coredns-5d78c9869d-x2x4k', 'eg', to(dns, RESOLVER_NAT64, 'tcp', 443)), { verdict: 'drop', by: 'baseline-default-deny' });
  assert.deepEqual(judge(script, 'kube-system/coredns-5d78c9869d-x2x4k', 'eg', to(dns, GITHUB_NAT64, 'tcp', 443)), { verdict: 'drop', by: 'baseline-default-deny' });
  // Another kube-system pod is denied the NAT64 prefix by the guard, the resolver's port 53 included.
  assert.deepEqual(judge(script, 'kube-system/metrics', 'eg', to('2001:db8:100:8::c7', RESOLVER_NAT64, 'udp', 53)), { verdict: 'drop', by: 'baseline-guard-ipv4-egress' });
  assert.deepEqual(judge(script, 'kube-system/metrics', 'eg', to('2001:db8:100:8::c7', GITHUB_NAT64, 'tcp', 443)), { verdict: 'drop', by: 'baseline-guard-ipv4-egress' });
  // And it still asks CoreDNS, as every pod does.
  assert.deepEqual(judge(script, 'kube-system/metrics', 'eg', to('2001:db8:100:8::c7', dns, 'udp', 53)), { verdict: 'return', by: 'baseline-allow-dns' });
  assert.deepEqual(judge(script, 'kube-system/coredns-5d78c9869d-x2x4k', 'in', to('2001:db8:100:8::c7', dns, 'udp', 53)), { verdict: 'accept', by: 'baseline-dns-server' });
});

test('policy: a namespace policy that opens a private workload to ::/0 is still overruled by the baseline guard', () => {
  const inputs = labPolicyInputs();
  const open: PolicyInputs = {
    ...inputs,
    networkPolicies: [
      ...inputs.networkPolicies,
      {
        metadata: { name: 'internal-from-anywhere', namespace: 'echo' },
        spec: {
          podSelector: { matchLabels: { app: 'internal' } },
          policyTypes: ['Ingress'],
          ingress: [{ from: [{ ipBlock: { cidr: '::/0' } }], ports: [{ protocol: 'TCP', port: 8080 }] }],
        },
      },
    ],
  };
  const { script } = compilePolicy(open, 'n2');
  // From the internet: dropped by the guard, before the namespace's policy is reached.
  assert.deepEqual(judge(script, 'echo/internal', 'in', http(INTERNET, INTERNAL)), { verdict: 'drop', by: 'baseline-guard-private-workloads' });
  assert.deepEqual(judge(script, 'echo/internal', 'in', http('2001:db8:ffff:9::1', INTERNAL)), { verdict: 'drop', by: 'baseline-guard-private-workloads' });
  // From inside the cluster the namespace's policy does open it.
  assert.deepEqual(judge(script, 'echo/internal', 'in', http(NODE, INTERNAL)), { verdict: 'accept', by: 'knp.default.internal-from-anywhere' });
  // A public workload opened the same way is reachable from the internet (the guard is what differs).
  assert.deepEqual(judge(script, 'echo/echo-b', 'in', http(INTERNET, ECHO_B)), { verdict: 'accept', by: 'knp.default.echo-public-ingress' });
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
