/**
 * Rendering: golden files, determinism, the committed trees being exactly
 * what `npm run render` writes, and no clear-text secret anywhere in them.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { labDevices } from '../../lib/platforms/lab/provider/metadata.js';
import { checkFacts, decodeFacts, planWithFacts } from '../../lib/plan/facts.js';
import { containsAddress, formatPrefix, parseAddress } from '../../lib/net/ipv6.js';
import { apiBootstrapNat } from '../../lib/render/apiBootstrap.js';
import { assignExternalIPs } from '../../lib/render/apps.js';
import { bgpPeers, NAT64_NETWORK, NETWORK_LABEL, networkSets, peerName } from '../../lib/render/calico.js';
import { IPV4_EGRESS_LABEL } from '../../lib/render/policies.js';
import { renderCluster, renderShared } from '../../lib/render/tree.js';
import { GENERATED_MARKER, manifestFile } from '../../lib/render/yaml.js';
import { toYaml } from '../../lib/yaml/write.js';
import { loadAll, renderAll } from '../../lib/repo/workspace.js';
import { loadCluster } from '../../lib/platforms/load.js';
import { formatProblem } from '../../lib/cluster/problems.js';
import { assertGolden } from '../golden.js';
import { committedInputs, fixtureInputs } from '../pinned-fixture.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const fixture = (p: string) => readFileSync(new URL(`../fixtures/${p}`, import.meta.url), 'utf8');

function dfw() {
  const loaded = loadCluster('infra/dfw.yaml', readFileSync(join(root, 'infra/dfw.yaml'), 'utf8'));
  assert.ok(loaded.ok);
  const facts = decodeFacts('provider-facts.json', fixture('facts/dfw.json'));
  assert.ok(facts.ok, facts.ok ? '' : facts.problems.map(formatProblem).join('\n'));
  return { spec: loaded.spec, plan: planWithFacts(loaded.spec, facts.facts), facts: facts.facts };
}

test('BGPPeers from Equinix Metal neighbor metadata (golden)', () => {
  const { facts } = dfw();
  assertGolden('bgp-peers-dfw.yaml', manifestFile('test/fixtures/facts/dfw.json', bgpPeers(facts.devices)));
});

test('a full lab cluster renders to its golden tree', () => {
  const loaded = loadCluster('test/fixtures/specs/valid-lab-full.yaml', fixture('specs/valid-lab-full.yaml'));
  assert.ok(loaded.ok);
  const files = renderCluster({ spec: loaded.spec, plan: loaded.plan, devices: labDevices(loaded.spec, loaded.plan), sources: ['test/fixtures/specs/valid-lab-full.yaml'] }, fixtureInputs());
  for (const f of files) assertGolden(`full/${f.path}`, f.content);
  // The same set of files: none missing from the render, none left over in the golden tree.
  if (process.env.UPDATE_GOLDEN === '1') return;
  const golden = join(root, 'test/golden/full');
  assert.deepEqual(
    files.map((f) => f.path).sort(),
    walk(golden).map((abs) => relative(golden, abs)).sort(),
  );
});

test('rendering is deterministic', () => {
  const a = renderAll(loadAll(root).clusters, committedInputs());
  const b = renderAll(loadAll(root).clusters, committedInputs());
  assert.deepEqual(a, b);
  // The CRDs in another order (a reader's, a module's listing): the same files.
  const c = renderAll(loadAll(root).clusters, { ...committedInputs(), crds: [...committedInputs().crds].reverse() });
  assert.deepEqual(c, a);
});

function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}

test('the committed trees are exactly what npm run render writes', () => {
  const { clusters, problems } = loadAll(root);
  assert.deepEqual(problems.map(formatProblem), []);
  assert.deepEqual(clusters.map((c) => c.spec.name).sort(), ['colo', 'dfw', 'lab']);
  // Flux's CRDs as committed (no .cache/ in the unit tier): CI's render check and
  // test/integration/fluxComponents.test.ts compare them with the pinned modules'.
  const files = renderAll(clusters, committedInputs());
  for (const f of files) {
    const abs = join(root, f.path);
    assert.ok(existsSync(abs), `${f.path} is not committed; run npm run render`);
    assert.equal(readFileSync(abs, 'utf8'), f.content, `${f.path} differs from what npm run render writes`);
  }
  const rendered = new Set(files.map((f) => f.path));
  for (const dir of ['clusters', 'policies', 'apps']) {
    for (const abs of walk(join(root, dir))) {
      const rel = relative(root, abs);
      if (rel.endsWith('provider-facts.json')) continue;
      assert.ok(rendered.has(rel), `${rel} is not rendered from any spec (stale or hand-written)`);
    }
  }
});

test('no clear-text secret is rendered', () => {
  const { clusters } = loadAll(root);
  const { facts } = dfw();
  const withFacts = renderCluster({ ...dfw(), devices: facts.devices, sources: ['x'] }, committedInputs());
  for (const f of [...renderAll(clusters, committedInputs()), ...withFacts]) {
    for (const doc of parseAllDocuments(f.content)) {
      const obj = doc.toJS() as Record<string, unknown> | null;
      if (!obj) continue;
      if (obj.kind === 'Secret') assert.fail(`${f.path} renders a Secret; BGP passwords are created in the cluster by apply`);
      const text = JSON.stringify(obj);
      assert.ok(!/md5_password|"password":"|BEGIN [A-Z ]*PRIVATE KEY/.test(text), `${f.path} holds something that looks like a secret`);
    }
  }
});

test('facts that disagree with the spec are refused with the field and fix', () => {
  const { spec } = dfw();
  const base = JSON.parse(fixture('facts/dfw.json'));
  const n0 = base.devices[0].bgp_neighbors[0];
  n0.peer_as = 65001;
  n0.routes_in = [{ route: '2001:db8:2a00::/64', exact: false }];
  base.devices[1].network.addresses[1].address = '2001:db8:2a00:1::5';
  base.devices[5].hostname = 'dfw-general-9';
  base.devices[2].bgp_neighbors[0].md5_password = 'hunter2';
  const decoded = decodeFacts('clusters/dfw/provider-facts.json', JSON.stringify(base));
  assert.equal(decoded.ok, false);
  if (decoded.ok) return;
  assert.deepEqual(decoded.problems.map(formatProblem), [
    'clusters/dfw/provider-facts.json: devices[2].bgp_neighbors[0].md5_password: holds a password in clear text. Fix: remove it: passwords never go into git (apply stores them in the cluster as a Secret)',
  ]);
  delete base.devices[2].bgp_neighbors[0].md5_password;
  const again = decodeFacts('clusters/dfw/provider-facts.json', JSON.stringify(base));
  assert.ok(again.ok);
  if (!again.ok) return;
  const problems = checkFacts('clusters/dfw/provider-facts.json', again.facts, spec, planWithFacts(spec, again.facts)).map(formatProblem);
  assert.deepEqual(problems, [
    'clusters/dfw/provider-facts.json: devices[0].bgp_neighbors[0].peer_as: is 65001, the spec\'s peerASN is 65530. Fix: set spec.network.peerASN in infra/dfw.yaml to 65001',
    'clusters/dfw/provider-facts.json: devices[0].bgp_neighbors[0].routes_in: the provider does not accept the pod pool 2001:db8:2a00:8::/64 from "dfw-cp-1". Fix: announce only inside the project\'s reserved block (check spec.network.block)',
    'clusters/dfw/provider-facts.json: devices[0].bgp_neighbors[0].routes_in: the provider does not accept the Service range 2001:db8:2a00:1::/112 from "dfw-cp-1". Fix: announce only inside the project\'s reserved block (check spec.network.block)',
    'clusters/dfw/provider-facts.json: devices[0].bgp_neighbors[0].routes_in: the provider does not accept the LoadBalancer range 2001:db8:2a00:2::/120 from "dfw-cp-1". Fix: announce only inside the project\'s reserved block (check spec.network.block)',
    'clusters/dfw/provider-facts.json: devices[0].bgp_neighbors[0].routes_in: the provider does not accept the external IP range 2001:db8:2a00:3::/120 from "dfw-cp-1". Fix: announce only inside the project\'s reserved block (check spec.network.block)',
    'clusters/dfw/provider-facts.json: devices[1].network.addresses: device "dfw-cp-2" got 2001:db8:2a00:1::5, inside the services range 2001:db8:2a00:1::/112. Fix: the provider numbered devices where the planner put another range: open an issue with this file',
    'clusters/dfw/provider-facts.json: devices[1].bgp_neighbors[0].customer_ip: is 2001:db8:2a00::5, not the device\'s address 2001:db8:2a00:1::5. Fix: the session must be sourced from the device address; re-create the BGP session',
    'clusters/dfw/provider-facts.json: devices[5].hostname: device "dfw-general-9" is not a machine of infra/dfw.yaml. Fix: re-run apply so it records the provider facts again',
  ]);
});

test('a device numbered inside the block but outside the node range is reported (the baseline and the firewall count the node range as the machines)', () => {
  const { spec } = dfw();
  const base = JSON.parse(fixture('facts/dfw.json'));
  const plan = planWithFacts(spec, base);
  const nodes = plan.ranges.find((r) => r.name === 'nodes')!;
  // In the block, in no planned range: the last /64 of the /56.
  const stray = '2001:db8:2a00:ff::5';
  assert.ok(!plan.ranges.some((r) => r.name !== 'block' && containsAddress(r.prefix, parseAddress(stray))), 'the stray address is in no range of the plan');
  base.devices[1].network.addresses[1].address = stray; // its public IPv6 (the first is its public IPv4)
  base.devices[1].network.addresses[1].gateway = '2001:db8:2a00:ff::4';
  base.devices[1].bgp_neighbors[0].customer_ip = stray;
  const decoded = decodeFacts('clusters/dfw/provider-facts.json', JSON.stringify(base));
  assert.ok(decoded.ok);
  if (!decoded.ok) return;
  assert.deepEqual(checkFacts('clusters/dfw/provider-facts.json', decoded.facts, spec, planWithFacts(spec, decoded.facts)).map(formatProblem), [
    `clusters/dfw/provider-facts.json: devices[1].network.addresses: device "dfw-cp-2" got ${stray}, outside the node range ${formatPrefix(nodes.prefix)}, which the baseline and the machines' firewall count as the cluster's machines. Fix: the provider numbered devices where the planner put no machine: open an issue with this file`,
  ]);
});

test('a requested block is filled in from the facts', () => {
  const text = readFileSync(join(root, 'infra/dfw.yaml'), 'utf8').replace('block: 2001:db8:2a00::/56', 'blockSize: 56');
  const loaded = loadCluster('infra/dfw.yaml', text);
  assert.ok(loaded.ok);
  if (!loaded.ok) return;
  assert.equal(loaded.plan.resolved, false);
  const facts = decodeFacts('f.json', fixture('facts/dfw.json'));
  assert.ok(facts.ok);
  if (!facts.ok) return;
  const plan = planWithFacts(loaded.spec, facts.facts);
  assert.equal(plan.resolved, true);
  assert.deepEqual(checkFacts('f.json', facts.facts, loaded.spec, plan), []);
  assert.equal(plan.apiServer.toString(16), '20010db82a0000010000000000000001');
});

test('a NAT64 prefix beside a block assigned at apply: checked against the ranges once the facts name the block', () => {
  const text = readFileSync(join(root, 'infra/dfw.yaml'), 'utf8').replace('block: 2001:db8:2a00::/56', 'blockSize: 56');
  const facts = decodeFacts('f.json', fixture('facts/dfw.json'));
  assert.ok(facts.ok);
  if (!facts.ok) return;
  const check = (prefix: string) => {
    const loaded = loadCluster('infra/dfw.yaml', `${text}  egress:\n    nat64Prefix: ${prefix}\n`);
    assert.ok(loaded.ok, loaded.ok ? '' : loaded.problems.map(formatProblem).join('\n'));
    if (!loaded.ok) return [];
    return checkFacts('f.json', facts.facts, loaded.spec, planWithFacts(loaded.spec, facts.facts)).map(formatProblem);
  };
  assert.deepEqual(check('2001:db8:2a00:8::/96'), [
    'f.json: reservedBlock: the provider assigned 2001:db8:2a00::/56, whose pods range 2001:db8:2a00:8::/64 overlaps spec.egress.nat64Prefix 2001:db8:2a00:8::/96 of infra/dfw.yaml. Fix: pick another /96 for spec.egress.nat64Prefix in infra/dfw.yaml, or remove it: the plan then takes 2001:db8:2a00:4::/96',
  ]);
  assert.deepEqual(check('2001:db8:2a00:5::/96'), []);
  assert.deepEqual(check('64:ff9b::/96'), []);
});

test('a cluster without an external IP range renders no public-addresses patch; every header names all the sources', () => {
  const text = readFileSync(join(root, 'infra/lab.yaml'), 'utf8').replace('    externalIPRangeSize: 120\n', '');
  const loaded = loadCluster('infra/lab.yaml', text);
  assert.ok(loaded.ok);
  if (!loaded.ok) return;
  const files = renderCluster({ spec: loaded.spec, plan: loaded.plan, sources: ['infra/lab.yaml', 'x/facts.json'] }, fixtureInputs());
  // In path order, without bgp-peers.yaml (no devices given) or apps/public-addresses.yaml.
  assert.deepEqual(
    files.map((f) => f.path),
    [
      'clusters/lab/apps.yaml',
      'clusters/lab/apps/kustomization.yaml',
      'clusters/lab/fabric.yaml',
      'clusters/lab/fabric/bgp-configuration.yaml',
      'clusters/lab/fabric/bgp-passwords-rbac.yaml',
      'clusters/lab/fabric/bird-templates.yaml',
      'clusters/lab/fabric/coredns.yaml',
      'clusters/lab/fabric/felix-configuration.yaml',
      'clusters/lab/fabric/ippool.yaml',
      'clusters/lab/fabric/kustomization.yaml',
      'clusters/lab/fabric/network-sets.yaml',
      'clusters/lab/flux-system/gotk-components.yaml',
      'clusters/lab/flux-system/gotk-sync.yaml',
      'clusters/lab/flux-system/kustomization.yaml',
      'clusters/lab/kustomization.yaml',
      'clusters/lab/policies.yaml',
    ],
  );
  assert.equal(
    files.find((f) => f.path === 'clusters/lab/apps/kustomization.yaml')!.content,
    [
      '# Generated by native6 from infra/lab.yaml and x/facts.json. Do not edit by hand:',
      '# change the source and run `npm run render` to regenerate.',
      '---',
      'apiVersion: kustomize.config.k8s.io/v1beta1',
      'kind: Kustomization',
      'resources:',
      '  - ../../../apps/echo',
      '  - ../../../apps/egress',
      '',
    ].join('\n'),
  );
  for (const f of files) assert.ok(f.content.startsWith(GENERATED_MARKER), f.path);
  assert.ok(files.find((f) => f.path.endsWith('gotk-components.yaml'))!.content.startsWith('# Generated by native6 from infra/lab.yaml and x/facts.json and Flux v2.9.5 ('));
});

test('the shared trees, in path order', () => {
  assert.deepEqual(
    renderShared().map((f) => f.path),
    [
      'apps/echo/echo.yaml',
      'apps/echo/internal.yaml',
      'apps/echo/kustomization.yaml',
      'apps/echo/namespace.yaml',
      'apps/echo/network-policy.yaml',
      'apps/egress/clients.yaml',
      'apps/egress/kustomization.yaml',
      'apps/egress/namespace.yaml',
      'apps/egress/network-policy.yaml',
      'policies/baseline/allow-apiserver.yaml',
      'policies/baseline/allow-dns.yaml',
      'policies/baseline/allow-ipv4-egress.yaml',
      'policies/baseline/allow-trusted.yaml',
      'policies/baseline/default-deny.yaml',
      'policies/baseline/guard-ipv4-egress.yaml',
      'policies/baseline/guard-public-ingress.yaml',
      'policies/baseline/kustomization.yaml',
    ],
  );
  assert.equal(GENERATED_MARKER, '# Generated by native6 from ');
});

test('IPv4 egress: the baseline guards the NAT64 set at order 10 (CoreDNS let through, for its IPv4 resolvers) and opens it at 100 for the label and Flux\'s source-controller', () => {
  assert.equal(IPV4_EGRESS_LABEL, 'native6.dev/ipv4-egress');
  const file = (name: string) => renderShared().find((f) => f.path === `policies/baseline/${name}`)?.content;
  const policy = (name: string, order: number, selector: string, action: string) =>
    [
      '# Generated by native6 from lib/render/policies.ts. Do not edit by hand:',
      '# change the source and run `npm run render` to regenerate.',
      '---',
      'apiVersion: crd.projectcalico.org/v1',
      'kind: GlobalNetworkPolicy',
      'metadata:',
      `  name: ${name}`,
      'spec:',
      `  order: ${order}`,
      `  selector: ${selector}`,
      '  types:',
      '    - Egress',
      '  egress:',
      `    - action: ${action}`,
      '      destination:',
      "        selector: native6.dev/network == 'nat64' && !has(projectcalico.org/namespace)",
      '',
    ].join('\n');
  const source = "projectcalico.org/namespace == 'flux-system' && app == 'source-controller'";
  // CoreDNS passes the guard (its upstream resolvers are IPv4, under the NAT64 prefix) but is not opened the IPv4 internet.
  const coreDNS = "projectcalico.org/namespace == 'kube-system' && k8s-app == 'kube-dns'";
  assert.equal(file('guard-ipv4-egress.yaml'), policy('baseline-guard-ipv4-egress', 10, `native6.dev/ipv4-egress != 'true' && !(${source}) && !(${coreDNS})`, 'Deny'));
  assert.equal(file('allow-ipv4-egress.yaml'), policy('baseline-allow-ipv4-egress', 100, `native6.dev/ipv4-egress == 'true' || (${source})`, 'Allow'));
});

test('IPv4 egress: the NAT64 prefix is a network set of its own (label nat64) when pods reach IPv4 through it, none otherwise', () => {
  const lab = readFileSync(join(root, 'infra/lab.yaml'), 'utf8');
  const sets = (text: string) => {
    const loaded = loadCluster('infra/lab.yaml', text);
    assert.ok(loaded.ok, loaded.ok ? '' : loaded.problems.map(formatProblem).join('\n'));
    return networkSets(loaded.spec, loaded.plan).map((m) => {
      const { metadata, spec } = m as { metadata: { name: string; labels: Record<string, string> }; spec: { nets: string[] } };
      return [metadata.name, metadata.labels[NETWORK_LABEL], spec.nets];
    });
  };
  assert.equal(NAT64_NETWORK, 'nat64');
  assert.deepEqual(sets(lab), [
    ['cluster', 'cluster', ['2001:db8:100::/64', '2001:db8:100:8::/64']],
    ['public-sources', 'public', ['::/0']],
    ['trusted-sources', 'trusted', []],
    ['nat64', 'nat64', ['2001:db8:100:4::/96']],
  ]);
  assert.deepEqual(sets(`${lab}  egress:\n    nat64Prefix: 2001:db8:64::/96\n`).at(-1), ['nat64', 'nat64', ['2001:db8:64::/96']]);
  // Without NAT64 (ipv4: none, which the lab itself refuses: its machines' resolver is IPv4 only), no set.
  const loaded = loadCluster('infra/lab.yaml', lab);
  assert.ok(loaded.ok);
  const none = networkSets({ ...loaded.spec, egress: { ipv4: 'none' } }, { ...loaded.plan, nat64: undefined });
  assert.deepEqual(none.map((m) => (m as { metadata: { name: string } }).metadata.name), ['cluster', 'public-sources', 'trusted-sources']);
});

test('external IPs: offsets 1 to the last address of the range; outside it, an error naming the Service', () => {
  const { plan } = dfw();
  const narrow = { ...plan, externalIPs: { address: plan.externalIPs!.address, length: 124 } };
  const svc = (offset: bigint) => [{ name: 'web', trafficPolicy: 'Local' as const, offset }];
  assert.deepEqual(assignExternalIPs(narrow, svc(15n)), [
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'echo' }, spec: { externalIPs: ['2001:db8:2a00:3::f'], externalTrafficPolicy: 'Local' } },
  ]);
  assert.equal((assignExternalIPs(narrow, svc(1n))[0]!.spec as { externalIPs: string[] }).externalIPs[0], '2001:db8:2a00:3::1');
  assert.throws(() => assignExternalIPs(narrow, svc(16n)), { message: 'Service web: offset 16 is outside the external IP range 2001:db8:2a00:3::/124' });
  assert.throws(() => assignExternalIPs(narrow, svc(0n)), { message: 'Service web: offset 0 is outside the external IP range 2001:db8:2a00:3::/124' });
  const { externalIPs: _none, ...without } = plan;
  assert.deepEqual(assignExternalIPs(without, svc(1n)), []);
});

test('the API bootstrap NAT: the ClusterIP\'s port 443 to the first control plane, for routed and local traffic', () => {
  assert.equal(
    apiBootstrapNat('2001:db8:2a00:1::1', '2001:db8:2a00::3'),
    [
      'table ip6 n6-api-bootstrap',
      'delete table ip6 n6-api-bootstrap',
      'table ip6 n6-api-bootstrap {',
      '  chain prerouting {',
      '    type nat hook prerouting priority -110; policy accept;',
      '    ip6 daddr 2001:db8:2a00:1::1 tcp dport 443 dnat to [2001:db8:2a00::3]:443',
      '  }',
      '  chain output {',
      '    type nat hook output priority -110; policy accept;',
      '    ip6 daddr 2001:db8:2a00:1::1 tcp dport 443 dnat to [2001:db8:2a00::3]:443',
      '  }',
      '}',
      '',
    ].join('\n'),
  );
});

test('YAML reads the same under YAML 1.1: words and numbers 1.1 would convert are quoted; repeated objects are written out', () => {
  const shared = { x: 1 };
  assert.equal(
    toYaml({ a: 'yes', b: 'no', c: '0755', d: '1:30', e: 'on', f: shared, g: shared, h: 'plain', i: '::' }),
    ['a: "yes"', 'b: "no"', 'c: "0755"', 'd: "1:30"', 'e: "on"', 'f:', '  x: 1', 'g:', '  x: 1', 'h: plain', 'i: "::"', ''].join('\n'),
  );
});

test('BGPPeer names: an address ending in :: gets a 0, so the name does not end in "-"', () => {
  assert.equal(peerName('dfw-cp-1', 'fc00::'), 'dfw-cp-1-fc00--0');
  assert.equal(peerName('dfw-cp-1', 'FC00:0:0:0:0:0:0:E'), 'dfw-cp-1-fc00--e');
  assert.equal(peerName('dfw-cp-1', '2001:db8::1:0:0:0'), 'dfw-cp-1-2001-db8-0-0-1--0');
});
