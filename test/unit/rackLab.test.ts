/**
 * The rack lab's pure half (lib/platforms/lab/rack): its spec decodes as a
 * metal spec, its topology (uplink, routers, who holds the gateways, the
 * machines' single link), the routers' base and upstream configuration,
 * the password put where the rendered file's placeholder is and nowhere
 * else; and the metal platform's per-machine boot options (the stack's
 * native6:bootOptions), decoded strictly.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeBootOptions } from '../../lib/platforms/metal/bootOptions.js';
import { rackBgpPassword } from '../../lib/platforms/lab/rack/phases.js';
import { rackRouterBase, upstreamConfig, withPassword } from '../../lib/platforms/lab/rack/routers.js';
import { rackSpecText, UNREAD_HOST_KEY } from '../../lib/platforms/lab/rack/spec.js';
import { rackRouters, rackTopology } from '../../lib/platforms/lab/rack/topology.js';
import { loadCluster } from '../../lib/platforms/load.js';

function rack(hostKeys?: Map<string, string>) {
  const loaded = loadCluster('infra/rk.yaml', rackSpecText({ name: 'rk', controlPlanes: 1, workers: 2, ...(hostKeys ? { hostKeys } : {}) }));
  if (!loaded.ok) assert.fail(JSON.stringify(loaded.problems));
  const { spec, plan } = loaded;
  return { spec, plan, t: rackTopology(spec, plan, spec.inventory!) };
}

test('the rack spec: a metal spec of three lab machines, their host keys as read', () => {
  const { spec } = rack(new Map([['rk-cp-1', 'SHA256:YZcXGLYeCCAp36uLPi7efuvEzHygezth8IyPFCr88b8']]));
  assert.equal(spec.platform, 'metal');
  assert.deepEqual(spec.inventory!.machines.map((m) => [m.name, m.pool, m.ssh.hostKey]), [
    ['rk-cp-1', 'cp', 'SHA256:YZcXGLYeCCAp36uLPi7efuvEzHygezth8IyPFCr88b8'],
    ['rk-general-1', 'general', UNREAD_HOST_KEY],
    ['rk-general-2', 'general', UNREAD_HOST_KEY],
  ]);
});

test('the rack topology: one bridge, two routers, the first holding the gateways; machines on one link with their /64', () => {
  const { t } = rack();
  const routers = rackRouters(t);
  assert.deepEqual(routers.map((r) => [r.name, r.ns, r.peerIP, r.asn, r.uplink.address, r.uplink.peer]), [
    ['tor-1', 'n6-rk_tor-1', '2001:db8:7a::2', 65010, '2001:db8:ffff:4::', '2001:db8:ffff:4::1'],
    ['tor-2', 'n6-rk_tor-2', '2001:db8:7a::3', 65010, '2001:db8:ffff:4::2', '2001:db8:ffff:4::3'],
  ]);
  assert.deepEqual(routers[0]!.holds, { gateway: '2001:db8:7a::1', ipv4Gateway: '198.51.100.1' });
  assert.deepEqual(routers[1]!.holds, {});
  assert.deepEqual(routers.map((r) => r.uplinkV4), [{ address: '192.0.2.224', peer: '192.0.2.225' }, { address: '192.0.2.226', peer: '192.0.2.227' }]);
  assert.equal(t.interRouter, undefined);
  assert.equal(t.rack!.switchNs, 'n6-rk_sw');
  assert.deepEqual(t.machines.map((m) => [m.ns, m.address, m.prefixLength, m.links, m.gateway, m.ipv4, m.uplink]), [
    ['n6-rk-cp-1', '2001:db8:7a::11', 64, ['eth0'], '2001:db8:7a::1', { address: '198.51.100.17', gateway: '198.51.100.1', prefixLength: 25 }, 'row-a'],
    ['n6-rk-general-1', '2001:db8:7a::21', 64, ['eth0'], '2001:db8:7a::1', { address: '198.51.100.33', gateway: '198.51.100.1', prefixLength: 25 }, 'row-a'],
    ['n6-rk-general-2', '2001:db8:7a::22', 64, ['eth0'], '2001:db8:7a::1', { address: '198.51.100.34', gateway: '198.51.100.1', prefixLength: 25 }, 'row-a'],
  ]);
  // Interface names fit the kernel's 15 characters.
  for (const n of [...t.machines.map((m) => m.routerIfname), ...routers.map((r) => r.lan.switchIfname), ...t.rack!.uplinks.map((u) => u.bridge)]) assert.ok(n.length <= 15, n);
});

test('the rack topology refuses what the lab cannot build, naming the field', () => {
  const text = rackSpecText({ name: 'rk', controlPlanes: 1, workers: 0 }).replace('198.51.100.0/25, gateway: 198.51.100.1', '192.0.2.128/25, gateway: 192.0.2.129').replace('ipv4: 198.51.100.17', 'ipv4: 192.0.2.145');
  const loaded = loadCluster('infra/rk.yaml', text);
  if (!loaded.ok) assert.fail(JSON.stringify(loaded.problems));
  const { spec, plan } = loaded;
  assert.throws(() => rackTopology(spec, plan, spec.inventory!), /infra\/rk\.yaml: spec\.uplinks \(row-a\)\.ipv4\.prefix 192\.0\.2\.128\/25 is the lab internet's 192\.0\.2\.0\/24: use 198\.51\.100\.0\/24 or 203\.0\.113\.0\/24/);
});

test("the routers' own part: an upstream session with policies both ways, the uplink announced; the upstream sends defaults only", () => {
  const { t } = rack();
  const [r1] = rackRouters(t);
  const base = rackRouterBase(t, r1!);
  assert.match(base.bgpd, /^router bgp 65010$/m);
  assert.match(base.bgpd, /^ neighbor 2001:db8:ffff:4::1 remote-as 64999$/m);
  assert.match(base.bgpd, /^  network 2001:db8:7a::\/64$/m);
  assert.match(base.bgpd, /^ipv6 prefix-list N6-LAB-UPSTREAM-OUT seq 10 permit 2001:db8:200::\/56 le 128$/m);
  assert.match(base.bgpd, /^  neighbor 2001:db8:ffff:4::1 route-map N6-LAB-UPSTREAM-IN in$/m);
  const up = upstreamConfig(t);
  assert.match(up.bgpd, /^ neighbor 2001:db8:ffff:4:: remote-as 65010$/m);
  assert.match(up.bgpd, /^ neighbor 2001:db8:ffff:4::2 remote-as 65010$/m);
  assert.match(up.bgpd, /^  neighbor 2001:db8:ffff:4::2 default-originate$/m);
  assert.match(up.bgpd, /^route-map N6-LAB-TO-RACK deny 10$/m);
  assert.match(up.zebra, /^ set src 2001:db8:ffff:1::1$/m);
});

test('the password goes where the placeholder is and nowhere else; a file without one is refused', () => {
  const rendered = 'a ${N6_BGP_PASSWORD} b ${N6_BGP_PASSWORD}\nc $HOME ${OTHER}\n';
  assert.equal(withPassword(rendered, 'pw-1'), 'a pw-1 b pw-1\nc $HOME ${OTHER}\n');
  assert.throws(() => withPassword('no placeholder', 'pw'), /has no \$\{N6_BGP_PASSWORD\}/);
  assert.throws(() => withPassword(rendered, 'with space'), /at most 80 characters without spaces/);
  assert.throws(() => withPassword(rendered, 'x'.repeat(81)), /at most 80 characters/);
  assert.equal(typeof rackBgpPassword, 'function');
});

test('native6:bootOptions: per machine, decoded strictly', () => {
  const machines = ['m1', 'm2'];
  assert.equal(decodeBootOptions(undefined, machines).size, 0);
  const o = decodeBootOptions(
    JSON.stringify({ m1: { packages: 'image', joinTokenRenewal: { afterBoot: '10s', every: '30s' }, nat64Pool: '203.0.113.128/25', kubeadm: { init: { criSocket: 'unix:///run/x.sock', skipPhases: ['preflight'], sharedKernel: true }, join: { skipPhases: ['preflight', 'control-plane-join/mark-control-plane'] } } } }),
    machines,
  );
  assert.deepEqual(o.get('m1'), { packages: 'image', kubeadm: { init: { criSocket: 'unix:///run/x.sock', skipPhases: ['preflight'], sharedKernel: true }, join: { skipPhases: ['preflight', 'control-plane-join/mark-control-plane'] } }, joinTokenRenewal: { afterBoot: '10s', every: '30s' }, nat64Pool: '203.0.113.128/25' });
  assert.equal(o.get('m2'), undefined);
  const bad: Array<[string, RegExp]> = [
    ['{', /native6:bootOptions is not JSON/],
    ['[]', /must be an object of machine name -> options/],
    ['{"m3": {}}', /"m3" is not a machine of the spec \(m1, m2\)/],
    ['{"m1": {"packages": "yum"}}', /"m1"\.packages must be "apt" or "image"/],
    ['{"m1": {"pakages": "image"}}', /"m1" has "pakages", which is not one of packages, kubeadm, joinTokenRenewal, nat64Pool/],
    ['{"m1": {"kubeadm": {"init": {"skipPhases": "preflight"}}}}', /"m1"\.kubeadm\.init\.skipPhases must be a list of kubeadm phase names/],
    ['{"m1": {"kubeadm": {"reset": {}}}}', /"m1"\.kubeadm has "reset"/],
    ['{"m1": {"joinTokenRenewal": {"afterBoot": "soon", "every": "6h"}}}', /"m1"\.joinTokenRenewal\.afterBoot "soon" is not a systemd time span/],
    ['{"m1": {"kubeadm": {"join": {"sharedKernel": "yes"}}}}', /"m1"\.kubeadm\.join\.sharedKernel must be true or false/],
  ];
  for (const [json, message] of bad) assert.throws(() => decodeBootOptions(json, machines), message, json);
});
