/**
 * Whom the baseline trusts (#15): its rules select the cluster's network
 * sets by label, and in a GlobalNetworkPolicy such a selector also matches
 * workload endpoints of every namespace unless it is limited to global
 * resources (H3); and CoreDNS answers pods only, never the `cluster` set,
 * whose node range is what masqueraded internet traffic to a ClusterIP
 * comes from (M1). The rendered baseline, compiled by the lab's policy
 * engine (lib/platforms/lab/calicoNode/policy.ts) and judged packet by
 * packet.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { compilePolicy, workloadLabels, type PolicyInputs, type Workload } from '../../lib/platforms/lab/calicoNode/policy.js';
import { parseSelector } from '../../lib/platforms/lab/calicoNode/selector.js';
import { GLOBAL_ONLY, networkSets } from '../../lib/render/policies.js';
import { renderShared } from '../../lib/render/tree.js';
import { judge, labPolicyInputs, resolved, type Packet } from '../calico-fixture.js';

const INTERNET = '2001:db8:ffff:1::1';
/** A trusted source (spec.policy.trustedSources): the lab renders none, these inputs give one. */
const TRUSTED_NET = '2001:db8:ab00::/40';
const TRUSTED = '2001:db8:ab00::1';
/** lab-cp-1's address, in the node range of the `cluster` set: what the internet looks like once kube-proxy masquerades it. */
const NODE = '2001:db8:100::3';
const INTERNAL = '2001:db8:100:8::82';
const ECHO_B = '2001:db8:100:8::81';
const EVIL = '2001:db8:100:8::99';
const DNS = '2001:db8:100:8::83';
const FETCHER = '2001:db8:100:8::c1';
const KUSTOMIZE = '2001:db8:100:8::c3';
const MIMIC = '2001:db8:100:8::c9';
/** github.com's 140.82.114.4 under the lab's NAT64 prefix. */
const GITHUB_NAT64 = '2001:db8:100:4::8c52:7204';

const pod = (namespace: string, name: string, ip: string, node: string, labels: Record<string, string>): Workload => ({ namespace, name, ip, node, labels: workloadLabels(labels, namespace) });
const tcp = (saddr: string, daddr: string, dport: number): Packet => ({ saddr, daddr, proto: 'tcp', dport });
const udp = (saddr: string, daddr: string, dport: number): Packet => ({ saddr, daddr, proto: 'udp', dport });

/**
 * The lab's rendered baseline and demo with a tenant namespace whose pod
 * labelled itself as the trusted network set (the review's reproduction),
 * CoreDNS beside the internal pod on n2, the trusted set holding a prefix,
 * and on n3 workloads around the NAT64 set: one labelled for IPv4, one of
 * Flux's (its namespace opens every egress, as Flux installs it) and a
 * tenant pod labelled as the NAT64 set.
 */
function inputs(): PolicyInputs {
  const lab = labPolicyInputs();
  return {
    ...lab,
    namespaces: [...lab.namespaces, { metadata: { name: 'tenant' } }, { metadata: { name: 'flux-system' } }],
    globalNetworkSets: lab.globalNetworkSets.map((s) => (s.metadata?.labels?.['native6.dev/network'] === 'trusted' ? { ...s, spec: { nets: [TRUSTED_NET] } } : s)),
    workloads: [
      ...lab.workloads,
      pod('tenant', 'evil', EVIL, 'n1', { 'native6.dev/network': 'trusted' }),
      pod('kube-system', 'coredns-5d78c9869d-x2x4k', DNS, 'n2', { 'k8s-app': 'kube-dns', 'pod-template-hash': '5d78c9869d' }),
      pod('echo', 'fetcher', FETCHER, 'n3', { app: 'fetcher', 'native6.dev/ipv4-egress': 'true' }),
      pod('flux-system', 'kustomize-controller', KUSTOMIZE, 'n3', { app: 'kustomize-controller' }),
      pod('tenant', 'mimic', MIMIC, 'n1', { 'native6.dev/network': 'nat64' }),
    ],
    networkPolicies: [...lab.networkPolicies, { metadata: { name: 'allow-egress', namespace: 'flux-system' }, spec: { podSelector: {}, policyTypes: ['Egress'], egress: [{}] } }],
  };
}

test("H3: a tenant's pod labelled native6.dev/network: trusted gets nothing from baseline-allow-trusted-sources; the trusted set still does", () => {
  const { script } = compilePolicy(inputs(), 'n2');
  // Before the fix, each of these was accepted by baseline-allow-trusted-sources: every workload, every port.
  assert.deepEqual(judge(script, 'echo/internal', 'in', tcp(EVIL, INTERNAL, 8080)), { verdict: 'drop', by: 'baseline-default-deny' });
  assert.deepEqual(judge(script, 'echo/internal', 'in', tcp(EVIL, INTERNAL, 22)), { verdict: 'drop', by: 'baseline-default-deny' });
  assert.deepEqual(judge(script, 'echo/echo-b', 'in', tcp(EVIL, ECHO_B, 22)), { verdict: 'drop', by: 'baseline-default-deny' });
  assert.deepEqual(judge(script, 'kube-system/coredns-5d78c9869d-x2x4k', 'in', tcp(EVIL, DNS, 9153)), { verdict: 'drop', by: 'baseline-default-deny' });
  // The trusted network set is let in, on any port.
  assert.deepEqual(judge(script, 'echo/internal', 'in', tcp(TRUSTED, INTERNAL, 22)), { verdict: 'accept', by: 'baseline-allow-trusted-sources' });
  assert.deepEqual(judge(script, 'echo/echo-b', 'in', tcp(TRUSTED, ECHO_B, 22)), { verdict: 'accept', by: 'baseline-allow-trusted-sources' });
  // The rule's addresses are the set's prefix alone: no pod's /128 (before: { 2001:db8:100:8::99/128, 2001:db8:ab00::/40 }).
  assert.match(resolved(script), /# baseline-allow-trusted-sources \(order 20\)\n {4}ip6 saddr \{ 2001:db8:ab00::\/40 \} accept\n/);
});

test("H3: the guards' exemptions are the network sets' prefixes; a pod's label does not add its address to them", () => {
  const text = resolved(compilePolicy(inputs(), 'n2').script);
  // Before the fix both held the labelled pod's 2001:db8:100:8::99/128 as well.
  assert.match(text, /# baseline-guard-private-workloads \(order 10\)\n {4}ip6 saddr != \{ 2001:db8:100:8::\/64, 2001:db8:100::\/64, 2001:db8:ab00::\/40 \} counter drop/);
  assert.match(text, /# baseline-guard-public-workloads \(order 10\)\n {4}ip6 saddr != \{ 2001:db8:100:8::\/64, 2001:db8:100::\/64, 2001:db8:ab00::\/40, ::\/0 \} counter drop/);
});

test('H3: a pod labelled as the NAT64 set is neither the IPv4 internet opened to labelled workloads nor the one guarded', () => {
  const { script } = compilePolicy(inputs(), 'n3');
  // Before: the label opened every port of the pod to the labelled workload (allow-ipv4-egress), past its namespace's policies.
  assert.deepEqual(judge(script, 'echo/fetcher', 'eg', tcp(FETCHER, MIMIC, 8080)), { verdict: 'drop', by: 'baseline-default-deny' });
  // Before: the guard dropped it as the IPv4 internet; it is a pod, so Flux's namespace policy decides.
  assert.deepEqual(judge(script, 'flux-system/kustomize-controller', 'eg', tcp(KUSTOMIZE, MIMIC, 8080)), { verdict: 'return', by: 'knp.default.allow-egress' });
  // The NAT64 prefix itself: opened to the labelled workload, guarded from the other.
  assert.deepEqual(judge(script, 'echo/fetcher', 'eg', tcp(FETCHER, GITHUB_NAT64, 443)), { verdict: 'return', by: 'baseline-allow-ipv4-egress' });
  assert.deepEqual(judge(script, 'flux-system/kustomize-controller', 'eg', tcp(KUSTOMIZE, GITHUB_NAT64, 443)), { verdict: 'drop', by: 'baseline-guard-ipv4-egress' });
});

test('M1: CoreDNS answers pods of every namespace, not the node range that masqueraded internet traffic comes from', () => {
  const { script } = compilePolicy(inputs(), 'n2');
  const coredns = 'kube-system/coredns-5d78c9869d-x2x4k';
  // The internet through the kube-dns ClusterIP, masqueraded to a node's address: before the fix, accepted by baseline-dns-server.
  assert.deepEqual(judge(script, coredns, 'in', udp(NODE, DNS, 53)), { verdict: 'drop', by: 'baseline-default-deny' });
  assert.deepEqual(judge(script, coredns, 'in', tcp(NODE, DNS, 53)), { verdict: 'drop', by: 'baseline-default-deny' });
  assert.deepEqual(judge(script, coredns, 'in', udp('2001:db8:100::24b9:216b:3', DNS, 53)), { verdict: 'drop', by: 'baseline-default-deny' });
  // Unmasqueraded, the internet is stopped by the private guard, as before.
  assert.deepEqual(judge(script, coredns, 'in', udp(INTERNET, DNS, 53)), { verdict: 'drop', by: 'baseline-guard-private-workloads' });
  // Pods, in any namespace: port 53 only.
  assert.deepEqual(judge(script, coredns, 'in', udp(INTERNAL, DNS, 53)), { verdict: 'accept', by: 'baseline-dns-server' });
  assert.deepEqual(judge(script, coredns, 'in', tcp(INTERNAL, DNS, 53)), { verdict: 'accept', by: 'baseline-dns-server' });
  assert.deepEqual(judge(script, coredns, 'in', udp(EVIL, DNS, 53)), { verdict: 'accept', by: 'baseline-dns-server' });
  assert.deepEqual(judge(script, coredns, 'in', tcp(INTERNAL, DNS, 8080)), { verdict: 'drop', by: 'baseline-default-deny' });
  // The rule's sources are the pods' /128s, no network set: neither the node range nor the pod range.
  const rule = /# baseline-dns-server \(order 100\)\n {4}meta l4proto udp ip6 saddr \{ ([^}]*) \} th dport \{ 53 \} accept\n/.exec(resolved(script));
  assert.ok(rule, 'the DNS server rule');
  assert.deepEqual(rule[1]!.split(', '), inputs().workloads.map((w) => `${w.ip}/128`).sort());
  // The kubelet's probes come from the pod's own node, which Felix does not police (nor does the lab: no output hook).
  assert.doesNotMatch(script, /hook output/);
});

/** Every rule peer (source, destination) of the rendered baseline, with where it is. */
function baselinePeers(): Array<{ where: string; action: string; peer: Record<string, unknown> }> {
  const docs = renderShared()
    .filter((f) => f.path.startsWith('policies/baseline/') && !f.path.endsWith('kustomization.yaml'))
    .flatMap((f) => parseAllDocuments(f.content).map((d) => d.toJS() as { metadata: { name: string }; spec: Record<string, unknown> }));
  assert.equal(docs.length, 9, 'the baseline renders 9 policies');
  return docs.flatMap((p) =>
    (['ingress', 'egress'] as const).flatMap((dir) =>
      ((p.spec[dir] as Array<Record<string, unknown>> | undefined) ?? []).flatMap((r, i) =>
        (['source', 'destination'] as const).filter((side) => r[side]).map((side) => ({ where: `${p.metadata.name}.${dir}[${i}].${side}`, action: String(r.action), peer: r[side] as Record<string, unknown> })),
      ),
    ),
  );
}

test('every selector of the rendered baseline that names a network set is limited to global resources; no Allow trusts the cluster set', () => {
  const peers = baselinePeers();
  const bySet = peers.flatMap(({ where, peer }) => (['selector', 'notSelector'] as const).filter((k) => String(peer[k] ?? '').includes('native6.dev/network')).map((k) => ({ where: `${where}.${k}`, text: String(peer[k]) })));
  assert.deepEqual(
    bySet.map((x) => x.where).sort(),
    [
      'baseline-allow-ipv4-egress.egress[0].destination.selector',
      'baseline-allow-trusted-sources.ingress[0].source.selector',
      'baseline-guard-ipv4-egress.egress[0].destination.selector',
      'baseline-guard-private-workloads.ingress[0].source.notSelector',
      'baseline-guard-public-workloads.ingress[0].source.notSelector',
    ],
  );
  for (const { where, text } of bySet) assert.ok(text.endsWith(` && ${GLOBAL_ONLY}`), `${where}: ${text}`);
  for (const { where, action, peer } of peers) {
    if (action === 'Allow') assert.ok(!/'cluster'/.test(String(peer.selector ?? '')), `${where} allows the cluster set, nodes (and the internet through a ClusterIP) included`);
  }
  // CoreDNS's ingress: every namespace's workload endpoints, and no selector of a network set.
  assert.deepEqual(
    peers.filter((p) => p.where.startsWith('baseline-dns-server.ingress')).map(({ where, peer }) => [where, peer]),
    [0, 1].flatMap((i) => [
      [`baseline-dns-server.ingress[${i}].source`, { namespaceSelector: 'all()' }],
      [`baseline-dns-server.ingress[${i}].destination`, { ports: [53] }],
    ]),
  );
});

test('networkSets(): a global network set matches, a pod with the same label in any namespace does not', () => {
  const s = parseSelector(networkSets("native6.dev/network == 'trusted'"));
  assert.equal(s.text, "native6.dev/network == 'trusted' && !has(projectcalico.org/namespace)");
  assert.equal(s.matches({ 'native6.dev/network': 'trusted' }), true, 'the GlobalNetworkSet trusted-sources');
  assert.equal(s.matches({ 'native6.dev/network': 'cluster' }), false);
  for (const ns of ['tenant', 'kube-system', 'default']) assert.equal(s.matches(workloadLabels({ 'native6.dev/network': 'trusted' }, ns)), false, ns);
  // A pod cannot shed the namespace label: Calico, like the lab, writes it over the pod's own labels.
  assert.equal(s.matches(workloadLabels({ 'native6.dev/network': 'trusted', 'projectcalico.org/namespace': '' }, 'tenant')), false);
});
