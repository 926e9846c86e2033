/**
 * The cluster's DNS configuration (lib/render/coredns.ts): kubeadm v1.35's
 * default Corefile with its two changes (forward to the platform's
 * resolvers, through NAT64 when they are IPv4; dns64 with the cluster's
 * prefix), for the lab and for Equinix Metal; what it refuses; the
 * ConfigMap it is applied as. What CoreDNS itself does with it is
 * test/integration/coredns.test.ts.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { decodeCluster } from '../../lib/cluster/decode.js';
import { unreachableResolvers } from '../../lib/cluster/egress.js';
import { formatProblem } from '../../lib/cluster/problems.js';
import { isIPv4, parseAddress } from '../../lib/net/ipv6.js';
import { planAddresses } from '../../lib/plan/addressPlan.js';
import { PLATFORMS } from '../../lib/platforms/index.js';
import { labRules } from '../../lib/platforms/lab/rules.js';
import { LAB_INTERNET_HOSTS } from '../../lib/platforms/lab/provider/provider.js';
import { loadCluster } from '../../lib/platforms/load.js';
import { corednsConfigMap, corefile, upstreams } from '../../lib/render/coredns.js';
import { clusterFiles } from '../../lib/render/tree.js';
import { FIXTURE_TEMPLATES } from '../pinned-fixture.js';

const root = new URL('../../', import.meta.url);
const lines = (...l: string[]) => `${l.join('\n')}\n`;

function load(file: string, text = readFileSync(new URL(file, root), 'utf8')) {
  const r = loadCluster(file, text);
  assert.ok(r.ok, r.ok ? '' : r.problems.map(formatProblem).join('\n'));
  return r;
}

/** An Equinix Metal spec with the project's /56 (a real-looking one: Equinix Metal's 2604:1380::/32), with `egress` lines. */
const metal = (...egress: string[]) =>
  lines(
    'apiVersion: native6.dev/v1alpha1',
    'kind: Cluster',
    'metadata:',
    '  name: edge',
    'spec:',
    '  platform: equinix-metal',
    '  metro: da',
    '  kubernetesVersion: v1.35.4',
    '  controlPlane: {count: 3, plan: c3.small.x86}',
    '  network:',
    '    block: 2604:1380:4641:c500::/56',
    '  gitops:',
    '    url: https://github.com/example/clusters',
    ...egress,
  );

/**
 * kubeadm v1.35's Corefile for dnsDomain cluster.local (CoreDNSConfigMap in
 * cmd/kubeadm/app/phases/addons/dns/manifests.go, its template rendered):
 * what every rendered Corefile must be but for its two changes.
 */
const KUBEADM_COREFILE = [
  '.:53 {',
  '    errors',
  '    health {',
  '       lameduck 5s',
  '    }',
  '    ready',
  '    kubernetes cluster.local in-addr.arpa ip6.arpa {',
  '       pods insecure',
  '       fallthrough in-addr.arpa ip6.arpa',
  '       ttl 30',
  '    }',
  '    prometheus :9153',
  '    forward . /etc/resolv.conf {',
  '       max_concurrent 1000',
  '    }',
  '    cache 30 {',
  '       disable success cluster.local',
  '       disable denial cluster.local',
  '    }',
  '    loop',
  '    reload',
  '    loadbalance',
  '}',
];

/** kubeadm's Corefile with the two changes: the forward targets, and the dns64 block (when there is a prefix) before forward. */
function kubeadmWith(targets: readonly string[], prefix?: string): string[] {
  return KUBEADM_COREFILE.flatMap((l) =>
    l === '    forward . /etc/resolv.conf {' ? [...(prefix ? ['    dns64 {', `       prefix ${prefix}`, '    }'] : []), `    forward . ${targets.join(' ')} {`] : [l],
  );
}

/** The Corefile's lines that are not comments. */
const config = (text: string) => text.split('\n').filter((l) => l !== '' && !/^\s*#/.test(l));
/** The comments' text, each run of comment lines joined into one paragraph. */
const comments = (text: string) =>
  text
    .split(/\n(?!\s*#)/)
    .map((chunk) => chunk.split('\n').filter((l) => /^\s*# /.test(l)).map((l) => l.replace(/^\s*# /, '')).join(' '))
    .filter(Boolean);

test("the lab: kubeadm's Corefile, forwarding to the lab resolver's IPv4 address under the NAT64 prefix, with dns64 in that prefix", () => {
  const { spec, plan } = load('infra/lab.yaml');
  assert.deepEqual(spec.resolvers, [LAB_INTERNET_HOSTS.resolver.ipv4]);
  const text = corefile(spec, plan);
  // 192.0.2.53 is c000:235 in the last 32 bits of 2001:db8:100:4::/96.
  assert.deepEqual(config(text), kubeadmWith(['2001:db8:100:4::c000:235'], '2001:db8:100:4::/96'));
  assert.deepEqual(upstreams(spec, plan), [{ resolver: '192.0.2.53', address: '2001:db8:100:4::c000:235', throughNat64: true }]);
  // Each change is explained where it is, in Corefile comments; the file says where it comes from.
  assert.match(text, /^# The DNS of cluster lab, rendered by native6 from infra\/lab\.yaml \(lib\/render\/coredns\.ts, npm run render\):\n# kubeadm v1\.35's default Corefile with two changes/);
  assert.match(text, /\n {4}# native6: DNS64\.[^\n]*\n(?: {4}#[^\n]*\n)* {4}dns64 \{\n/);
  assert.match(text, /\n {4}# native6: the platform's resolvers[^\n]*\n(?: {4}#[^\n]*\n)* {4}forward \. /);
  assert.deepEqual(comments(text).slice(1), [
    "native6: DNS64. An AAAA question for a name with only A records is answered with those addresses under the cluster's NAT64 prefix (RFC 6052), which every node translates to IPv4. A name with an AAAA record keeps it. CoreDNS runs dns64 before kubernetes and forward whatever the order here (its plugin.cfg), and dns64 changes only answers without AAAA: cluster.local names keep the kubernetes plugin's AAAA answers.",
    "native6: the platform's resolvers (lab: 192.0.2.53 as 2001:db8:100:4::c000:235) instead of /etc/resolv.conf. These pods are IPv6-only: they reach an IPv4 resolver only as its address under the NAT64 prefix, through their node's translator.",
  ]);
  // Comments are whole lines of their own (CoreDNS's # comments), none wider than 100 columns, no tabs.
  for (const l of text.split('\n')) {
    assert.ok(!l.includes('\t') && l.length <= 110, `"${l}"`);
    if (l.includes('#')) assert.match(l, /^\s*# /, `a comment after configuration: "${l}"`);
  }
  assert.ok(text.endsWith('}\n'));
});

test('Equinix Metal: both of its IPv4 resolvers, each under the NAT64 prefix the plan takes or the spec gives (the well-known one included)', () => {
  const carved = load('edge.yaml', metal());
  assert.deepEqual(carved.spec.resolvers, ['147.75.207.207', '147.75.207.208']);
  assert.deepEqual(config(corefile(carved.spec, carved.plan)), kubeadmWith(['2604:1380:4641:c504::934b:cfcf', '2604:1380:4641:c504::934b:cfd0'], '2604:1380:4641:c504::/96'));
  const wellKnown = load('edge.yaml', metal('  egress:', '    nat64Prefix: 64:ff9b::/96'));
  const text = corefile(wellKnown.spec, wellKnown.plan);
  assert.deepEqual(config(text), kubeadmWith(['64:ff9b::934b:cfcf', '64:ff9b::934b:cfd0'], '64:ff9b::/96'));
  // The same addresses as RFC 6052 writes them.
  assert.deepEqual(
    upstreams(wellKnown.spec, wellKnown.plan).map((u) => parseAddress(u.address)),
    ['64:ff9b::147.75.207.207', '64:ff9b::147.75.207.208'].map(parseAddress),
  );
  assert.ok(comments(text).some((c) => c.startsWith("native6: the platform's resolvers (equinix-metal: 147.75.207.207 as 64:ff9b::934b:cfcf, 147.75.207.208 as 64:ff9b::934b:cfd0) instead of /etc/resolv.conf.")), comments(text).join('\n'));
  // infra/dfw.yaml, as committed: its block's /64 #4.
  const dfw = load('infra/dfw.yaml');
  assert.deepEqual(config(corefile(dfw.spec, dfw.plan)), kubeadmWith(['2001:db8:2a00:4::934b:cfcf', '2001:db8:2a00:4::934b:cfd0'], '2001:db8:2a00:4::/96'));
});

test('without NAT64 (spec.egress.ipv4: none) on a platform with an IPv6 resolver: no dns64, forward to the IPv6 resolver only, the IPv4 one left out and said so', () => {
  const rules = new Map([['lab', { ...labRules, resolvers: [LAB_INTERNET_HOSTS.resolver.ipv4, '2001:DB8:FFFF:1:0::53'] }]]);
  const text = lines('apiVersion: native6.dev/v1alpha1', 'kind: Cluster', 'metadata:', '  name: lab', 'spec:', '  platform: lab', '  kubernetesVersion: v1.35.4', '  network:', '    block: 2001:db8:100::/56', '  egress:', '    ipv4: none');
  const r = decodeCluster('infra/lab.yaml', text, rules);
  assert.ok(r.ok, r.ok ? '' : r.problems.map(formatProblem).join('\n'));
  const spec = { ...r.spec, file: 'infra/lab.yaml', name: 'lab' };
  const plan = planAddresses(spec);
  assert.equal(plan.nat64, undefined);
  const out = corefile(spec, plan);
  // The address in its canonical form.
  assert.deepEqual(config(out), kubeadmWith(['2001:db8:ffff:1::53']));
  assert.doesNotMatch(out, /dns64|NAT64 prefix,/);
  assert.deepEqual(comments(out).slice(1), ["native6: the platform's resolvers (lab: 2001:db8:ffff:1::53 (IPv6)) instead of /etc/resolv.conf. Left out: 192.0.2.53 (IPv4, and this cluster has no NAT64)."]);
  // With NAT64 the same platform's resolvers are both used, the IPv4 one through the prefix.
  const withNat64 = { ...spec, egress: { ipv4: 'nat64' as const } };
  assert.deepEqual(upstreams(withNat64, planAddresses(withNat64)).map((u) => u.address), ['2001:db8:100:4::c000:235', '2001:db8:ffff:1::53']);
});

test('IPv4-only resolvers and no NAT64: refused naming spec.egress.ipv4 and the fix, by the decoder (at the line) and by the renderer', () => {
  const { spec, plan } = load('infra/lab.yaml');
  const none = { ...spec, egress: { ipv4: 'none' as const } };
  const noPrefix = { ...plan, nat64: undefined };
  const message =
    "infra/lab.yaml: spec.egress.ipv4: is none, but every resolver lab gives its machines is IPv4 (192.0.2.53): the cluster's DNS runs in IPv6-only pods, which reach an IPv4 resolver only through NAT64, so no name outside the cluster would resolve (Flux's git host included). Fix: set \"ipv4: nat64\": the cluster's DNS then forwards to those resolvers through the NAT64 prefix";
  assert.throws(() => corefile(none, noPrefix), { message });
  assert.throws(() => upstreams(none, noPrefix), { message });
  assert.throws(() => clusterFiles({ spec: none, plan: noPrefix, sources: ['infra/lab.yaml'] }, FIXTURE_TEMPLATES), { message });
  // The decoder says it first, at the field's line.
  const text = `${readFileSync(new URL('infra/lab.yaml', root), 'utf8')}  egress:\n    ipv4: none\n`;
  const refused = loadCluster('infra/lab.yaml', text);
  assert.equal(refused.ok, false);
  const line = text.split('\n').indexOf('    ipv4: none') + 1;
  assert.deepEqual(refused.ok ? [] : refused.problems.map(formatProblem), [message.replace('infra/lab.yaml:', `infra/lab.yaml:${line}:11:`)]);
  // A platform without any resolver cannot be rendered at all.
  assert.throws(() => corefile({ ...spec, resolvers: [] }, plan), /platform lab gives its machines no resolver \(SpecRules\.resolvers\)/);
});

test("every platform's resolvers are addresses, and its default egress reaches one of them", () => {
  assert.ok(PLATFORMS.length >= 2);
  for (const p of PLATFORMS) {
    const { name, resolvers, ipv4Egress } = p.rules;
    // Where the spec lists the machines, their resolvers are the spec's (spec.resolvers, required there).
    if (p.rules.inventory) {
      assert.deepEqual(resolvers, [], name);
      continue;
    }
    assert.ok(resolvers.length > 0, `${name}: no resolver`);
    for (const a of resolvers) assert.ok(isIPv4(a) || parseAddress(a) >= 0n, `${name}: ${a}`);
    assert.equal(unreachableResolvers(ipv4Egress.default, name, resolvers), undefined, `${name}: its default egress reaches none of its resolvers`);
  }
  // The lab is no kinder than Equinix Metal: IPv4 resolvers only.
  assert.ok(PLATFORMS.every((p) => p.rules.resolvers.every(isIPv4)));
});

test('the ConfigMap: kubeadm\'s (kube-system/coredns, key Corefile, no labels), never pruned by Flux, in the fabric; the same inputs give the same bytes', () => {
  const { spec, plan } = load('infra/lab.yaml');
  const cm = corednsConfigMap(spec, plan);
  assert.deepEqual(cm, {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'coredns', namespace: 'kube-system', annotations: { 'kustomize.toolkit.fluxcd.io/prune': 'disabled' } },
    data: { Corefile: corefile(spec, plan) },
  });
  assert.equal(corefile(spec, plan), corefile(load('infra/lab.yaml').spec, load('infra/lab.yaml').plan));
  // In the fabric, listed by its kustomization, and read back as the same Corefile (a YAML block, comments and all).
  const files = clusterFiles({ spec, plan, sources: ['infra/lab.yaml'] }, FIXTURE_TEMPLATES);
  const file = files.find((f) => f.path === 'clusters/lab/fabric/coredns.yaml');
  assert.ok(file);
  assert.match(file.content, /\n {2}Corefile: \|\n {4}# The DNS of cluster lab/);
  assert.deepEqual(parseAllDocuments(file.content).map((d) => d.toJS()), [cm]);
  assert.match(files.find((f) => f.path === 'clusters/lab/fabric/kustomization.yaml')!.content, /\n {2}- coredns\.yaml\n/);
  assert.deepEqual(clusterFiles({ spec, plan, sources: ['infra/lab.yaml'] }, FIXTURE_TEMPLATES), files);
});

test('a platform with an IPv4 and an IPv6 resolver, with NAT64: both forwarded to, the IPv4 one through the prefix and said so, none left out', () => {
  const rules = new Map([['lab', { ...labRules, resolvers: [LAB_INTERNET_HOSTS.resolver.ipv4, '2001:db8:ffff:1::53'] }]]);
  const text = lines('apiVersion: native6.dev/v1alpha1', 'kind: Cluster', 'metadata:', '  name: lab', 'spec:', '  platform: lab', '  kubernetesVersion: v1.35.4', '  network:', '    block: 2001:db8:100::/56');
  const r = decodeCluster('infra/lab.yaml', text, rules);
  assert.ok(r.ok, r.ok ? '' : r.problems.map(formatProblem).join('\n'));
  const spec = { ...r.spec, file: 'infra/lab.yaml', name: 'lab' };
  const plan = planAddresses(spec);
  const out = corefile(spec, plan);
  assert.deepEqual(config(out), kubeadmWith(['2001:db8:100:4::c000:235', '2001:db8:ffff:1::53'], '2001:db8:100:4::/96'));
  // One resolver through NAT64 is enough for the sentence on IPv6-only pods; neither is left out.
  assert.deepEqual(comments(out).at(-1), "native6: the platform's resolvers (lab: 192.0.2.53 as 2001:db8:100:4::c000:235, 2001:db8:ffff:1::53 (IPv6)) instead of /etc/resolv.conf. These pods are IPv6-only: they reach an IPv4 resolver only as its address under the NAT64 prefix, through their node's translator.");
});

test("the Corefile's comments are filled up to 100 columns: no line wider, none that could have taken the next line's first word", () => {
  // Resolvers of several lengths: some line of the resolvers' paragraph is then exactly 100 columns wide, and another
  // would be 101 with its next word.
  const widths = new Set<number>();
  for (const resolver of ['2001:db8:ffff:1::53', '2001:db8:ffff:12::53', '2001:db8:ffff:123::53', '2001:db8:ffff:1:23::53', '2001:db8:ffff:123:4567::53']) {
    const rules = new Map([['lab', { ...labRules, resolvers: [LAB_INTERNET_HOSTS.resolver.ipv4, resolver] }]]);
    const r = decodeCluster('infra/lab.yaml', lines('apiVersion: native6.dev/v1alpha1', 'kind: Cluster', 'metadata:', '  name: lab', 'spec:', '  platform: lab', '  kubernetesVersion: v1.35.4', '  network:', '    block: 2001:db8:100::/56'), rules);
    assert.ok(r.ok, r.ok ? '' : r.problems.map(formatProblem).join('\n'));
    const spec = { ...r.spec, file: 'infra/lab.yaml', name: 'lab' };
    const text = corefile(spec, planAddresses(spec));
    assert.ok(text.includes(`${resolver} (IPv6)`), text);
    // The comments inside the server block, each paragraph's lines in order.
    const blocks = text.split(/\n(?! {4}# )/).map((chunk) => chunk.split('\n').filter((l) => l.startsWith('    # '))).filter((b) => b.length > 0);
    assert.equal(blocks.length, 2, 'the DNS64 and the resolvers paragraphs');
    for (const block of blocks) {
      block.forEach((l, n) => {
        widths.add(l.length);
        assert.ok(l.length <= 100, `wider than 100 columns: "${l}"`);
        const next = block[n + 1]?.slice('    # '.length).split(' ')[0];
        if (next !== undefined) assert.ok(`${l} ${next}`.length > 100, `"${next}" fits on "${l}"`);
      });
    }
  }
  assert.ok(widths.has(100), 'a line exactly 100 columns wide');
});

test('without NAT64, every IPv4 resolver left out is named, each apart', () => {
  const rules = new Map([['lab', { ...labRules, resolvers: ['192.0.2.53', '2001:db8:ffff:1::53', '198.51.100.53'] }]]);
  const text = lines('apiVersion: native6.dev/v1alpha1', 'kind: Cluster', 'metadata:', '  name: lab', 'spec:', '  platform: lab', '  kubernetesVersion: v1.35.4', '  network:', '    block: 2001:db8:100::/56', '  egress:', '    ipv4: none');
  const r = decodeCluster('infra/lab.yaml', text, rules);
  assert.ok(r.ok, r.ok ? '' : r.problems.map(formatProblem).join('\n'));
  const spec = { ...r.spec, file: 'infra/lab.yaml', name: 'lab' };
  const out = corefile(spec, planAddresses(spec));
  assert.deepEqual(config(out), kubeadmWith(['2001:db8:ffff:1::53']));
  assert.equal(comments(out).at(-1), "native6: the platform's resolvers (lab: 2001:db8:ffff:1::53 (IPv6)) instead of /etc/resolv.conf. Left out: 192.0.2.53, 198.51.100.53 (IPv4, and this cluster has no NAT64).");
});
