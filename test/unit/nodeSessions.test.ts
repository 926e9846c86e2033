/**
 * The nodes' BGP sessions (issue #17): spec.network.bfd and holdTime through
 * the real decoder (lib/cluster/network.ts and the platforms' rules), every
 * bad value reported at its file, line and field with the fix; what
 * nodeSessions() (lib/cluster/sessions.ts) takes on each platform, metal's
 * from its routers; and withSessions()/pinnedTemplates()
 * (lib/render/birdTemplates.ts) on a small template with the two anchors.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatProblem } from '../../lib/cluster/problems.js';
import { nodeSessions, type NodeSessions } from '../../lib/cluster/sessions.js';
import { loadCluster } from '../../lib/platforms/load.js';
import { LAB_BFD, LAB_HOLD_TIME } from '../../lib/platforms/lab/rules.js';
import { BIRD6_TEMPLATE, birdTemplatesConfigMap, MARK, pinnedTemplates, withSessions } from '../../lib/render/birdTemplates.js';

const lines = (...l: string[]) => `${l.join('\n')}\n`;

/** A lab spec whose network section ends with `network` (its first line is line 10). */
const lab = (...network: string[]) =>
  lines('apiVersion: native6.dev/v1alpha1', 'kind: Cluster', 'metadata:', '  name: edge', 'spec:', '  platform: lab', '  kubernetesVersion: v1.35.4', '  network:', '    block: 2001:db8:100::/56', ...network);

/** An Equinix Metal spec whose network section ends with `network` (its first line is line 13). */
const equinix = (...network: string[]) =>
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
    '  gitops:',
    '    url: https://github.com/example/clusters',
    '  network:',
    '    blockSize: 56',
    ...network,
  );

/** A metal spec: one uplink with these routers (each a flow mapping), one control plane; `network` ends the network section (its first line is line 10). */
const metal = (routers: string[], ...network: string[]) =>
  lines(
    'apiVersion: native6.dev/v1alpha1',
    'kind: Cluster',
    'metadata:',
    '  name: edge',
    'spec:',
    '  platform: metal',
    '  kubernetesVersion: v1.35.4',
    '  network:',
    '    block: 2001:db8:4200::/48',
    ...network,
    '  uplinks:',
    '    - name: rack-a',
    '      prefix: 2001:db8:7:a::/64',
    '      routers:',
    ...routers.map((r) => `        - ${r}`),
    '  machines:',
    '    - name: edge-a1',
    '      pool: control-plane',
    '      address: 2001:db8:7:a::11',
    '      ssh: { hostKey: "SHA256:DIIGEz8JkVyoFFTUKYAnCXdKfYSNbpNQwEENjztNFhs" }',
    '  resolvers: [2001:db8:53::1]',
    '  egress: { ipv4: none }',
    '  policy: { trustedSources: [2001:db8:ff::/64] }',
    '  gitops: { url: https://github.com/example/clusters }',
  );

const TWO_ROUTERS = [
  '{name: tor-a1, address: 2001:db8:7:a::2, asn: 65010, bfd: {intervalMs: 300, multiplier: 3}, timers: {keepalive: 3, hold: 9}}',
  '{name: tor-a2, address: 2001:db8:7:a::3, asn: 65010, bfd: {intervalMs: 100, multiplier: 5}, timers: {keepalive: 10, hold: 30}}',
];

/** The sessions of a spec the decoder accepts. */
function sessionsOf(text: string): NodeSessions & { spec: { bfd?: unknown; holdTime?: unknown } } {
  const r = loadCluster('x.yaml', text);
  assert.ok(r.ok, r.ok ? '' : r.problems.map(formatProblem).join('\n'));
  return { ...nodeSessions(r.spec), spec: { bfd: r.spec.network.bfd, holdTime: r.spec.network.holdTime } };
}

/** nodeSessions() of a spec the decoder accepts. */
function nodeSessionsOf(text: string): NodeSessions {
  const { spec: _spec, ...sessions } = sessionsOf(text);
  return sessions;
}

/** The problems of a spec the decoder refuses, formatted. */
function problems(text: string): string[] {
  const r = loadCluster('x.yaml', text);
  assert.equal(r.ok, false, 'the spec should be refused');
  return r.ok ? [] : r.problems.map(formatProblem);
}

const INTERVAL_FIX = 'use 10 to 60000 ms, e.g. 100 (a dead node is found in intervalMs × multiplier); or write "bfd: false" for none';
const HOLD_FIX = "use 3 to 65535 seconds (BGP's minimum is 3, RFC 4271 §4.2; the keepalive is a third of it)";

test("the lab: BFD 100 ms × 3 and a hold time of 9 s when the spec says nothing, as the nodes' sessions", () => {
  assert.deepEqual(LAB_BFD, { intervalMs: 100, multiplier: 3 });
  assert.equal(LAB_HOLD_TIME, 9);
  assert.deepEqual(sessionsOf(lab()), { bfd: { intervalMs: 100, multiplier: 3 }, holdTime: 9, spec: { bfd: { intervalMs: 100, multiplier: 3 }, holdTime: 9 } });
  // A null field is the default too.
  assert.deepEqual(sessionsOf(lab('    bfd:', '    holdTime:')), sessionsOf(lab()));
});

test('the lab: "bfd: false" runs none, a mapping takes the defaults of the fields it leaves out', () => {
  assert.deepEqual(sessionsOf(lab('    bfd: false')), { holdTime: 9, spec: { bfd: undefined, holdTime: 9 } });
  assert.deepEqual(sessionsOf(lab('    bfd: false', '    holdTime: 30')), { holdTime: 30, spec: { bfd: undefined, holdTime: 30 } });
  assert.deepEqual(sessionsOf(lab('    bfd: {intervalMs: 50}')).bfd, { intervalMs: 50, multiplier: 3 });
  assert.deepEqual(sessionsOf(lab('    bfd: {multiplier: 4}')).bfd, { intervalMs: 300, multiplier: 4 });
  assert.deepEqual(sessionsOf(lab('    bfd: {}')).bfd, { intervalMs: 300, multiplier: 3 });
  // The limits themselves are accepted.
  assert.deepEqual(sessionsOf(lab('    bfd: {intervalMs: 10, multiplier: 2}', '    holdTime: 3')), { bfd: { intervalMs: 10, multiplier: 2 }, holdTime: 3, spec: { bfd: { intervalMs: 10, multiplier: 2 }, holdTime: 3 } });
  assert.deepEqual(sessionsOf(lab('    bfd: {intervalMs: 60000, multiplier: 255}', '    holdTime: 65535')).holdTime, 65535);
});

test('the lab: an interval, a multiplier or a hold time out of range is refused at its line and field, with the fix', () => {
  assert.deepEqual(problems(lab('    bfd:', '      intervalMs: 5')), [`x.yaml:11:19: spec.network.bfd.intervalMs: 5 is out of range (10 to 60000). Fix: ${INTERVAL_FIX}`]);
  assert.deepEqual(problems(lab('    bfd:', '      intervalMs: 70000')), [`x.yaml:11:19: spec.network.bfd.intervalMs: 70000 is out of range (10 to 60000). Fix: ${INTERVAL_FIX}`]);
  assert.deepEqual(problems(lab('    bfd:', '      intervalMs: 100', '      multiplier: 1')), ['x.yaml:12:19: spec.network.bfd.multiplier: 1 is out of range (2 to 255). Fix: use 2 to 255, e.g. 3']);
  assert.deepEqual(problems(lab('    bfd: {multiplier: 256}')), ['x.yaml:10:23: spec.network.bfd.multiplier: 256 is out of range (2 to 255). Fix: use 2 to 255, e.g. 3']);
  assert.deepEqual(problems(lab('    holdTime: 2')), [`x.yaml:10:15: spec.network.holdTime: 2 is out of range (3 to 65535). Fix: ${HOLD_FIX}`]);
  // Without BFD, the fix says what finds a dead node faster.
  assert.deepEqual(problems(lab('    bfd: false', '    holdTime: 70000')), [`x.yaml:11:15: spec.network.holdTime: 70000 is out of range (3 to 65535). Fix: ${HOLD_FIX}, or turn bfd on to find a dead node in under a second`]);
  // Both at once: every problem, each at its field.
  assert.deepEqual(problems(lab('    bfd: {intervalMs: 5}', '    holdTime: 2')), [`x.yaml:10:23: spec.network.bfd.intervalMs: 5 is out of range (10 to 60000). Fix: ${INTERVAL_FIX}`, `x.yaml:11:15: spec.network.holdTime: 2 is out of range (3 to 65535). Fix: ${HOLD_FIX}, or turn bfd on to find a dead node in under a second`]);
});

test('the lab: a field of bfd it does not know, or a bfd that is neither a mapping nor false, is refused at its line', () => {
  assert.deepEqual(problems(lab('    bfd:', '      interval: 100')), ['x.yaml:11:7: spec.network.bfd.interval: unknown field "interval". Fix: did you mean "intervalMs"? Known fields here: intervalMs, multiplier']);
  const scalar = problems(lab('    bfd: true'));
  assert.equal(scalar.length, 1, scalar.join('\n'));
  assert.equal(scalar[0], 'x.yaml:10:10: spec.network.bfd: is true; BFD is its interval and multiplier. Fix: remove the field for the platform\'s (100 ms × 3), write "bfd: {intervalMs: 100, multiplier: 3}", or "bfd: false" for none');
  assert.deepEqual(problems(lab('    holdTime: 9s')), [`x.yaml:10:15: spec.network.holdTime: must be a whole number, found the string "9s". Fix: ${HOLD_FIX}`]);
});

test('Equinix Metal: no BFD and a hold time of 9 s by default; bfd refused at its field, its routers run none', () => {
  assert.deepEqual(sessionsOf(equinix()), { holdTime: 9, spec: { bfd: undefined, holdTime: 9 } });
  assert.deepEqual(sessionsOf(equinix('    holdTime: 15')), { holdTime: 15, spec: { bfd: undefined, holdTime: 15 } });
  assert.deepEqual(sessionsOf(equinix('    bfd: false')), { holdTime: 9, spec: { bfd: undefined, holdTime: 9 } });
  const refusal =
    "spec.network.bfd: Equinix Metal's routers ran no BFD on their customers' BGP sessions (its BGP documentation names none). Fix: remove bfd: the hold time (holdTime, 9 s by default) is what finds a dead node there";
  assert.deepEqual(problems(equinix('    bfd: {intervalMs: 100, multiplier: 3}')), [`x.yaml:14:10: ${refusal}`]);
  assert.deepEqual(problems(equinix('    bfd:', '      intervalMs: 100')), [`x.yaml:15:7: ${refusal}`]);
  assert.deepEqual(problems(equinix('    holdTime: 2')), [`x.yaml:14:15: spec.network.holdTime: 2 is out of range (3 to 65535). Fix: ${HOLD_FIX}, or turn bfd on to find a dead node in under a second`]);
});

test('metal: bfd and holdTime refused at their fields, the fix naming the routers\' fields', () => {
  assert.deepEqual(problems(metal(TWO_ROUTERS, '    bfd: {intervalMs: 100}')), [
    'x.yaml:10:10: spec.network.bfd: on metal the routers say whether their sessions run BFD. Fix: set bfd on the routers that run it (spec.uplinks[].routers[].bfd): the nodes run BFD whenever one of their routers does',
  ]);
  assert.deepEqual(problems(metal(TWO_ROUTERS, '    holdTime: 9')), [
    "x.yaml:10:15: spec.network.holdTime: on metal the routers say their sessions' hold time. Fix: set timers on the routers (spec.uplinks[].routers[].timers): the nodes offer the longest, and each session negotiates its router's",
  ]);
  // "bfd: false" says what is true of every platform that runs no BFD of the spec's: accepted.
  assert.equal(problems(metal(TWO_ROUTERS, '    bfd: false', '    holdTime: 9')).length, 1);
  assert.deepEqual(sessionsOf(metal(TWO_ROUTERS, '    bfd: false')).spec, { bfd: undefined, holdTime: undefined });
});

test("metal: the nodes run BFD when any router does, at the shortest interval and smallest multiplier, and offer the longest hold", () => {
  assert.deepEqual(sessionsOf(metal(TWO_ROUTERS)), { bfd: { intervalMs: 100, multiplier: 3 }, holdTime: 30, spec: { bfd: undefined, holdTime: undefined } });
  // One router with BFD is enough; the other's session runs without it.
  assert.deepEqual(nodeSessionsOf(metal([TWO_ROUTERS[0]!, '{name: tor-a2, address: 2001:db8:7:a::3, asn: 65010}'])), { bfd: { intervalMs: 300, multiplier: 3 }, holdTime: 9 });
  // No router with BFD: none on the nodes.
  assert.deepEqual(
    nodeSessionsOf(metal(['{name: tor-a1, address: 2001:db8:7:a::2, asn: 65010, timers: {hold: 12}}', '{name: tor-a2, address: 2001:db8:7:a::3, asn: 65010}'])),
    { holdTime: 12 },
  );
  // A router's bfd mapping with its fields left out: 300 ms × 3.
  assert.deepEqual(nodeSessionsOf(metal(['{name: tor-a1, address: 2001:db8:7:a::2, asn: 65010, bfd: {}}'])), { bfd: { intervalMs: 300, multiplier: 3 }, holdTime: 9 });
});

test('metal: a router with hold 0 (never expire) is left out of the hold the nodes offer', () => {
  const never = '{name: tor-a1, address: 2001:db8:7:a::2, asn: 65010, timers: {keepalive: 0, hold: 0}}';
  assert.deepEqual(nodeSessionsOf(metal([never, '{name: tor-a2, address: 2001:db8:7:a::3, asn: 65010, timers: {hold: 21}}'])), { holdTime: 21 });
  // Every router's hold 0: the nodes offer BIRD's own.
  assert.deepEqual(nodeSessionsOf(metal([never])), {});
});

test('nodeSessions on a spec without an inventory takes the spec\'s own fields, as they are', () => {
  assert.deepEqual(nodeSessions({ network: { bfd: { intervalMs: 20, multiplier: 2 }, holdTime: 6 } } as Parameters<typeof nodeSessions>[0]), { bfd: { intervalMs: 20, multiplier: 2 }, holdTime: 6 });
  assert.deepEqual(nodeSessions({ network: {} } as Parameters<typeof nodeSessions>[0]), {});
});

// withSessions and pinnedTemplates on a small template with the two anchors.
const BEFORE = 'protocol kernel {\n  learn;\n}\n\n';
const ANCHORS = '# Template for all BGP clients\ntemplate bgp bgp_template {\n';
const AFTER = '  local as 65000;\n  multihop;\n}\n';
const TEMPLATE = BEFORE + ANCHORS + AFTER;
const HOLD = (n: number) => `  hold time ${n}; ${MARK}: the keepalive is a third of the hold time negotiated\n`;

test('withSessions: the protocol bfd before the template, bfd on and the hold time first in it; pinnedTemplates drops them again', () => {
  const both = withSessions(TEMPLATE, { bfd: { intervalMs: 100, multiplier: 3 }, holdTime: 9 });
  assert.equal(
    both,
    BEFORE +
      `protocol bfd { ${MARK}: the routers' sessions, a dead peer found in 300 ms\n` +
      `  interface "*" { interval 100 ms; multiplier 3; }; ${MARK}\n` +
      `  multihop { interval 100 ms; multiplier 3; }; ${MARK}\n` +
      `} ${MARK}\n` +
      ANCHORS +
      `  bfd on; ${MARK}\n` +
      HOLD(9) +
      AFTER,
  );
  assert.equal(withSessions(TEMPLATE, { holdTime: 240 }), BEFORE + ANCHORS + HOLD(240) + AFTER);
  assert.match(withSessions(TEMPLATE, { bfd: { intervalMs: 50, multiplier: 4 } }), new RegExp(`dead peer found in 200 ms\\n[^\\n]*interval 50 ms; multiplier 4;[\\s\\S]*bgp_template \\{\\n  bfd on; ${MARK}\\n  local as`));
  assert.equal(withSessions(TEMPLATE, {}), TEMPLATE);
  for (const s of [{ bfd: { intervalMs: 100, multiplier: 3 }, holdTime: 9 }, { holdTime: 3 }, { bfd: { intervalMs: 10, multiplier: 255 } }, {}] as NodeSessions[]) {
    const ext = withSessions(TEMPLATE, s);
    assert.equal(pinnedTemplates({ [BIRD6_TEMPLATE]: ext })[BIRD6_TEMPLATE], TEMPLATE, JSON.stringify(s));
  }
  // The other templates are carried as they are, marked lines and all.
  const other = `x ${MARK}\ny\n`;
  assert.deepEqual(pinnedTemplates({ [BIRD6_TEMPLATE]: both, 'bird.cfg.template': other }), { [BIRD6_TEMPLATE]: TEMPLATE, 'bird.cfg.template': other });
});

test('birdTemplatesConfigMap: every template, in name order, bird6 extended; none without bird6.cfg.template', () => {
  const cm = birdTemplatesConfigMap({ 'z.template': 'z\n', [BIRD6_TEMPLATE]: TEMPLATE, 'a.template': 'a\n' }, { holdTime: 9 });
  const data = cm.data as Record<string, string>;
  assert.deepEqual(Object.keys(data), ['a.template', BIRD6_TEMPLATE, 'z.template']);
  assert.equal(data[BIRD6_TEMPLATE], BEFORE + ANCHORS + HOLD(9) + AFTER);
  assert.deepEqual(pinnedTemplates(data), { 'a.template': 'a\n', [BIRD6_TEMPLATE]: TEMPLATE, 'z.template': 'z\n' });
  assert.throws(() => birdTemplatesConfigMap({ 'a.template': 'a\n' }, {}), /lack bird6\.cfg\.template/);
});

test("withSessions: an anchor missing, repeated or apart throws: the pinned Calico's templates changed", () => {
  const sessions: NodeSessions = { bfd: { intervalMs: 100, multiplier: 3 }, holdTime: 9 };
  const changed = /the pinned Calico's templates changed; extend them again \(lib\/render\/birdTemplates\.ts\)/;
  const cases: Array<[string, RegExp]> = [
    [BEFORE + 'template bgp bgp_template {\n' + AFTER, /"# Template for all BGP clients" is not there/],
    [BEFORE + '# Template for all BGP clients\ntemplate bgp other {\n' + AFTER, /"template bgp bgp_template \{" is not there/],
    [BEFORE + '# Template for all BGP clients\n' + ANCHORS + AFTER, /"# Template for all BGP clients" is there more than once/],
    [TEMPLATE + 'template bgp bgp_template {\n}\n', /"template bgp bgp_template \{" is there more than once/],
    [BEFORE + '# Template for all BGP clients\n\ntemplate bgp bgp_template {\n' + AFTER, /does not follow/],
    [BEFORE + 'template bgp bgp_template {\n' + AFTER + '# Template for all BGP clients\n', /does not follow/],
    ['', /is not there/],
  ];
  for (const [text, why] of cases) {
    assert.throws(() => withSessions(text, sessions), (e: Error) => changed.test(e.message) && why.test(e.message) && e.message.startsWith(`${BIRD6_TEMPLATE}: `), JSON.stringify(text));
    // Even with nothing to add: the anchors are checked all the same.
    assert.throws(() => withSessions(text, {}), changed);
  }
});

test('withSessions: a BFD interval or multiplier, or a hold time, BIRD would not take throws', () => {
  const bfd = /the interval must be a whole number of at least 10 ms, the multiplier 2 to 255/;
  for (const [intervalMs, multiplier] of [[9, 3], [0, 3], [100.5, 3], [100, 1], [100, 256], [100, 2.5], [Number.NaN, 3]] as const) {
    assert.throws(() => withSessions(TEMPLATE, { bfd: { intervalMs, multiplier } }), bfd, `${intervalMs} × ${multiplier}`);
  }
  const hold = /a hold time of .* s: BIRD takes 3 to 65535 s/;
  for (const holdTime of [0, 2, 65536, 9.5, -9]) assert.throws(() => withSessions(TEMPLATE, { holdTime }), hold, String(holdTime));
  assert.throws(() => withSessions(TEMPLATE, { bfd: { intervalMs: 5, multiplier: 3 } }), /^Error: BFD 5 ms × 3: /);
  assert.throws(() => withSessions(TEMPLATE, { holdTime: 2 }), { message: 'a hold time of 2 s: BIRD takes 3 to 65535 s' });
  // The limits themselves are taken: 10 ms, a multiplier of 2 and of 255, 3 s and 65535 s.
  const lowest = withSessions(TEMPLATE, { bfd: { intervalMs: 10, multiplier: 2 }, holdTime: 65535 });
  assert.match(lowest, /dead peer found in 20 ms\n {2}interface "\*" \{ interval 10 ms; multiplier 2; \};/);
  assert.match(lowest, /\n {2}hold time 65535; /);
  assert.match(withSessions(TEMPLATE, { bfd: { intervalMs: 60000, multiplier: 255 }, holdTime: 3 }), /multihop \{ interval 60000 ms; multiplier 255; \};[\s\S]*\n {2}hold time 3; /);
});
