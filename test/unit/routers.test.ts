/**
 * The routers' side of a metal cluster (lib/render/routers.ts): golden files
 * of both daemons' configurations and the README for a fixture with two
 * uplinks (two routers with BFD on one, one with BGP timers only on the
 * other), and behaviour read back from the text, not from the goldens:
 * neighbours, accepted prefixes, what goes to the nodes, no password,
 * determinism, refusals. The real parsers: test/integration/routersParse.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { contains, formatAddress, formatPrefix, parsePrefix, type Prefix } from '../../lib/net/ipv6.js';
import type { ClusterSpec } from '../../lib/cluster/cluster.js';
import { renderRouterConfigs } from '../../lib/render/routers.js';
import { birdSymbol } from '../../lib/render/routersModel.js';
import { GENERATED_MARKER } from '../../lib/render/yaml.js';
import { assertGolden } from '../golden.js';
import { METAL_SPEC, metalPlan } from '../routers-fixture.js';

const files = renderRouterConfigs(METAL_SPEC, metalPlan());
const plan = metalPlan();
const ROUTERS = ['tor-a1', 'tor-a2', 'tor-b1'];

function file(path: string): string {
  const f = files.find((x) => x.path === path);
  assert.ok(f, `${path} is not rendered (rendered: ${files.map((x) => x.path).join(', ')})`);
  return f.content;
}

interface Accepted {
  prefix: string;
  min: number;
  max: number;
}

/** FRR's prefix-list entries of one list, read back: `permit P [ge G] [le L]` as FRR reads them. */
function frrPrefixList(text: string, list: string): Accepted[] {
  const out: Accepted[] = [];
  for (const line of text.split('\n')) {
    const m = /^ipv6 prefix-list (\S+) seq \d+ (permit|deny) (\S+)(?: ge (\d+))?(?: le (\d+))?$/.exec(line);
    if (!m || m[1] !== list) continue;
    assert.equal(m[2], 'permit', line);
    const p = parsePrefix(m[3]!);
    const ge = m[4] === undefined ? undefined : Number(m[4]);
    const le = m[5] === undefined ? undefined : Number(m[5]);
    // FRR: no ge/le = exactly the prefix; ge alone = up to /128; le alone = from the prefix's own length.
    out.push({ prefix: formatPrefix(p), min: ge ?? p.length, max: le ?? (ge !== undefined ? 128 : p.length) });
  }
  return out;
}

/** BIRD's prefix set `define <name> = [ ... ];`, read back: `P` or `P{a,b}`. */
function birdPrefixSet(text: string, name: string): Accepted[] {
  const m = new RegExp(`define ${name} = \\[\\n([\\s\\S]*?)\\n\\];`).exec(text);
  assert.ok(m, `no prefix set ${name}`);
  return m[1]!.split('\n').map((line) => {
    const item = /^\s*([0-9a-f:]+\/\d+)(?:\{(\d+),(\d+)\})?,?\s*(#.*)?$/.exec(line);
    assert.ok(item, `not a prefix set item: ${line}`);
    const p = parsePrefix(item[1]!);
    return { prefix: formatPrefix(p), min: item[2] ? Number(item[2]) : p.length, max: item[3] ? Number(item[3]) : p.length };
  });
}

/** What the nodes announce, from the plan itself (not from the renderer's list). */
function expectedAccepted(): Accepted[] {
  const whole = (p: Prefix): Accepted[] => [
    { prefix: formatPrefix(p), min: p.length, max: p.length },
    { prefix: formatPrefix(p), min: 128, max: 128 },
  ];
  return [
    { prefix: formatPrefix(plan.pods.pool), min: plan.pods.blockSize, max: 128 },
    ...whole(plan.services),
    ...whole(plan.loadBalancers!),
    ...whole(plan.externalIPs!),
  ];
}

const sortAccepted = (xs: Accepted[]) => [...xs].sort((a, b) => `${a.prefix} ${a.min} ${a.max}`.localeCompare(`${b.prefix} ${b.min} ${b.max}`));

function uplinkMachines(router: string): string[] {
  const inv = METAL_SPEC.inventory!;
  const uplink = inv.uplinks.find((u) => u.routers.some((r) => r.name === router))!;
  return inv.machines.filter((m) => m.uplink === uplink.name).map((m) => formatAddress(m.address));
}

test('golden: every router in FRR and BIRD 2, and the README', () => {
  assert.deepEqual(
    files.map((f) => f.path),
    [...ROUTERS.flatMap((r) => [`routers/${r}.frr.conf`, `routers/${r}.bird.conf`]), 'routers/README.md'],
  );
  for (const f of files) assertGolden(`routers/${f.path.slice('routers/'.length)}`, f.content);
});

test("each router's neighbours are exactly its uplink's machines, with the cluster's AS and the router's", () => {
  for (const router of ROUTERS) {
    const want = uplinkMachines(router).sort();
    const frr = file(`routers/${router}.frr.conf`);
    const bird = file(`routers/${router}.bird.conf`);
    const frrPeers = [...frr.matchAll(/^ neighbor (\S+) peer-group (\S+)$/gm)].map((m) => m[1]!).sort();
    const birdPeers = [...bird.matchAll(/^ {2}neighbor ([0-9a-f:]+);$/gm)].map((m) => m[1]!).sort();
    assert.deepEqual(frrPeers, want, `${router}: FRR's neighbours`);
    assert.deepEqual(birdPeers, want, `${router}: BIRD's neighbours`);
    const asn = METAL_SPEC.inventory!.uplinks.flatMap((u) => u.routers).find((r) => r.name === router)!.asn;
    assert.match(frr, new RegExp(`^router bgp ${asn}$`, 'm'));
    assert.match(frr, /^ neighbor N6-metal-rack-[ab] remote-as 65000$/m);
    assert.match(bird, new RegExp(`^ {2}local [0-9a-f:]+ as ${asn};$`, 'm'));
    assert.match(bird, /^ {2}neighbor as 65000;$/m);
  }
});

test("what every router accepts is exactly the plan's announced ranges: no node address, no default, no NAT64", () => {
  const want = sortAccepted(expectedAccepted());
  for (const router of ROUTERS) {
    const frr = frrPrefixList(file(`routers/${router}.frr.conf`), 'N6-metal-FROM-NODES');
    const bird = birdPrefixSet(file(`routers/${router}.bird.conf`), 'n6_metal_from_nodes_nets');
    assert.deepEqual(sortAccepted(frr), want, `${router}: FRR`);
    assert.deepEqual(sortAccepted(bird), want, `${router}: BIRD`);
  }
  const accepted = (p: Prefix) => expectedAccepted().some((a) => {
    const outer = parsePrefix(a.prefix);
    return contains(outer, p) && p.length >= a.min && p.length <= a.max;
  });
  for (const m of METAL_SPEC.inventory!.machines) assert.equal(accepted({ address: m.address, length: 128 }), false, m.name);
  for (const u of METAL_SPEC.inventory!.uplinks) assert.equal(accepted(u.prefix), false, u.name);
  assert.equal(accepted(parsePrefix('::/0')), false);
  assert.equal(accepted(plan.nat64!), false);
  assert.equal(accepted(plan.nodes), false);
  // What the nodes do announce passes: a block, a borrowed address, the Service range, a Local Service's /128.
  assert.equal(accepted({ address: plan.pods.pool.address + (5n << 6n), length: 122 }), true);
  assert.equal(accepted({ address: plan.pods.pool.address + 77n, length: 128 }), true);
  assert.equal(accepted(plan.services), true);
  assert.equal(accepted({ address: plan.loadBalancers!.address + 2n, length: 128 }), true);
  // And what they do not: a /112 of the pool, a /120 inside the Service range.
  assert.equal(accepted({ address: plan.pods.pool.address, length: 112 }), false);
  assert.equal(accepted({ address: plan.services.address, length: 120 }), false);
});

test('the nodes get only ::/0, and only while the router has one', () => {
  for (const router of ROUTERS) {
    const frr = file(`routers/${router}.frr.conf`);
    assert.deepEqual(frrPrefixList(frr, 'N6-metal-DEFAULT'), [{ prefix: '::/0', min: 0, max: 0 }]);
    // Outbound: the route-map denies everything; the default is originated on condition, never unconditionally.
    assert.match(frr, /^route-map N6-metal-TO-NODES deny 10\nexit$/m);
    assert.doesNotMatch(frr, /^route-map N6-metal-TO-NODES permit/m);
    assert.match(frr, /^ {2}neighbor N6-metal-rack-[ab] route-map N6-metal-TO-NODES out$/m);
    assert.match(frr, /^ {2}neighbor N6-metal-rack-[ab] default-originate route-map N6-metal-HAS-DEFAULT$/m);
    assert.doesNotMatch(frr, /default-originate$/m);
    assert.match(frr, /^route-map N6-metal-HAS-DEFAULT permit 10\n match ipv6 address prefix-list N6-metal-DEFAULT\nexit$/m);
    // IPv6 only.
    assert.match(frr, /^ no bgp default ipv4-unicast$/m);
    assert.doesNotMatch(frr, /address-family ipv4/);
    const bird = file(`routers/${router}.bird.conf`);
    assert.match(bird, /filter n6_metal_to_nodes \{\n {2}if net = ::\/0 then \{\n {4}bgp_path = \+empty\+;\n {4}accept;\n {2}\}\n {2}reject;\n\}/);
    assert.doesNotMatch(bird, /ipv4/);
  }
});

test('sessions: BFD and timers on rack-a, timers only on rack-b; ECMP as wide as the uplink', () => {
  for (const router of ['tor-a1', 'tor-a2']) {
    const frr = file(`routers/${router}.frr.conf`);
    assert.match(frr, /^ neighbor N6-metal-rack-a bfd profile n6-metal-rack-a$/m);
    assert.match(frr, /^ profile n6-metal-rack-a\n {2}detect-multiplier 3\n {2}receive-interval 300\n {2}transmit-interval 300$/m);
    assert.match(frr, /^ neighbor N6-metal-rack-a timers 30 90$/m);
    assert.match(frr, /^ {2}maximum-paths 3$/m);
    const bird = file(`routers/${router}.bird.conf`);
    assert.match(bird, /^ {2}bfd \{ interval 300 ms; multiplier 3; \};$/m);
    assert.match(bird, /^ {2}keepalive time 30;\n {2}hold time 90;$/m);
    assert.match(bird, /merge paths on limit 3;/);
  }
  const frr = file('routers/tor-b1.frr.conf');
  assert.doesNotMatch(frr, /bfd/);
  assert.match(frr, /^ neighbor N6-metal-rack-b timers 3 9$/m);
  assert.match(frr, /^ {2}maximum-paths 2$/m);
  const bird = file('routers/tor-b1.bird.conf');
  assert.doesNotMatch(bird.replace(/^#.*$/gm, ''), /bfd/);
  assert.match(bird, /^ {2}keepalive time 3;\n {2}hold time 9;$/m);
});

test('no password anywhere, even with a password-looking value beside the spec; only the references', () => {
  const secret = 'Tr0ub4dor-and-3-hunter2';
  const leaky = { ...METAL_SPEC, bgpPassword: secret, gitops: { ...METAL_SPEC.gitops, secretRef: 'bgp-md5' } } as ClusterSpec;
  const out = renderRouterConfigs(leaky, metalPlan(leaky));
  for (const f of out) {
    assert.ok(!f.content.includes(secret), `${f.path} holds the password`);
    for (const m of f.content.matchAll(/^\s*(?:neighbor \S+ )?password (\S+?);?$/gm)) {
      assert.ok(m[1] === '${N6_BGP_PASSWORD}' || m[1] === 'n6_metal_bgp_password', `${f.path}: password ${m[1]} is not a reference`);
    }
    // BIRD's constant is defined only in the root-only file, never here.
    assert.doesNotMatch(f.content.replace(/^```sh[\s\S]*?^```$/gm, ''), /define n6_metal_bgp_password/);
  }
  assert.match(file('routers/tor-a1.bird.conf'), /^include "\/etc\/bird\/native6-metal\.secret\.conf";$/m);
  assert.match(file('routers/tor-a1.frr.conf'), /^ neighbor N6-metal-rack-a password \$\{N6_BGP_PASSWORD\}$/m);
});

test('deterministic: the same input gives byte-identical files, a copy of it too', () => {
  const again = renderRouterConfigs(structuredClone(METAL_SPEC), metalPlan(structuredClone(METAL_SPEC)));
  assert.deepEqual(again, files);
  assert.deepEqual(renderRouterConfigs(METAL_SPEC, plan), files);
});

test('every file starts with the marker render owns files by, and says where it comes from', () => {
  for (const f of files) {
    assert.ok(f.content.startsWith(`${GENERATED_MARKER}infra/metal.yaml.`), f.path);
    if (f.path.endsWith('.conf')) assert.match(f.content, /^# .* configuration of router tor-[ab]\d \(AS 65\d{3}\) for cluster metal:$/m);
  }
});

test('refused: a spec without inventory, and a block not known yet', () => {
  const { inventory: _, ...rest } = METAL_SPEC;
  assert.throws(() => renderRouterConfigs(rest, plan), /cluster "metal" has no inventory/);
  const unresolved = { ...METAL_SPEC, network: { ...METAL_SPEC.network, block: { length: 56 } } };
  assert.throws(() => renderRouterConfigs(unresolved, metalPlan(unresolved)), /block of cluster "metal" is not known yet/);
});

test("BIRD's names fit its 64 characters, long ones cut with a hash that keeps them apart", () => {
  const long = 'm'.repeat(63);
  const a = birdSymbol('cluster', `${long}-a`);
  const b = birdSymbol('cluster', `${long}-b`);
  assert.ok(a.length <= 64 && b.length <= 64);
  assert.notEqual(a, b);
  assert.match(a, /^[A-Za-z_][A-Za-z0-9_]*$/);
  assert.equal(birdSymbol('metal', 'metal-cp-1'), 'n6_metal_metal_cp_1');
});
