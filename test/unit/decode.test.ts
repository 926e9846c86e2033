/**
 * The spec decoder's paths that the fixtures of spec.test.ts leave out (from
 * the mutation run of lib/cluster/decode.ts): a missing Kubernetes version, a
 * version with text before it, the name checks with the file name asked for,
 * a DNS zone or record name that is not a string, and where `locate` finds a field;
 * and what the platforms' rules (lib/platforms/<platform>/rules.ts) answer that the
 * fixtures leave out. spec.egress (lib/cluster/egress.ts) whole: the platforms'
 * defaults, every bad value, the plan's overlap check, options in the wrong place.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeCluster } from '../../lib/cluster/decode.js';
import { formatProblem } from '../../lib/cluster/problems.js';
import { loadCluster } from '../../lib/platforms/load.js';
import { platformRules } from '../../lib/platforms/index.js';
import { labRules } from '../../lib/platforms/lab/rules.js';
import { equinixMetalRules } from '../../lib/platforms/equinixMetal/rules.js';
import type { SpecRules } from '../../lib/cluster/rules.js';
import { formatPrefix } from '../../lib/net/ipv6.js';

const lines = (...l: string[]) => `${l.join('\n')}\n`;

const lab = (name: string, ...spec: string[]) =>
  lines('apiVersion: native6.dev/v1alpha1', 'kind: Cluster', 'metadata:', `  name: ${name}`, 'spec:', '  platform: lab', ...spec);

const metal = (name: string, ...extra: string[]) =>
  lines(
    'apiVersion: native6.dev/v1alpha1',
    'kind: Cluster',
    'metadata:',
    `  name: ${name}`,
    'spec:',
    '  platform: equinix-metal',
    '  metro: da',
    '  kubernetesVersion: v1.35.4',
    '  controlPlane: {count: 3, plan: c3.small.x86}',
    '  network:',
    '    blockSize: 56',
    '  gitops:',
    '    url: https://github.com/example/clusters',
    ...extra,
  );

function problems(text: string, expectName?: string): string[] {
  const r = loadCluster('x.yaml', text, expectName === undefined ? {} : { expectName });
  assert.equal(r.ok, false, 'the spec should be refused');
  return r.ok ? [] : r.problems.map(formatProblem);
}

test('a spec without kubernetesVersion: the one problem says which field to add, with an example', () => {
  assert.deepEqual(problems(lab('edge', '  network:', '    block: 2001:db8:100::/56')), [
    'x.yaml:6:3: spec.kubernetesVersion: is required. Fix: add e.g. "kubernetesVersion: v1.35.4"',
  ]);
});

test('a Kubernetes version with anything before the v is not a release version', () => {
  for (const v of ['xv1.35.4', 'release-v1.35.4', ' v1.35.4 x']) {
    assert.deepEqual(problems(lab('edge', `  kubernetesVersion: "${v}"`, '  network:', '    block: 2001:db8:100::/56')), [
      `x.yaml:7:22: spec.kubernetesVersion: "${v}" is not a Kubernetes release version. Fix: write it as v1.MINOR.PATCH, e.g. v1.35.4`,
    ]);
  }
});

test('a cluster name that is not a string is reported once, not also as a file-name mismatch', () => {
  assert.deepEqual(problems(lab('42', '  kubernetesVersion: v1.35.4', '  network:', '    block: 2001:db8:100::/56'), 'edge'), [
    'x.yaml:4:9: metadata.name: must be a string, found the number 42. Fix: write the name as a string',
  ]);
});

test('with the cluster name wrong, the DNS record fix still shows a whole example name', () => {
  assert.deepEqual(problems(metal('Edge', 'dns:', '    zone: example.com', '    name: api.edge.example.com').replace('\ndns:', '\n  dns:')), [
    'x.yaml:4:9: metadata.name: "Edge" is not a valid cluster name. Fix: use at most 30 lower-case letters, digits and "-", starting and ending with a letter or digit',
    'x.yaml:16:11: spec.dns.name: "api.edge.example.com" is not a record name relative to the zone. Fix: write the name without the zone, e.g. api.cluster for api.cluster.<zone>',
  ]);
});

test('a DNS zone that is not a string, with a good record name: the zone\'s problem alone', () => {
  assert.deepEqual(problems(metal('edge', '  dns:', '    zone: 42', '    name: api')), [
    'x.yaml:15:11: spec.dns.zone: must be a string, found the number 42. Fix: write the zone as a string',
  ]);
});

test('a DNS record name that is not a string, in a good zone: the name\'s problem alone', () => {
  assert.deepEqual(problems(metal('edge', '  dns:', '    zone: example.com', '    name: 2')), [
    'x.yaml:16:11: spec.dns.name: must be a string, found the number 2. Fix: write the record name as a string',
  ]);
});

test('locate: the position of the first of the fields that the file sets, nothing when it sets none', () => {
  const r = decodeCluster('x.yaml', lab('edge', '  kubernetesVersion: v1.35.4', '  network:', '    block: 2001:db8:100::/56', '    podPoolSize: 60'), platformRules);
  assert.ok(r.ok);
  if (!r.ok) return;
  const pool = ['spec', 'network', 'podPoolSize'];
  const block = ['spec', 'network', 'block'];
  const size = ['spec', 'network', 'blockSize'];
  assert.deepEqual(r.locate(pool, block), { line: 10, column: 18 });
  assert.deepEqual(r.locate(size, block, pool), { line: 9, column: 12 });
  assert.deepEqual(r.locate(size), {});
  assert.deepEqual(r.locate(), {});
});

test('on Equinix Metal, a machine plan that is not a string is refused with how to write one', () => {
  const text = metal('edge', '  workers:', '    - {name: general, count: 2, plan: [c3.small.x86]}').replace('plan: c3.small.x86}', 'plan: 3}');
  assert.deepEqual(problems(text), [
    'x.yaml:9:34: spec.controlPlane.plan: must be a string, found the number 3. Fix: write the plan as a string, e.g. c3.small.x86',
    'x.yaml:15:39: spec.workers[0].plan: must be a string, found a list. Fix: write the plan as a string, e.g. c3.small.x86',
  ]);
});

test('an Equinix Metal spec leaves the node addresses to the provider, a lab spec plans them', () => {
  const decoded = (text: string) => {
    const r = loadCluster('x.yaml', text);
    assert.ok(r.ok, r.ok ? '' : r.problems.map(formatProblem).join('\n'));
    return r.spec;
  };
  assert.equal(decoded(metal('edge')).nodeAddresses, 'provider');
  assert.equal(decoded(lab('edge', '  kubernetesVersion: v1.35.4', '  network:', '    block: 2001:db8:100::/56')).nodeAddresses, 'planned');
});

// spec.egress (lib/cluster/egress.ts): how the IPv6-only pods reach the IPv4 internet.

const labEgress = (...spec: string[]) => lab('edge', '  kubernetesVersion: v1.35.4', '  network:', '    block: 2001:db8:100::/56', ...spec);

function egressOf(text: string) {
  const r = loadCluster('x.yaml', text);
  assert.ok(r.ok, r.ok ? '' : r.problems.map(formatProblem).join('\n'));
  return { ipv4: r.spec.egress.ipv4, nat64Prefix: r.spec.egress.nat64Prefix && formatPrefix(r.spec.egress.nat64Prefix), plan: r.plan.nat64 && formatPrefix(r.plan.nat64) };
}

test('spec.egress: absent, empty or ipv4 alone, each platform\'s default (nat64 on both), the plan taking the first /96 of the block\'s /64 #4', () => {
  assert.deepEqual(labRules.ipv4Egress.default, 'nat64');
  assert.deepEqual(equinixMetalRules.ipv4Egress.default, 'nat64');
  assert.deepEqual(egressOf(labEgress()), { ipv4: 'nat64', nat64Prefix: undefined, plan: '2001:db8:100:4::/96' });
  assert.deepEqual(egressOf(labEgress('  egress:')), { ipv4: 'nat64', nat64Prefix: undefined, plan: '2001:db8:100:4::/96' });
  assert.deepEqual(egressOf(labEgress('  egress:', '    ipv4: nat64', '    nat64Prefix:')), { ipv4: 'nat64', nat64Prefix: undefined, plan: '2001:db8:100:4::/96' });
  // A block assigned at apply: the prefix is relative to it, as the other ranges.
  assert.deepEqual(egressOf(metal('edge')), { ipv4: 'nat64', nat64Prefix: undefined, plan: '0:0:0:4::/96' });
});

test('spec.egress.ipv4: none is refused where every resolver the platform gives its machines is IPv4 (the lab, Equinix Metal): the cluster\'s DNS could forward nowhere', () => {
  assert.deepEqual(labRules.resolvers, ['192.0.2.53']);
  assert.deepEqual(equinixMetalRules.resolvers, ['147.75.207.207', '147.75.207.208']);
  const fix = 'Fix: set "ipv4: nat64": the cluster\'s DNS then forwards to those resolvers through the NAT64 prefix';
  const why = "the cluster's DNS runs in IPv6-only pods, which reach an IPv4 resolver only through NAT64, so no name outside the cluster would resolve (Flux's git host included)";
  assert.deepEqual(problems(labEgress('  egress:', '    ipv4: none')), [`x.yaml:11:11: spec.egress.ipv4: is none, but every resolver lab gives its machines is IPv4 (192.0.2.53): ${why}. ${fix}`]);
  assert.deepEqual(problems(metal('edge', '  egress:', '    ipv4: none')), [
    `x.yaml:15:11: spec.egress.ipv4: is none, but every resolver equinix-metal gives its machines is IPv4 (147.75.207.207, 147.75.207.208): ${why}. ${fix}`,
  ]);
  // One IPv6 resolver is enough: the lab's own resolver answers on an IPv6 address too.
  const v6 = new Map([['lab', { ...labRules, resolvers: ['192.0.2.53', '2001:db8:ffff:1::53'] }]]);
  const decoded = (text: string) => {
    const r = decodeCluster('x.yaml', text, v6);
    return r.ok ? r.spec : r.problems.map(formatProblem);
  };
  const none = decoded(labEgress('  egress:', '    ipv4: none'));
  assert.ok(!Array.isArray(none), String(none));
  assert.deepEqual([none.egress, none.resolvers], [{ ipv4: 'none' }, ['192.0.2.53', '2001:db8:ffff:1::53']]);
  assert.deepEqual(decoded(labEgress('  egress:', '    ipv4: none', '    nat64Prefix: 2001:db8:100:5::/96')), [
    'x.yaml:12:18: spec.egress.nat64Prefix: is set, but spec.egress.ipv4 is none: nothing is translated. Fix: remove nat64Prefix, or set "ipv4: nat64" to reach IPv4 through it',
  ]);
  // A platform that contradicts itself (default none, IPv4 resolvers only) is refused too, where the section would go.
  const odd = new Map([['lab', { ...labRules, ipv4Egress: { default: 'none' as const } }]]);
  const r = decodeCluster('x.yaml', labEgress(), odd);
  assert.deepEqual(r.ok ? [] : r.problems.map(formatProblem), [`x.yaml: spec.egress.ipv4: is none, but every resolver lab gives its machines is IPv4 (192.0.2.53): ${why}. ${fix}`]);
});

test('spec.egress.nat64Prefix: a /96 of the spec\'s own, inside the block outside its ranges, or outside the block (the well-known prefix on Equinix Metal)', () => {
  assert.deepEqual(egressOf(labEgress('  egress:', '    nat64Prefix: 2001:db8:100:5::/96')), { ipv4: 'nat64', nat64Prefix: '2001:db8:100:5::/96', plan: '2001:db8:100:5::/96' });
  // In the /64 of the Service range, but after the /112 it takes.
  assert.deepEqual(egressOf(labEgress('  egress:', '    nat64Prefix: 2001:db8:100:1:0:1::/96')).plan, '2001:db8:100:1:0:1::/96');
  // /64 #3 is free when there is no externalIPs range.
  assert.deepEqual(egressOf(labEgress('  egress:', '    nat64Prefix: 2001:db8:100:3::/96')).plan, '2001:db8:100:3::/96');
  assert.deepEqual(egressOf(labEgress('  egress:', '    nat64Prefix: 2001:db8:64::/96')).plan, '2001:db8:64::/96');
  assert.deepEqual(egressOf(metal('edge', '  egress:', '    nat64Prefix: 64:ff9b::/96')), { ipv4: 'nat64', nat64Prefix: '64:ff9b::/96', plan: '64:ff9b::/96' });
  assert.deepEqual(egressOf(metal('edge', '  egress:', '    ipv4: nat64', '    nat64Prefix: 2a00:1:2:3:4:5::/96')).plan, '2a00:1:2:3:4:5::/96');
});

test('spec.egress: every bad value at its field, with the fix', () => {
  const cases: Array<[string[], string]> = [
    [['  egress:', '    ipv4: NAT64'], "x.yaml:11:11: spec.egress.ipv4: \"NAT64\" is not a way to reach IPv4. Fix: use nat64 (pods reach IPv4-only hosts through DNS64 and each node's NAT64) or none (IPv4-only hosts are out of reach)"],
    [['  egress:', '    ipv4: true'], "x.yaml:11:11: spec.egress.ipv4: must be a string, found the boolean true. Fix: use nat64 (pods reach IPv4-only hosts through DNS64 and each node's NAT64) or none (IPv4-only hosts are out of reach)"],
    [['  egress: nat64'], 'x.yaml:10:11: spec.egress: must be a mapping, found the string "nat64". Fix: write spec.egress as "key: value" lines'],
    [['  egress:', '    nat64Prefix: 96'], 'x.yaml:11:18: spec.egress.nat64Prefix: must be a string, found the number 96. Fix: write the prefix as a string, e.g. 2001:db8:100:4::/96'],
    [['  egress:', '    nat64Prefix: "2001:db8:100:5::1/96"'], 'x.yaml:11:18: spec.egress.nat64Prefix: "2001:db8:100:5::1/96" has host bits set; the network is 2001:db8:100:5::/96. Fix: write an IPv6 /96 with its host bits zero, e.g. 2001:db8:100:4::/96'],
    [['  egress:', '    nat64Prefix: 2001:db8:100:5::/64'], "x.yaml:11:18: spec.egress.nat64Prefix: a /64 NAT64 prefix: RFC 6052 allows /32, /40, /48, /56, /64 and /96, but the nodes' translator takes only a /96. Fix: write a /96, e.g. 2001:db8:100:5::/96, or remove nat64Prefix: the plan then takes a /96 of the block"],
    [['  egress:', '    nat64Prefix: 2001:db8:100:5::/120'], "x.yaml:11:18: spec.egress.nat64Prefix: a /120 NAT64 prefix: RFC 6052 allows /32, /40, /48, /56, /64 and /96, but the nodes' translator takes only a /96. Fix: write a /96, e.g. 2001:db8:100:5::/96, or remove nat64Prefix: the plan then takes a /96 of the block"],
    // No example the platform would refuse: the well-known /96 on the lab, a ULA anywhere.
    [['  egress:', '    nat64Prefix: 64:ff9b::/64'], "x.yaml:11:18: spec.egress.nat64Prefix: a /64 NAT64 prefix: RFC 6052 allows /32, /40, /48, /56, /64 and /96, but the nodes' translator takes only a /96. Fix: write a /96, or remove nat64Prefix: the plan then takes a /96 of the block"],
    [['  egress:', '    nat64Prefix: fd00::/64'], "x.yaml:11:18: spec.egress.nat64Prefix: a /64 NAT64 prefix: RFC 6052 allows /32, /40, /48, /56, /64 and /96, but the nodes' translator takes only a /96. Fix: write a /96, or remove nat64Prefix: the plan then takes a /96 of the block"],
    [['  egress:', '    nat64Prefix: fd00::/96'], 'x.yaml:11:18: spec.egress.nat64Prefix: fd00::/96 is unique local (ULA), not routed on the internet. Fix: use a /96 of global unicast space routed to you, or remove nat64Prefix: the plan then takes a /96 of the block'],
    [['  egress:', '    nat64Prefix: 64:ff9b:1::/96'], 'x.yaml:11:18: spec.egress.nat64Prefix: 64:ff9b:1::/96 is reserved by the IETF (loopback, unspecified, IPv4-mapped). Fix: use a /96 of global unicast space routed to you, or remove nat64Prefix: the plan then takes a /96 of the block'],
    [['  egress:', '    nat64Prefix: ff02::/96'], 'x.yaml:11:18: spec.egress.nat64Prefix: ff02::/96 is multicast. Fix: use a /96 of global unicast space routed to you, or remove nat64Prefix: the plan then takes a /96 of the block'],
    // Both wrong: both reported.
    [['  egress:', '    ipv4: nat46', '    nat64Prefix: 2001:db8:100:5::/95'], "x.yaml:11:11: spec.egress.ipv4: \"nat46\" is not a way to reach IPv4. Fix: use nat64 (pods reach IPv4-only hosts through DNS64 and each node's NAT64) or none (IPv4-only hosts are out of reach)"],
  ];
  for (const [spec, want] of cases) assert.deepEqual(problems(labEgress(...spec)).slice(0, 1), [want], spec.join(' / '));
  assert.equal(problems(labEgress('  egress:', '    ipv4: nat46', '    nat64Prefix: 2001:db8:100:5::/95')).length, 2);
});

test('spec.egress.nat64Prefix on the lab: documentation space clear of the lab provider\'s range, never the well-known prefix', () => {
  const own = 'Fix: remove nat64Prefix (the plan then takes a /96 of the block) or pick a /96 inside 2001:db8::/32';
  assert.deepEqual(problems(labEgress('  egress:', '    nat64Prefix: 64:ff9b::/96')), [
    `x.yaml:11:18: spec.egress.nat64Prefix: the lab's IPv4 hosts have documentation addresses, which RFC 6052 §3.1 forbids behind the well-known prefix 64:ff9b::/96. ${own}`,
  ]);
  assert.deepEqual(problems(labEgress('  egress:', '    nat64Prefix: 2001:db9::/96')), [`x.yaml:11:18: spec.egress.nat64Prefix: the lab only uses documentation addresses and 2001:db9::/96 is outside 2001:db8::/32. ${own}`]);
  assert.deepEqual(problems(labEgress('  egress:', '    nat64Prefix: 2001:db8:ffff:4::/96')), [`x.yaml:11:18: spec.egress.nat64Prefix: 2001:db8:ffff:4::/96 overlaps the lab provider's own range 2001:db8:ffff::/48. ${own}`]);
});

test('spec.egress.nat64Prefix overlapping a range of the plan: refused at the field, naming the range and the plan\'s own prefix', () => {
  const fix = 'Fix: pick a /96 outside the plan\'s ranges (npm run plan shows them), or remove nat64Prefix: the plan then takes 2001:db8:100:4::/96';
  const cases: Array<[string[], string]> = [
    [[], '2001:db8:100::/96 overlaps the plan\'s nodes range 2001:db8:100::/64'],
    [[], '2001:db8:100:1::/96 overlaps the plan\'s services range 2001:db8:100:1::/112'],
    [['    loadBalancerRangeSize: 120'], '2001:db8:100:2::/96 overlaps the plan\'s load-balancers range 2001:db8:100:2::/120'],
    [['    externalIPRangeSize: 64'], '2001:db8:100:3:0:1::/96 overlaps the plan\'s external-ips range 2001:db8:100:3::/64'],
    [[], '2001:db8:100:8::/96 overlaps the plan\'s pods range 2001:db8:100:8::/64'],
    [['    podPoolSize: 57'], '2001:db8:100:ff:ffff:ffff::/96 overlaps the plan\'s pods range 2001:db8:100:80::/57'],
  ];
  for (const [network, message] of cases) {
    const prefix = message.split(' ')[0]!;
    const text = lab('edge', '  kubernetesVersion: v1.35.4', '  network:', '    block: 2001:db8:100::/56', ...network, '  egress:', `    nat64Prefix: ${prefix}`);
    assert.deepEqual(problems(text), [`x.yaml:${11 + network.length}:18: spec.egress.nat64Prefix: ${message}. ${fix}`], message);
  }
});

test('egress options in the wrong place: where they belong, not only that they are unknown', () => {
  const home = 'egress options go under spec.egress: ipv4, nat64Prefix';
  assert.deepEqual(problems(labEgress('    egress: {ipv4: nat64}', '    nat64Prefix: 2001:db8:100:5::/96', '    ipv4Egress: nat64', '    nat64: {prefix: 2001:db8:100:5::/96}')), [
    `x.yaml:10:5: spec.network.egress: unknown field "egress": ${home}. Fix: move the egress section out of spec.network, to spec.egress`,
    `x.yaml:11:5: spec.network.nat64Prefix: unknown field "nat64Prefix": ${home}. Fix: move it to spec.egress.nat64Prefix (an IPv6 /96)`,
    `x.yaml:12:5: spec.network.ipv4Egress: unknown field "ipv4Egress": ${home}. Fix: write it as spec.egress.ipv4: nat64 or none`,
    `x.yaml:13:5: spec.network.nat64: unknown field "nat64": ${home}. Fix: write "ipv4: nat64" under spec.egress, and a prefix of your own, if any, as spec.egress.nat64Prefix (an IPv6 /96)`,
  ]);
  assert.deepEqual(problems(labEgress('  ipv4Egress: nat64', '  nat64Prefix: 2001:db8:100:5::/96', '  ipv4: none')), [
    `x.yaml:10:3: spec.ipv4Egress: unknown field "ipv4Egress": ${home}. Fix: write it as spec.egress.ipv4: nat64 or none`,
    `x.yaml:11:3: spec.nat64Prefix: unknown field "nat64Prefix": ${home}. Fix: move it to spec.egress.nat64Prefix (an IPv6 /96)`,
    `x.yaml:12:3: spec.ipv4: unknown field "ipv4": ${home}. Fix: write it as spec.egress.ipv4: nat64 or none`,
  ]);
  const flat = 'the NAT64 prefix is spec.egress.nat64Prefix. Fix: write "nat64Prefix: <IPv6 /96>" directly under spec.egress, beside "ipv4: nat64"';
  assert.deepEqual(problems(labEgress('  egress:', '    ipv4: nat64', '    nat64:', '      prefix: 2001:db8:100:5::/96', '    prefix: 2001:db8:100:5::/96', '    ipv4Egress: none')), [
    `x.yaml:12:5: spec.egress.nat64: unknown field "nat64": ${flat}`,
    `x.yaml:14:5: spec.egress.prefix: unknown field "prefix": ${flat}`,
    'x.yaml:15:5: spec.egress.ipv4Egress: unknown field "ipv4Egress": spec.egress names it ipv4. Fix: write it as ipv4: nat64 or none',
  ]);
  // A name close to a known one is still suggested as before.
  assert.deepEqual(problems(labEgress('  egress:', '    nat64prefix: 2001:db8:100:5::/96')), [
    'x.yaml:11:5: spec.egress.nat64prefix: unknown field "nat64prefix". Fix: did you mean "nat64Prefix"? Known fields here: ipv4, nat64Prefix',
  ]);
});

test('a platform whose machines have no IPv4 refuses nat64, and its default none refuses a prefix', () => {
  const noIPv4: SpecRules = {
    ...labRules,
    ipv4Egress: { default: 'none', nat64: { message: 'this platform gives its machines no IPv4 address to translate into', fix: 'remove spec.egress or set "ipv4: none"' } },
    // Without IPv4 its machines' resolvers are IPv6, which the cluster's DNS reaches without NAT64.
    resolvers: ['2001:db8:ffff:1::53'],
  };
  const rules = new Map([['lab', noIPv4]]);
  const decoded = (text: string) => {
    const r = decodeCluster('x.yaml', text, rules);
    return r.ok ? r.spec.egress : r.problems.map(formatProblem);
  };
  assert.deepEqual(decoded(labEgress()), { ipv4: 'none' });
  assert.deepEqual(decoded(labEgress('  egress:', '    ipv4: nat64')), [
    'x.yaml:11:11: spec.egress.ipv4: this platform gives its machines no IPv4 address to translate into. Fix: remove spec.egress or set "ipv4: none"',
  ]);
  assert.deepEqual(decoded(labEgress('  egress:', '    nat64Prefix: 2001:db8:100:5::/96')), [
    "x.yaml:11:18: spec.egress.nat64Prefix: is set, but spec.egress.ipv4 is none (the platform's default): nothing is translated. Fix: remove nat64Prefix: this platform has no NAT64",
  ]);
  // A platform whose default is nat64 but that refuses it: the section's key carries the refusal.
  const odd = new Map([['lab', { ...noIPv4, ipv4Egress: { ...noIPv4.ipv4Egress, default: 'nat64' as const } }]]);
  const r = decodeCluster('x.yaml', labEgress('  egress:', '    nat64Prefix: 2001:db8:100:5::/96'), odd);
  assert.deepEqual(r.ok ? [] : r.problems.map(formatProblem), ['x.yaml:10:3: spec.egress.ipv4: this platform gives its machines no IPv4 address to translate into. Fix: remove spec.egress or set "ipv4: none"']);
});
