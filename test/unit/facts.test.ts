/**
 * Provider facts (lib/plan/facts.ts and lib/cluster/devices.ts): the
 * structural decoder's and the semantic check's exact problems, the
 * redaction that keeps passwords out of git, and the BGPPeers rendered from
 * neighbours of every kind the provider reports (IPv4 and IPv6, multihop or
 * not, with or without MD5).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { checkFacts, decodeFacts, planWithFacts } from '../../lib/plan/facts.js';
import { publicIPv6, redactFacts, type ProviderFacts } from '../../lib/cluster/devices.js';
import { bgpPeers } from '../../lib/render/calico.js';
import type { ClusterSpec } from '../../lib/cluster/cluster.js';
import { loadCluster } from '../../lib/platforms/load.js';
import { formatProblem } from '../../lib/cluster/problems.js';

const FILE = 'clusters/dfw/provider-facts.json';
const REFRESH = 'Fix: re-run apply to record the provider facts again';
const fixture = (p: string) => readFileSync(new URL(`../fixtures/${p}`, import.meta.url), 'utf8');
const dfwSpecText = readFileSync(new URL('../../infra/dfw.yaml', import.meta.url), 'utf8');

function dfwSpec(text = dfwSpecText): ClusterSpec {
  const loaded = loadCluster('infra/dfw.yaml', text);
  assert.ok(loaded.ok, loaded.ok ? '' : loaded.problems.map(formatProblem).join('\n'));
  return loaded.spec;
}

function decoded(text: string): ProviderFacts {
  const r = decodeFacts(FILE, text);
  assert.ok(r.ok, r.ok ? '' : r.problems.map(formatProblem).join('\n'));
  return r.facts;
}

function problemsOf(text: string): string[] {
  const r = decodeFacts(FILE, text);
  assert.equal(r.ok, false, 'the facts were accepted');
  return r.ok ? [] : r.problems.map(formatProblem);
}

/** A one-device facts file for dfw; `edit` changes the parsed JSON in place. */
function oneDevice(edit: (facts: any) => void = () => {}): string {
  const facts = JSON.parse(fixture('facts/dfw.json'));
  facts.devices = facts.devices.slice(0, 1);
  edit(facts);
  return JSON.stringify(facts);
}

test('facts: the mixed fixture (IPv4 and IPv6, multihop or not, MD5 or not) decodes and agrees with infra/dfw.yaml', () => {
  const facts = decoded(fixture('facts/dfw-mixed.json'));
  const spec = dfwSpec();
  assert.deepEqual(checkFacts(FILE, facts, spec, planWithFacts(spec, facts)), []);
  // The public IPv6 entry, not the first IPv6 one (a private address comes first on dfw-cp-1).
  assert.equal(publicIPv6(facts.devices[1]!)?.address, '2001:db8:2a00::3');
  assert.equal(publicIPv6({ hostname: 'v4-only', network: { addresses: [facts.devices[0]!.network.addresses[0]!] }, bgp_neighbors: [] }), undefined);
});

test('decodeFacts: the facts read are the values in the file, fields outside the shape left out', () => {
  const json = JSON.parse(fixture('facts/dfw-mixed.json'));
  // What the product reads of each address: management, network and netmask are the provider's extras.
  const expected = {
    ...json,
    devices: json.devices.map((d: any) => ({
      ...d,
      network: { addresses: d.network.addresses.map(({ management: _m, network: _n, netmask: _k, ...a }: any) => a) },
    })),
  };
  assert.deepEqual(decoded(fixture('facts/dfw-mixed.json')), expected);
  assert.equal(expected.devices[0].network.addresses[1].cidr, 127);
});

test('BGPPeers: IPv4 neighbours are skipped; a multihop peer is reached through the gateway; no MD5, no password reference', () => {
  const peers = bgpPeers(decoded(fixture('facts/dfw-mixed.json')).devices);
  const cp1 = (peerIP: string, name: string) => ({
    apiVersion: 'crd.projectcalico.org/v1',
    kind: 'BGPPeer',
    metadata: { name },
    spec: {
      node: 'dfw-cp-1',
      peerIP,
      asNumber: 65530,
      sourceAddress: 'UseNodeIP',
      reachableBy: '2001:db8:2a00::2',
      password: { secretKeyRef: { name: 'bgp-md5', key: 'dfw-cp-1' } },
    },
  });
  assert.deepEqual(peers, [
    // Devices in name order; the upper-case, uncompressed peer address written canonically.
    cp1('fc00::e', 'dfw-cp-1-fc00--e'),
    cp1('fc00::f', 'dfw-cp-1-fc00--f'),
    {
      apiVersion: 'crd.projectcalico.org/v1',
      kind: 'BGPPeer',
      metadata: { name: 'dfw-general-1-2001-db8-2a00--8' },
      // A directly connected (non-multihop) router needs no pinned route, and a session without MD5 no password.
      spec: { node: 'dfw-general-1', peerIP: '2001:db8:2a00::8', asNumber: 65530, sourceAddress: 'UseNodeIP' },
    },
  ]);
});

test('redactFacts: every md5_password is removed, everything else is kept', () => {
  const facts = decoded(fixture('facts/dfw-mixed.json'));
  const withPasswords: ProviderFacts = {
    ...facts,
    devices: facts.devices.map((d, i) => ({ ...d, bgp_neighbors: d.bgp_neighbors.map((n, j) => ({ ...n, md5_password: j === 0 ? `secret-${i}` : null })) })),
  };
  const redacted = redactFacts(withPasswords);
  const text = JSON.stringify(redacted);
  assert.ok(!text.includes('md5_password'), text);
  assert.ok(!text.includes('secret-'), text);
  // What is left is exactly the facts as they were without the passwords.
  assert.deepEqual(redacted, facts);
  // The input is not changed: apply still needs the passwords for the cluster's Secret.
  assert.equal(withPasswords.devices[1]!.bgp_neighbors[0]!.md5_password, 'secret-1');
  // Redacted facts are facts the decoder accepts (no password in clear).
  assert.deepEqual(decoded(text), facts);
  assert.deepEqual(problemsOf(JSON.stringify(withPasswords)), [
    `${FILE}: devices[0].bgp_neighbors[0].md5_password: holds a password in clear text. Fix: remove it: passwords never go into git (apply stores them in the cluster as a Secret)`,
    `${FILE}: devices[1].bgp_neighbors[0].md5_password: holds a password in clear text. Fix: remove it: passwords never go into git (apply stores them in the cluster as a Secret)`,
  ]);
});

test('decodeFacts: text that is not JSON, or not an object, is refused', () => {
  const bad = '{"apiVersion": "native6.dev/v1alpha1",';
  let parseError = '';
  try {
    JSON.parse(bad);
  } catch (e) {
    parseError = (e as Error).message;
  }
  assert.notEqual(parseError, '');
  assert.deepEqual(problemsOf(bad), [`${FILE}: (document): is not valid JSON (${parseError}). Fix: re-run apply to record the provider facts again`]);
  assert.deepEqual(problemsOf('[]'), [`${FILE}: (document): must be an object. ${REFRESH}`]);
  assert.deepEqual(problemsOf('null'), [`${FILE}: (document): must be an object. ${REFRESH}`]);
});

test('decodeFacts: the wrong apiVersion or kind is refused', () => {
  const kind = `${FILE}: kind: is not a native6.dev/v1alpha1 ProviderFacts file. ${REFRESH}`;
  assert.deepEqual(problemsOf(oneDevice((f) => (f.kind = 'Facts'))), [kind]);
  assert.deepEqual(problemsOf(oneDevice((f) => (f.apiVersion = 'native6.dev/v1'))), [kind]);
  assert.deepEqual(problemsOf(oneDevice((f) => delete f.kind)), [kind]);
});

test('decodeFacts: every field of the wrong type is named with what was found', () => {
  assert.deepEqual(
    problemsOf(
      oneDevice((f) => {
        f.cluster = 42;
        delete f.reservedBlock;
      }),
    ),
    [`${FILE}: cluster: must be a string, found 42. ${REFRESH}`, `${FILE}: reservedBlock: must be a string, found nothing. ${REFRESH}`],
  );
  assert.deepEqual(problemsOf(oneDevice((f) => (f.devices = { 'dfw-cp-1': {} }))), [`${FILE}: devices: must be a list. ${REFRESH}`]);
  assert.deepEqual(problemsOf(oneDevice((f) => (f.devices = ['dfw-cp-1']))), [`${FILE}: devices[0]: must be an object. ${REFRESH}`]);
  assert.deepEqual(
    problemsOf(
      oneDevice((f) => {
        const d = f.devices[0];
        d.hostname = null;
        d.network = [];
        d.bgp_neighbors = 'none';
      }),
    ),
    [
      `${FILE}: devices[0].hostname: must be a string, found null. ${REFRESH}`,
      `${FILE}: devices[0].network: must be an object. ${REFRESH}`,
      `${FILE}: devices[0].bgp_neighbors: must be a list. ${REFRESH}`,
    ],
  );
  assert.deepEqual(
    problemsOf(
      oneDevice((f) => {
        const d = f.devices[0];
        d.network.addresses[0] = 'a';
        d.network.addresses[1] = { address_family: '6', public: 'yes', address: 3, gateway: ['x'], cidr: '127' };
      }),
    ),
    [
      `${FILE}: devices[0].network.addresses[0]: must be an object. ${REFRESH}`,
      `${FILE}: devices[0].network.addresses[0].address_family: must be a number, found nothing. ${REFRESH}`,
      `${FILE}: devices[0].network.addresses[0].public: must be a boolean, found nothing. ${REFRESH}`,
      `${FILE}: devices[0].network.addresses[0].address: must be a string, found nothing. ${REFRESH}`,
      `${FILE}: devices[0].network.addresses[0].gateway: must be a string, found nothing. ${REFRESH}`,
      `${FILE}: devices[0].network.addresses[0].cidr: must be a number, found nothing. ${REFRESH}`,
      `${FILE}: devices[0].network.addresses[1].address_family: must be a number, found "6". ${REFRESH}`,
      `${FILE}: devices[0].network.addresses[1].public: must be a boolean, found "yes". ${REFRESH}`,
      `${FILE}: devices[0].network.addresses[1].address: must be a string, found 3. ${REFRESH}`,
      `${FILE}: devices[0].network.addresses[1].gateway: must be a string, found ["x"]. ${REFRESH}`,
      `${FILE}: devices[0].network.addresses[1].cidr: must be a number, found "127". ${REFRESH}`,
    ],
  );
  assert.deepEqual(
    problemsOf(
      oneDevice((f) => {
        f.devices[0].network.addresses = {};
      }),
    ),
    [`${FILE}: devices[0].network.addresses: must be a list. ${REFRESH}`],
  );
  assert.deepEqual(
    problemsOf(
      oneDevice((f) => {
        f.devices[0].bgp_neighbors = [
          7,
          {
            address_family: 6,
            customer_as: '65000',
            customer_ip: 1,
            md5_enabled: 'true',
            multihop: 1,
            peer_as: null,
            peer_ips: ['fc00::e', 14],
            routes_in: [{ route: 5, exact: 'no' }, 'r'],
            routes_out: 'none',
          },
        ];
      }),
    ),
    [
      `${FILE}: devices[0].bgp_neighbors[0]: must be an object. ${REFRESH}`,
      `${FILE}: devices[0].bgp_neighbors[0].address_family: must be a number, found nothing. ${REFRESH}`,
      `${FILE}: devices[0].bgp_neighbors[0].customer_as: must be a number, found nothing. ${REFRESH}`,
      `${FILE}: devices[0].bgp_neighbors[0].customer_ip: must be a string, found nothing. ${REFRESH}`,
      `${FILE}: devices[0].bgp_neighbors[0].md5_enabled: must be a boolean, found nothing. ${REFRESH}`,
      `${FILE}: devices[0].bgp_neighbors[0].multihop: must be a boolean, found nothing. ${REFRESH}`,
      `${FILE}: devices[0].bgp_neighbors[0].peer_as: must be a number, found nothing. ${REFRESH}`,
      `${FILE}: devices[0].bgp_neighbors[0].peer_ips: must be a list. ${REFRESH}`,
      `${FILE}: devices[0].bgp_neighbors[0].routes_in: must be a list. ${REFRESH}`,
      `${FILE}: devices[0].bgp_neighbors[0].routes_out: must be a list. ${REFRESH}`,
      `${FILE}: devices[0].bgp_neighbors[1].customer_as: must be a number, found "65000". ${REFRESH}`,
      `${FILE}: devices[0].bgp_neighbors[1].customer_ip: must be a string, found 1. ${REFRESH}`,
      `${FILE}: devices[0].bgp_neighbors[1].md5_enabled: must be a boolean, found "true". ${REFRESH}`,
      `${FILE}: devices[0].bgp_neighbors[1].multihop: must be a boolean, found 1. ${REFRESH}`,
      `${FILE}: devices[0].bgp_neighbors[1].peer_as: must be a number, found null. ${REFRESH}`,
      `${FILE}: devices[0].bgp_neighbors[1].peer_ips[1]: must be a string, found 14. ${REFRESH}`,
      `${FILE}: devices[0].bgp_neighbors[1].routes_in[0].route: must be a string, found 5. ${REFRESH}`,
      `${FILE}: devices[0].bgp_neighbors[1].routes_in[0].exact: must be a boolean, found "no". ${REFRESH}`,
      `${FILE}: devices[0].bgp_neighbors[1].routes_in[1]: must be an object. ${REFRESH}`,
      `${FILE}: devices[0].bgp_neighbors[1].routes_in[1].route: must be a string, found nothing. ${REFRESH}`,
      `${FILE}: devices[0].bgp_neighbors[1].routes_in[1].exact: must be a boolean, found nothing. ${REFRESH}`,
      `${FILE}: devices[0].bgp_neighbors[1].routes_out: must be a list. ${REFRESH}`,
    ],
  );
});

test('decodeFacts: fields the provider adds are ignored; an empty or null password is no password', () => {
  const facts = decoded(
    oneDevice((f) => {
      f.plan = 'c3.small.x86';
      f.devices[0].bgp_neighbors[0].md5_password = '';
      f.devices[0].bgp_neighbors[0].extra = { any: 'thing' };
    }),
  );
  assert.equal(facts.cluster, 'dfw');
  assert.deepEqual(Object.keys(facts.devices[0]!.bgp_neighbors[0]!).sort(), [
    'address_family',
    'customer_as',
    'customer_ip',
    'md5_enabled',
    'multihop',
    'peer_as',
    'peer_ips',
    'routes_in',
    'routes_out',
  ]);
  decoded(oneDevice((f) => (f.devices[0].bgp_neighbors[0].md5_password = null)));
});

function check(text: string, specText = dfwSpecText): string[] {
  const spec = dfwSpec(specText);
  const facts = decoded(text);
  return checkFacts(FILE, facts, spec, planWithFacts(spec, facts)).map(formatProblem);
}

test('checkFacts: the facts of another cluster or another block are refused', () => {
  assert.deepEqual(check(oneDevice((f) => (f.cluster = 'ams'))), [`${FILE}: cluster: is "ams", the spec is "dfw". Fix: re-run apply so it records the provider facts again`]);
  assert.deepEqual(check(oneDevice((f) => (f.reservedBlock = '2001:db8:2b00::/56'))), [
    `${FILE}: reservedBlock: the provider assigned 2001:db8:2b00::/56 but infra/dfw.yaml says 2001:db8:2a00::/56. Fix: set spec.network.block in infra/dfw.yaml to 2001:db8:2b00::/56`,
  ]);
  // Written differently but the same block: no problem.
  assert.deepEqual(check(oneDevice((f) => (f.reservedBlock = '2001:0db8:2a00:0000::/56'))), []);
  const spec = dfwSpec();
  const facts = decoded(oneDevice((f) => (f.reservedBlock = '2001:db8:2a00::1/56')));
  assert.deepEqual(checkFacts(FILE, facts, spec, planWithFacts(spec, facts)).map(formatProblem), [
    `${FILE}: reservedBlock: "2001:db8:2a00::1/56" has host bits set; the network is 2001:db8:2a00::/56. Fix: re-run apply so it records the provider facts again`,
  ]);
});

test('checkFacts: a device without a public IPv6 address, or with a malformed one, is refused', () => {
  assert.deepEqual(check(oneDevice((f) => (f.devices[0].network.addresses = f.devices[0].network.addresses.filter((a: any) => a.address_family === 4)))), [
    `${FILE}: devices[0].network.addresses: device "dfw-cp-1" has no public IPv6 address. Fix: give the device a public IPv6 address (Equinix Metal: the default /127)`,
  ]);
  assert.deepEqual(check(oneDevice((f) => (f.devices[0].network.addresses[1].public = false))), [
    `${FILE}: devices[0].network.addresses: device "dfw-cp-1" has no public IPv6 address. Fix: give the device a public IPv6 address (Equinix Metal: the default /127)`,
  ]);
  assert.deepEqual(check(oneDevice((f) => (f.devices[0].network.addresses[1].address = '2001:db8:2a00::g'))), [
    `${FILE}: devices[0].network.addresses: "2001:db8:2a00::g" is not an IPv6 address. Fix: re-run apply so it records the provider facts again`,
  ]);
  assert.deepEqual(check(oneDevice((f) => (f.devices[0].network.addresses[1].gateway = '198.51.100.1'))), [
    `${FILE}: devices[0].network.addresses: "198.51.100.1" is an IPv4 address; native6 is IPv6-only. Fix: re-run apply so it records the provider facts again`,
  ]);
});

test('checkFacts: a device with only IPv4 BGP neighbours has no IPv6 session', () => {
  assert.deepEqual(check(oneDevice((f) => (f.devices[0].bgp_neighbors[0].address_family = 4))), [
    `${FILE}: devices[0].bgp_neighbors: device "dfw-cp-1" has no IPv6 BGP neighbor. Fix: enable an IPv6 BGP session on the device (Pulumi: equinix-metal BgpSession, addressFamily ipv6)`,
  ]);
  assert.deepEqual(check(oneDevice((f) => (f.devices[0].bgp_neighbors = []))), [
    `${FILE}: devices[0].bgp_neighbors: device "dfw-cp-1" has no IPv6 BGP neighbor. Fix: enable an IPv6 BGP session on the device (Pulumi: equinix-metal BgpSession, addressFamily ipv6)`,
  ]);
});

test('checkFacts: the IPv6 session is checked field by field; IPv4 sessions are not', () => {
  const v4 = {
    address_family: 4,
    customer_as: 1,
    customer_ip: '198.51.100.10',
    md5_enabled: false,
    multihop: false,
    peer_as: 2,
    peer_ips: ['not an address'],
    routes_in: [],
    routes_out: [],
  };
  assert.deepEqual(
    check(
      oneDevice((f) => {
        const n = f.devices[0].bgp_neighbors[0];
        f.devices[0].bgp_neighbors = [v4, n];
        n.customer_as = 64999;
        n.peer_ips = ['fc00::e', '169.254.255.1', 'fc00::g'];
        n.routes_in = [{ route: 'not a prefix', exact: false }, { route: '2001:db8:2a00::/56', exact: true }];
      }),
    ),
    [
      `${FILE}: devices[0].bgp_neighbors[1].customer_as: is 64999, the spec's localASN is 65000. Fix: set spec.network.localASN in infra/dfw.yaml to 64999, or change the project's BGP config`,
      `${FILE}: devices[0].bgp_neighbors[1].peer_ips[1]: "169.254.255.1" is an IPv4 address; native6 is IPv6-only. Fix: re-run apply so it records the provider facts again`,
      `${FILE}: devices[0].bgp_neighbors[1].peer_ips[2]: "fc00::g" is not an IPv6 address. Fix: re-run apply so it records the provider facts again`,
      // An unreadable route accepts nothing; an exact route accepts only itself.
      `${FILE}: devices[0].bgp_neighbors[1].routes_in: the provider does not accept the pod pool 2001:db8:2a00:8::/64 from "dfw-cp-1". Fix: announce only inside the project's reserved block (check spec.network.block)`,
      `${FILE}: devices[0].bgp_neighbors[1].routes_in: the provider does not accept the Service range 2001:db8:2a00:1::/112 from "dfw-cp-1". Fix: announce only inside the project's reserved block (check spec.network.block)`,
      `${FILE}: devices[0].bgp_neighbors[1].routes_in: the provider does not accept the LoadBalancer range 2001:db8:2a00:2::/120 from "dfw-cp-1". Fix: announce only inside the project's reserved block (check spec.network.block)`,
      `${FILE}: devices[0].bgp_neighbors[1].routes_in: the provider does not accept the external IP range 2001:db8:2a00:3::/120 from "dfw-cp-1". Fix: announce only inside the project's reserved block (check spec.network.block)`,
    ],
  );
  // Exact routes for each announced range are accepted.
  assert.deepEqual(
    check(
      oneDevice((f) => {
        f.devices[0].bgp_neighbors[0].routes_in = ['2001:db8:2a00:8::/64', '2001:db8:2a00:1::/112', '2001:db8:2a00:2::/120', '2001:db8:2a00:3::/120'].map((route) => ({ route, exact: true }));
      }),
    ),
    [],
  );
  // Without optional ranges in the spec, only the pod pool and the Service range must be accepted.
  const bare = dfwSpecText.replace(/\n {4}loadBalancerRangeSize: 120\n {4}externalIPRangeSize: 120/, '');
  assert.notEqual(bare, dfwSpecText);
  assert.deepEqual(
    check(
      oneDevice((f) => {
        f.devices[0].bgp_neighbors[0].routes_in = ['2001:db8:2a00:8::/64', '2001:db8:2a00:1::/112'].map((route) => ({ route, exact: true }));
      }),
      bare,
    ),
    [],
  );
});

test('checkFacts: a requested block (blockSize) is taken from the facts', () => {
  const requested = dfwSpecText.replace('block: 2001:db8:2a00::/56', 'blockSize: 56');
  assert.notEqual(requested, dfwSpecText);
  assert.deepEqual(check(oneDevice((f) => (f.reservedBlock = '2001:db8:2a00::/56')), requested), []);
  const plan = planWithFacts(dfwSpec(requested), decoded(oneDevice()));
  assert.equal(plan.resolved, true);
  assert.equal(plan.pods.pool.address.toString(16), '20010db82a0000080000000000000000');
  // Without facts the plan stays relative to ::/56.
  assert.equal(planWithFacts(dfwSpec(requested), undefined).resolved, false);
});

test('checkFacts: a block learned from the provider holds its devices and has the size the spec asks for', () => {
  const requested = dfwSpecText.replace('block: 2001:db8:2a00::/56', 'blockSize: 56');
  assert.deepEqual(check(oneDevice((f) => (f.reservedBlock = '2001:db8:2a00::/48')), requested), [
    `${FILE}: reservedBlock: the provider assigned 2001:db8:2a00::/48, a /48, but infra/dfw.yaml asks for a /56 (spec.network.blockSize). Fix: set spec.network.blockSize in infra/dfw.yaml to 48, or name the block: block: 2001:db8:2a00::/48`,
  ]);
  // The plan stays relative to a block of the wrong size: nothing is carved from it.
  assert.equal(planWithFacts(dfwSpec(requested), decoded(oneDevice((f) => (f.reservedBlock = '2001:db8:2a00::/48')))).resolved, false);
  // Facts that disagree with themselves: a device numbered outside the block recorded beside it.
  const elsewhere = oneDevice((f) => {
    f.reservedBlock = '2001:db8:2b00::/56';
    f.devices[0].bgp_neighbors[0].routes_in = [{ route: '2001:db8:2b00::/56', exact: false }];
  });
  assert.deepEqual(check(elsewhere, requested), [
    `${FILE}: devices[0].network.addresses: device "dfw-cp-1" got 2001:db8:2a00::3, outside the reserved block 2001:db8:2b00::/56. Fix: re-run apply so it records the provider facts again`,
  ]);
  assert.deepEqual(check(oneDevice(), requested), []);
});
