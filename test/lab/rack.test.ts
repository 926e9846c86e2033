/**
 * Lab tier, the rack lab's first half (a `platform: metal` spec of lab
 * machines, lib/platforms/lab/rack): the machines as their owner has them
 * before any apply. One uplink (a bridge) with two routers that run FRR with
 * the cluster's rendered configuration (clusters/<c>/routers/<r>.frr.conf,
 * installed as its README says) under their own base (an upstream session
 * with the lab's internet), a control plane and a worker on it with the
 * addresses the spec lists, each with its own sshd and host key.
 *
 * Shown with packets and the daemons' own state: both routers' upstream
 * sessions Established and the upstream's default in their BGP tables
 * (what the rendered default-originate waits for); the upstream has the
 * uplink's prefix over both routers (ECMP); the rendered sessions with the
 * machines are configured (the peer group, each machine a neighbour, MD5)
 * and not up (no BGP speaker on the machines before apply); a machine
 * reaches the internet over its static default and IPv4; the host logs in
 * over SSH through the lab (host link, upstream, a router, the uplink),
 * the host key pinned by the fingerprint the lab read; the same key after
 * sshd is killed. Everything it makes is removed in `finally`.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createRunner } from '../../lib/exec/run.js';
import { labDown, runLabPhases } from '../../lib/platforms/lab/lab.js';
import { listNamespaces } from '../../lib/platforms/lab/machine/netns.js';
import { mountNamespacePids } from '../../lib/platforms/lab/machine/machine.js';
import { signal } from '../../lib/platforms/lab/machine/process.js';
import { RACK_MACHINE_PHASES, RACK_NETWORK_PHASES, operatorKey, rackHostKeys } from '../../lib/platforms/lab/rack/phases.js';
import { rackRouters } from '../../lib/platforms/lab/rack/topology.js';
import { kernelRoutes, nextHops } from '../../lib/platforms/lab/verify/probes.js';
import { renderRack } from '../../lib/workflows/rackLab.js';
import { needRoot } from '../prerequisites.js';

const ROOT = process.cwd();
const CLUSTER = 'rk';

const vtyshJson = (ns: string, command: string) => {
  const out = execFileSync('vtysh', ['-N', ns, '-c', command], { encoding: 'utf8' });
  return JSON.parse(out.slice(out.indexOf('{'))) as Record<string, unknown>;
};

test('rack lab: rendered router configuration under FRR, an upstream, machines on their uplink with their own sshd', { timeout: 600_000 }, async () => {
  needRoot();
  const runner = createRunner();
  const checkout = mkdtempSync(join(tmpdir(), 'n6-rack-'));
  try {
    const ctx = renderRack({ codeRoot: ROOT, dir: checkout, name: CLUSTER, controlPlanes: 1, workers: 1 });
    const t = ctx.topology;
    const reports = await runLabPhases(ctx, [...RACK_NETWORK_PHASES.filter((p) => p.name !== 'internet services'), ...RACK_MACHINE_PHASES], (p) => console.log(`# ${p.name}: ${p.note}`));
    assert.equal(reports.length, 5);

    // The routers: upstream up, its default in their BGP tables; the rendered sessions configured.
    const routers = rackRouters(t);
    assert.equal(routers.length, 2);
    const machines = t.machines.map((m) => m.address);
    let upstreamUp = false;
    for (let i = 0; i < 60 && !upstreamUp; i++) {
      upstreamUp = routers.every((r) => (vtyshJson(r.ns, 'show bgp ipv6 unicast ::/0 json').paths as unknown[] | undefined)?.length === 1);
      if (!upstreamUp) await new Promise((res) => setTimeout(res, 1000));
    }
    assert.ok(upstreamUp, "both routers have the upstream's default in their BGP table");
    for (const r of routers) {
      const peers = (vtyshJson(r.ns, 'show bgp ipv6 unicast summary json').peers ?? {}) as Record<string, { state: string }>;
      assert.equal(peers[r.uplink.peer]?.state, 'Established', `${r.name}: the upstream session`);
      for (const a of machines) assert.ok(peers[a] && peers[a].state !== 'Established', `${r.name}: a session with ${a} configured, not up before apply (${peers[a]?.state})`);
      const running = execFileSync('vtysh', ['-N', r.ns, '-c', 'show running-config'], { encoding: 'utf8' });
      assert.match(running, new RegExp(`neighbor N6-${CLUSTER}-row-a peer-group`));
      assert.match(running, new RegExp(`neighbor N6-${CLUSTER}-row-a password \\S+`));
      assert.doesNotMatch(running, /\$\{N6_BGP_PASSWORD\}/, 'the placeholder was replaced');
      assert.match(running, /neighbor N6-rk-row-a default-originate route-map N6-rk-HAS-DEFAULT/);
    }
    // The upstream: the uplink's prefix over both routers.
    const uplink = (await kernelRoutes(runner, t.internet.ns)).find((x) => x.dst === '2001:db8:7a::/64');
    // (FRR gives the link-local next hop of a directly connected eBGP peer: the links name the routers.)
    assert.equal(nextHops(uplink).length, 2, 'the uplink through both routers (ECMP)');
    assert.deepEqual((uplink?.nexthops ?? []).map((h) => h.dev).sort(), routers.map((r) => `t${r.index}`).sort());

    // A machine before apply: its static default and IPv4 reach the internet.
    const m0 = t.machines[0]!;
    assert.equal(spawnSync('ip', ['netns', 'exec', m0.ns, 'ping', '-6', '-c', '1', '-W', '2', t.internet.client]).status, 0, 'IPv6 to the internet');
    assert.equal(spawnSync('ip', ['netns', 'exec', m0.ns, 'ping', '-4', '-c', '1', '-W', '2', t.internet.clientV4]).status, 0, 'IPv4 to the internet');

    // SSH from the host, through the lab, the host key pinned by the fingerprint the lab read.
    const keys = await rackHostKeys(ctx);
    const key = operatorKey(ctx);
    const scan = execFileSync('ssh-keyscan', ['-t', 'ed25519', m0.address], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const knownHosts = join(checkout, 'known_hosts');
    writeFileSync(knownHosts, `${scan}\n`);
    const seen = execFileSync('ssh-keygen', ['-lf', knownHosts], { encoding: 'utf8' }).split(' ')[1];
    assert.equal(seen, keys.get(m0.machine.name));
    const ssh = (command: string) =>
      execFileSync('ssh', ['-i', key.file, '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'ConnectTimeout=5', `root@${m0.address}`, command], { encoding: 'utf8' }).trim();
    assert.equal(ssh('hostname -I >/dev/null; ip -6 -o addr show dev eth0 scope global | grep -c 2001:db8:7a::11/64'), '1');

    // Power cut of its sshd: the same host key comes back (it is on the machine's disk).
    for (const pid of mountNamespacePids(m0.ns)) signal(pid, 'SIGKILL');
    await runLabPhases(ctx, RACK_MACHINE_PHASES, () => {});
    assert.equal((await rackHostKeys(ctx)).get(m0.machine.name), keys.get(m0.machine.name));
  } finally {
    const removed = await labDown(runner, checkout, CLUSTER);
    console.log(`# removed ${removed.length} namespaces`);
    rmSync(checkout, { recursive: true, force: true });
  }
  assert.deepEqual(await listNamespaces(runner, `n6-${CLUSTER}`), [], 'no namespace left');
});
