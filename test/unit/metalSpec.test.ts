/**
 * The metal platform's spec (lib/cluster/decodeInventory.ts and the metal
 * rules): the machines and routers a cluster already has, read strictly.
 * infra/colo.yaml decodes to its pools, plan and devices; every bad input
 * the issue names (a machine outside its uplink, two machines with one
 * address, a router with the cluster's ASN, a missing host key fingerprint,
 * no control plane) and the others the decoder knows is reported at its
 * field and line, with the fix; the other platforms refuse the fields.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { loadCluster } from '../../lib/platforms/load.js';
import { metalDevices } from '../../lib/platforms/metal/devices.js';
import { listedDiscovery } from '../../lib/platforms/metal/platform.js';
import { formatAddress } from '../../lib/net/ipv6.js';
import { formatProblem, type Problem } from '../../lib/cluster/problems.js';
import { networkSets } from '../../lib/render/calico.js';
import { clusterSources, hostFirewall } from '../../lib/render/hostFirewall.js';

const COLO = readFileSync(new URL('../../infra/colo.yaml', import.meta.url), 'utf8');

/** The text with `from` replaced (exactly once) by `to`. */
function edit(text: string, from: string, to: string): string {
  const at = text.indexOf(from);
  assert.ok(at >= 0 && text.indexOf(from, at + 1) < 0, `"${from}" is not in the text exactly once`);
  return text.slice(0, at) + to + text.slice(at + from.length);
}
/** The 1-based line of the first occurrence of `needle` in `text`. */
const lineOf = (text: string, needle: string) => text.slice(0, text.indexOf(needle)).split('\n').length;

function problems(text: string): Problem[] {
  const r = loadCluster('infra/colo.yaml', text);
  assert.equal(r.ok, false, 'the spec was accepted');
  return r.ok ? [] : r.problems;
}
function one(text: string, field: string, line: number, message: RegExp, fix: RegExp): void {
  const p = problems(text);
  assert.equal(p.length, 1, p.map((x) => `${x.field}: ${x.message}`).join('\n'));
  assert.equal(p[0]!.field, field);
  assert.equal(p[0]!.line, line);
  assert.match(p[0]!.message, message);
  assert.match(p[0]!.fix, fix);
}

test('infra/colo.yaml: the pools, the machines and their addresses, the devices and the discovery come from the spec', () => {
  const r = loadCluster('infra/colo.yaml', COLO);
  assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.problems));
  const { spec, plan } = r;
  assert.equal(spec.nodeAddresses, 'given');
  assert.deepEqual(spec.controlPlane, { count: 3, plan: 'metal' });
  assert.deepEqual(spec.workers, [{ name: 'general', count: 2, plan: 'metal' }]);
  assert.deepEqual(spec.resolvers, ['2001:db8:53::1', '192.0.2.53']);
  // Control planes first, each pool in the spec's order; the spec's names; the uplink's gateway.
  assert.deepEqual(
    plan.machines.map((m) => [m.name, m.role, m.pool, m.index, formatAddress(m.link!.address), formatAddress(m.link!.gateway), m.link!.prefix.length]),
    [
      ['colo-a1', 'control-plane', 'cp', 1, '2001:db8:7:a::11', '2001:db8:7:a::1', 64],
      ['colo-a2', 'control-plane', 'cp', 2, '2001:db8:7:a::12', '2001:db8:7:a::1', 64],
      ['colo-b1', 'control-plane', 'cp', 3, '2001:db8:7:b::11', '2001:db8:7:b::1', 64],
      ['colo-a3', 'worker', 'general', 1, '2001:db8:7:a::13', '2001:db8:7:a::1', 64],
      ['colo-b2', 'worker', 'general', 2, '2001:db8:7:b::12', '2001:db8:7:b::1', 64],
    ],
  );
  const b2 = spec.inventory!.machines.find((m) => m.name === 'colo-b2')!;
  assert.deepEqual(b2.ssh, { host: '2001:db8:7:b::12', port: 22, user: 'admin', hostKey: 'SHA256:arWglClPp8F52bb5Me6v5MSIROkqKKb8xC08PPUQ9iY' });
  const rackA = spec.inventory!.uplinks[0]!;
  assert.deepEqual(rackA.routers.map((x) => [x.name, x.asn, x.bfd, x.timers]), [
    // BGP's own timers stay short with BFD: the hold time still finds a dead node whose router runs no BFD.
    ['tor-a1', 65010, { intervalMs: 100, multiplier: 3 }, { keepalive: 3, hold: 9 }],
    ['tor-a2', 65010, { intervalMs: 100, multiplier: 3 }, { keepalive: 3, hold: 9 }],
  ]);
  assert.deepEqual(spec.inventory!.uplinks[1]!.routers[0]!.timers, { keepalive: 3, hold: 9 });

  const devices = metalDevices(spec, plan);
  const a1 = devices[0]!;
  assert.equal(a1.hostname, 'colo-a1');
  assert.deepEqual(a1.network.addresses, [
    { address_family: 6, public: true, management: true, address: '2001:db8:7:a::11', gateway: '2001:db8:7:a::1', network: '2001:db8:7:a::', cidr: 64 },
    { address_family: 4, public: true, management: false, address: '192.0.2.11', gateway: '192.0.2.1', network: '192.0.2.0', netmask: '255.255.255.192', cidr: 26 },
  ]);
  // One neighbour entry per router ASN of the uplink, on the link (not multihop), MD5 on.
  assert.deepEqual(
    a1.bgp_neighbors.map((n) => [n.peer_as, n.peer_ips, n.multihop, n.md5_enabled, n.customer_as]),
    [[65010, ['2001:db8:7:a::2', '2001:db8:7:a::3'], false, true, 65000]],
  );
  assert.deepEqual(devices[4]!.bgp_neighbors.map((n) => [n.peer_as, n.peer_ips]), [[65011, ['2001:db8:7:b::2']]]);

  // The cluster, for Calico's policies and the machines' own firewall: the machines' addresses, not the plan's unused node range.
  const machines = ['2001:db8:7:a::11/128', '2001:db8:7:a::12/128', '2001:db8:7:b::11/128', '2001:db8:7:a::13/128', '2001:db8:7:b::12/128'];
  const cluster = networkSets(spec, plan).find((s) => (s.metadata as { name: string }).name === 'cluster')!;
  assert.deepEqual((cluster.spec as { nets: string[] }).nets, [...machines, '2001:db8:4200:8::/64']);
  assert.deepEqual(clusterSources(spec, plan), ['2001:db8:4200::/48', ...machines]);
  assert.match(hostFirewall(spec, plan), /elements = \{ 2001:db8:4200::\/48, 2001:db8:7:a::11\/128, /);

  const lines = listedDiscovery(spec, { name: 'colo-b2' }).lines;
  assert.ok(lines.includes('addr=2001:db8:7:b::12'));
  assert.ok(lines.includes('gw=2001:db8:7:b::1'));
  assert.ok(lines.includes('peers="2001:db8:7:b::2"'));
  assert.ok(lines.includes('routed='));
});

test('a machine address outside its uplink, or on the gateway or a router, is refused at the address', () => {
  const text = edit(COLO, 'address: 2001:db8:7:a::12', 'address: 2001:db8:7:b::99');
  one(text, 'spec.machines[1].address', lineOf(text, '2001:db8:7:b::99'), /^2001:db8:7:b::99 is outside its uplink rack-a's prefix 2001:db8:7:a::\/64$/, /inside 2001:db8:7:a::\/64, or name the uplink it is on/);
  const gw = edit(COLO, 'address: 2001:db8:7:a::12', 'address: 2001:db8:7:a::1');
  one(gw, 'spec.machines[1].address', lineOf(gw, 'address: 2001:db8:7:a::1\n'), /is the gateway of rack-a/, /own address/);
  const router = edit(COLO, 'address: 2001:db8:7:a::12', 'address: 2001:db8:7:a::3');
  one(router, 'spec.machines[1].address', lineOf(router, '      address: 2001:db8:7:a::3\n      ipv4'), /is a router of rack-a/, /own address/);
});

test('two machines with one address (IPv6 or IPv4) are refused at the second', () => {
  const text = edit(COLO, 'address: 2001:db8:7:a::12', 'address: 2001:db8:7:a::11');
  one(text, 'spec.machines[1].address', lineOf(text, 'address: 2001:db8:7:a::11\n      ipv4: 192.0.2.12'), /^2001:db8:7:a::11 is already machines\[0\]'s address$/, /own address/);
  const v4 = edit(COLO, 'ipv4: 192.0.2.12', 'ipv4: 192.0.2.11');
  one(v4, 'spec.machines[1].ipv4', lineOf(v4, 'ipv4: 192.0.2.11\n      ssh: { hostKey: "SHA256:D0'), /already machines\[0\]'s IPv4 address/, /own IPv4/);
});

test("a router with the cluster's own ASN is refused: the sessions are external", () => {
  const text = edit(COLO, 'asn: 65011', 'asn: 65000');
  one(text, 'spec.uplinks[1].routers[0].asn', lineOf(text, 'asn: 65000'), /^65000 is the cluster's own ASN \(spec\.network\.localASN\): the nodes' sessions with the routers are external BGP$/, /own ASN, or change spec\.network\.localASN/);
});

test('a missing or malformed host key fingerprint is refused, and so is SSH with no ssh section', () => {
  const text = edit(COLO, 'ssh: { hostKey: "SHA256:QeasB60UetXUwmF+w5pNl0YiqlJx/JY5D5gjFfwIU+c" }', 'ssh: { user: root }');
  one(text, 'spec.machines[2].ssh.hostKey', lineOf(text, 'ssh: { user: root }'), /^is required$/, /ssh-keygen -lf \/etc\/ssh\/ssh_host_ed25519_key\.pub/);
  const md5 = edit(COLO, '"SHA256:QeasB60UetXUwmF+w5pNl0YiqlJx/JY5D5gjFfwIU+c"', '"MD5:12:34"');
  one(md5, 'spec.machines[2].ssh.hostKey', lineOf(md5, 'MD5:12:34'), /"MD5:12:34" is not a SHA256 host key fingerprint/, /43 characters after SHA256:/);
  const none = edit(COLO, '      ssh: { hostKey: "SHA256:QeasB60UetXUwmF+w5pNl0YiqlJx/JY5D5gjFfwIU+c" }\n', '');
  one(none, 'spec.machines[2].ssh', lineOf(none, '    - name: colo-b1'), /is required: the apply reaches every machine over SSH/, /ssh: \{hostKey: SHA256:…\}/);
  const v4 = edit(COLO, 'user: admin }', 'user: admin, host: 192.0.2.76 }');
  one(v4, 'spec.machines[4].ssh.host', lineOf(v4, 'host: 192.0.2.76'), /is an IPv4 address: once bootstrapped, the machine's firewall lets SSH in over IPv6 only/, /remove host/);
});

test('no control plane, or an even number of them, is refused at spec.machines', () => {
  let text = COLO;
  for (const n of ['a1', 'a2', 'b1']) text = edit(text, `name: colo-${n}\n      pool: control-plane`, `name: colo-${n}\n      pool: general`);
  one(text, 'spec.machines', lineOf(text, '    - name: colo-a1'), /^has no control plane$/, /"pool: control-plane"/);
  const even = edit(COLO, 'name: colo-a3\n      pool: general', 'name: colo-a3\n      pool: control-plane');
  one(even, 'spec.machines', lineOf(even, '    - name: colo-a1'), /has 4 control planes: etcd keeps quorum through a failure only with an odd count/, /make 3 or 5 of the machines/);
});

test('the counted sections are refused on metal, and the listed ones elsewhere', () => {
  const text = edit(COLO, '  network:\n', '  controlPlane: {count: 3}\n  workers: [{name: general, count: 2}]\n  network:\n');
  const p = problems(text);
  assert.deepEqual(p.map((x) => [x.field, x.line]), [['spec.controlPlane', lineOf(text, 'controlPlane:')], ['spec.workers', lineOf(text, 'workers:')]]);
  assert.match(p[0]!.message, /is not read on metal: the spec lists the machines themselves \(spec\.machines\)/);
  const lab = ['apiVersion: native6.dev/v1alpha1', 'kind: Cluster', 'metadata:', '  name: colo', 'spec:', '  platform: lab', '  kubernetesVersion: v1.35.4', '  network:', '    block: 2001:db8:100::/56', '  resolvers: [2001:db8:53::1]', ''].join('\n');
  one(lab, 'spec.resolvers', 10, /is read only where the spec lists the machines \(platform: metal\): lab makes its own/, /remove spec\.resolvers/);
  const metro = edit(COLO, '  platform: metal\n', '  platform: metal\n  metro: da\n');
  one(metro, 'spec.metro', lineOf(metro, 'metro: da'), /is not read on metal/, /remove spec\.metro/);
});

test('NAT64 (the default) needs every machine to have an IPv4 address; an IPv4 must be on its uplink\'s IPv4 link', () => {
  const text = edit(COLO, '      ipv4: 192.0.2.13\n', '');
  one(text, 'spec.machines[3]', lineOf(text, '    - name: colo-a3'), /has no ipv4, but spec\.egress\.ipv4 is nat64 \(the platform's default\)/, /or set spec\.egress\.ipv4: none/);
  assert.ok(loadCluster('infra/colo.yaml', `${text}  egress:\n    ipv4: none\n`).ok);
  const outside = edit(COLO, 'ipv4: 192.0.2.13', 'ipv4: 192.0.2.200');
  one(outside, 'spec.machines[3].ipv4', lineOf(outside, '192.0.2.200'), /192\.0\.2\.200 is outside uplink rack-a's IPv4 prefix 192\.0\.2\.0\/26/, /inside 192\.0\.2\.0\/26/);
});

test('SSH must be let in from somewhere: metal needs spec.policy.trustedSources', () => {
  const text = edit(COLO, '  policy:\n    trustedSources:\n      # The operators\' and the self-hosted runner\'s network: SSH comes from here.\n      - 2001:db8:ff::/64\n', '');
  one(text, 'spec.policy.trustedSources', lineOf(text, '  platform: metal'), /is empty, but apply reaches metal machines over SSH/, /self-hosted runner/);
});

test('uplinks and routers: names, prefixes, timers and BFD read strictly', () => {
  const dupRouter = edit(COLO, 'name: tor-b1', 'name: tor-a1');
  one(dupRouter, 'spec.uplinks[1].routers[0].name', lineOf(dupRouter, 'name: tor-a1\n          address: 2001:db8:7:b::2'), /"tor-a1" is already the name of uplinks\.0\.routers\.0/, /routers\/<name>/);
  const hold = edit(COLO, 'timers: { keepalive: 3, hold: 9 }', 'timers: { keepalive: 1, hold: 2 }');
  one(hold, 'spec.uplinks[1].routers[0].timers.hold', lineOf(hold, 'hold: 2'), /a hold time of 2 s: BGP allows 0 or at least 3/, /add bfd/);
  const ka = edit(COLO, 'timers: { keepalive: 3, hold: 9 }', 'timers: { keepalive: 4, hold: 9 }');
  one(ka, 'spec.uplinks[1].routers[0].timers.keepalive', lineOf(ka, 'keepalive: 4'), /a keepalive of 4 s with a hold time of 9 s: at most a third of it/, /use 3 or less/);
  const bfd = edit(COLO, 'bfd: { intervalMs: 100, multiplier: 3 }\n        - name: tor-a2', 'bfd: { intervalMs: 5, multiplier: 3 }\n        - name: tor-a2');
  one(bfd, 'spec.uplinks[0].routers[0].bfd.intervalMs', lineOf(bfd, 'intervalMs: 5'), /5 is out of range \(10 to 60000\)/, /intervalMs × multiplier/);
  const overlap = edit(COLO, 'prefix: 2001:db8:7:b::/64', 'prefix: 2001:db8:7::/48');
  const p = problems(overlap);
  assert.ok(p.some((x) => x.field === 'spec.uplinks[1].prefix' && /overlaps uplinks\[0\] \(rack-a, 2001:db8:7:a::\/64\)/.test(x.message)), JSON.stringify(p));
  const unknown = edit(COLO, 'uplink: rack-b\n      address: 2001:db8:7:b::12', 'uplink: rack-c\n      address: 2001:db8:7:b::12');
  one(unknown, 'spec.machines[4].uplink', lineOf(unknown, 'rack-c'), /"rack-c" is not an uplink of spec\.uplinks/, /use one of: rack-a, rack-b/);
});

test('resolvers are required on metal, and each must be an address', () => {
  const text = edit(COLO, '  resolvers:\n    - 2001:db8:53::1\n    - 192.0.2.53\n', '');
  one(text, 'spec.resolvers', lineOf(text, '  platform: metal'), /is required on metal/, /\/etc\/resolv\.conf/);
  const bad = edit(COLO, '    - 192.0.2.53\n', '    - dns.example\n');
  one(bad, 'spec.resolvers[1]', lineOf(bad, 'dns.example'), /"dns\.example" is not an IPv6 or IPv4 address/, /resolv\.conf/);
});

test("what metal has no use for is refused at its line, saying why, with the fix; spec.metro is the platform's name", () => {
  const r = loadCluster('infra/colo.yaml', COLO);
  assert.ok(r.ok);
  assert.equal(r.spec.metro, 'metal');
  const said = (from: string, to: string) => problems(edit(COLO, from, to)).map(formatProblem);
  const gitops = '  gitops:\n    url: https://github.com/example/native6-clusters\n';
  assert.deepEqual(said('  platform: metal\n', '  platform: metal\n  metro: da\n'), [
    'infra/colo.yaml:13:10: spec.metro: is not read on metal: the machines are where they are (spec.uplinks says which links). Fix: remove spec.metro',
  ]);
  assert.deepEqual(said('    block: 2001:db8:4200::/48\n', '    blockSize: 56\n'), [
    'infra/colo.yaml:16:16: spec.network.blockSize: metal has no provider to assign a block. Fix: write block: with the prefix routed to you, e.g. 2001:db8:4200::/48',
  ]);
  assert.deepEqual(said('  platform: metal\n', '  platform: metal\n  dns: {zone: example.com}\n'), [
    'infra/colo.yaml:13:3: spec.dns: is for Equinix Metal clusters: metal has no DNS provider. Fix: remove spec.dns; give the API ClusterIP a name in your own zone if you want one (npm run plan shows it)',
  ]);
  assert.deepEqual(said('  platform: metal\n', '  platform: metal\n  sshKeys: [a]\n'), [
    'infra/colo.yaml:13:3: spec.sshKeys: is for Equinix Metal clusters: metal installs no keys on your machines (it logs in with the key of the Pulumi config native6:sshPrivateKey). Fix: remove spec.sshKeys',
  ]);
  assert.deepEqual(said(gitops, ''), [
    'infra/colo.yaml:12:3: spec.gitops: is required on metal. Fix: add "gitops: {url: https://<git host>/<owner>/<repo>}", the repository Flux reconciles from',
  ]);
  assert.deepEqual(said(gitops, '  gitops: {branch: main}\n'), ['infra/colo.yaml:85:11: spec.gitops.url: is required on metal. Fix: add the repository URL Flux reconciles from']);
  assert.deepEqual(said(gitops, '  gitops: {url: http://git.example/x}\n'), [
    'infra/colo.yaml:85:17: spec.gitops.url: is http://, cleartext: anyone on the way between the cluster and the git host could change what Flux applies, as cluster-admin. Fix: use the https:// URL of the repository (or ssh:// with spec.gitops.secretRef)',
  ]);
});
