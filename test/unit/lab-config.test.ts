/**
 * The lab's pure parts: topology numbering and names, the routers' FRR
 * configuration (goldens), and the
 * idempotence of the namespace machinery (with a recording runner).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Runner, RunOptions, RunResult } from '../../lib/exec/run.js';
import { routerConfig, multipathLimit } from '../../lib/platforms/lab/provider/frr.js';
import { ensureVeth } from '../../lib/platforms/lab/machine/netns.js';
import { allNamespaces, labTopology } from '../../lib/platforms/lab/topology.js';
import { loadCluster } from '../../lib/platforms/load.js';
import { assertGolden } from '../golden.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

function lab() {
  const loaded = loadCluster('infra/lab.yaml', readFileSync(`${root}infra/lab.yaml`, 'utf8'));
  assert.ok(loaded.ok);
  if (!loaded.ok) throw new Error('unreachable');
  return loaded;
}

const passwords = (names: string[]) => new Map(names.map((n, i) => [n, `test-password-${i}`]));

test('topology: namespaces, interface names and addresses', () => {
  const { spec, plan } = lab();
  const t = labTopology(spec, plan);
  assert.deepEqual(allNamespaces(t), ['n6-lab_inet', 'n6-lab_r1', 'n6-lab_r2', 'n6-lab-cp-1', 'n6-lab-cp-2', 'n6-lab-cp-3', 'n6-lab-general-1', 'n6-lab-general-2']);
  for (const m of t.machines) assert.ok(m.routerIfname.length <= 15, m.routerIfname);
  assert.equal(new Set(t.machines.map((m) => m.routerIfname)).size, t.machines.length);
  assert.deepEqual(t.routers.map((r) => r.peerIP), ['2001:db8:ffff::e', '2001:db8:ffff::f']);
  assert.equal(t.machines[0]!.address, '2001:db8:100::3');
  assert.equal(t.machines[0]!.gateway, '2001:db8:100::2');
  assert.equal(new Set(t.machines.map((m) => m.routerId)).size, t.machines.length);
});

test('routers: FRR configuration (golden)', () => {
  const { spec, plan } = lab();
  const t = labTopology(spec, plan);
  const pw = passwords(t.machines.map((m) => m.machine.name));
  const c = routerConfig(t, t.routers[0]!, { local: 65000, peer: 65530 }, pw);
  assertGolden('lab/r1-bgpd.conf', c.bgpd);
  assertGolden('lab/r1-bfdd.conf', c.bfdd);
  const r2 = routerConfig(t, t.routers[1]!, { local: 65000, peer: 65530 }, pw, { keepalive: 60, hold: 180 });
  assertGolden('lab/r2-bgpd.conf', r2.bgpd);
  assertGolden('lab/r2-bfdd.conf', r2.bfdd);
  assert.equal(r2.zebra, 'hostname n6-lab_r2\n!\n');
  assert.ok(!r2.bgpd.includes('bfd'));
  assert.match(r2.bgpd, /timers bgp 60 180/);
  assert.throws(() => routerConfig(t, t.routers[0]!, { local: 65000, peer: 65530 }, new Map()), /no BGP password for lab-cp-1/);
  assert.equal(multipathLimit(5), 16);
  assert.equal(multipathLimit(100), 101);
  assert.equal(multipathLimit(1000), 256);
});

class Recorder implements Runner {
  readonly calls: string[] = [];
  constructor(private readonly existing: Set<string>) {}
  async run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    const line = `${options.ns ? `[${options.ns}] ` : ''}${command} ${args.join(' ')}`;
    this.calls.push(line);
    if (command === 'ip' && args[0] === 'link' && args[1] === 'show') {
      const key = `${options.ns}/${args[3]}`;
      return { code: this.existing.has(key) ? 0 : 1, stdout: '', stderr: '' };
    }
    return { code: 0, stdout: '', stderr: '' };
  }
}

test('netns: a veth that exists is left alone; a missing one is made and renamed in place', async () => {
  const present = new Recorder(new Set(['n6-a/eth0']));
  assert.equal(await ensureVeth(present, { ns: 'n6-a', ifname: 'eth0' }, { ns: 'n6-b', ifname: 'x' }), false);
  assert.deepEqual(present.calls, ['[n6-a] ip link show dev eth0']);
  const missing = new Recorder(new Set());
  assert.equal(await ensureVeth(missing, { ns: 'n6-a', ifname: 'eth0' }, { ns: 'n6-b', ifname: 'x' }), true);
  assert.equal(missing.calls.length, 6);
  assert.match(missing.calls[1]!, /^ip link add n6a\w+ type veth peer name n6b\w+$/);
  assert.match(missing.calls[3]!, /^\[n6-a\] ip link set n6a\w+ name eth0$/);
  assert.match(missing.calls[5]!, /^\[n6-b\] ip link set n6b\w+ name x$/);
});
