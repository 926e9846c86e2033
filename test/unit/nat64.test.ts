/**
 * The NAT64 translator's files (lib/render/nat64.ts): TAYGA's configuration,
 * the node's IPv4 rules, and its start script run by bash with `ip`,
 * `sysctl`, `nft` and `tayga` stubbed (each records its arguments), its
 * paths moved to a temporary folder.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parsePrefix } from '../../lib/net/ipv6.js';
import { DEFAULT_NAT64_POOL, NAT64_CONFIG, NAT64_DATA_DIR, NAT64_RULES, NAT64_SCRIPT, NAT64_UNIT, nat64Files, nat64Rules, nat64Script, nat64Unit, taygaConfig } from '../../lib/render/nat64.js';

const PREFIX = parsePrefix('2001:db8:100:4::/96');
const roots: string[] = [];
after(() => roots.forEach((r) => rmSync(r, { recursive: true, force: true })));

test("TAYGA's configuration: its device, its own IPv4 (the pool's first address), the prefix, the pool, its map kept on disk", () => {
  assert.equal(
    taygaConfig(PREFIX, '203.0.113.128/25'),
    [
      "# native6: NAT64 for this node's pods (TAYGA). Written by the bootstrap; started by native6-nat64.service.",
      'tun-device nat64',
      'ipv4-addr 203.0.113.129',
      'prefix 2001:db8:100:4::/96',
      'dynamic-pool 203.0.113.128/25',
      `data-dir ${NAT64_DATA_DIR}`,
      '',
    ].join('\n'),
  );
  assert.match(taygaConfig(PREFIX, DEFAULT_NAT64_POOL), /^ipv4-addr 192\.168\.240\.1$/m);
  for (const bad of ['192.168.240.0', '192.168.240.0/31', '300.1.1.0/24', '2001:db8::/96']) assert.throws(() => taygaConfig(PREFIX, bad), /is not an IPv4 prefix/, bad);
});

test("the node's IPv4 rules: forwarded only from the translator out (the pool's sources) and the replies back; the pool masqueraded; reloaded whole", () => {
  const rules = nat64Rules('203.0.113.128/25');
  const lines = rules.split('\n').map((l) => l.trim());
  // Loaded again at every start: the table made, deleted and made again in one transaction.
  assert.deepEqual(lines.slice(1, 4), ['table ip n6-nat64 {}', 'delete table ip n6-nat64', 'table ip n6-nat64 {']);
  assert.ok(lines.includes('type filter hook forward priority filter; policy drop;'));
  assert.ok(lines.includes('iifname "nat64" oifname != "nat64" ip saddr 203.0.113.128/25 accept comment "translated pods\' packets go out"'));
  assert.ok(lines.includes('oifname "nat64" ct state established,related accept comment "and their replies come back"'));
  assert.ok(lines.includes('ip saddr 203.0.113.128/25 oifname != "nat64" masquerade comment "the node\'s own IPv4"'));
  assert.equal(lines.filter((l) => l.endsWith('accept') || l.includes(' accept ')).length, 2, 'nothing else forwarded');
});

test('the unit: at every boot once its configuration is there, after the network, restarted whenever TAYGA exits, never given up', () => {
  const unit = nat64Unit().split('\n');
  for (const line of [`ConditionPathExists=${NAT64_CONFIG}`, 'After=network-online.target', `ExecStart=${NAT64_SCRIPT}`, 'Restart=always', 'RestartSec=2', 'StartLimitIntervalSec=0', 'WantedBy=multi-user.target']) {
    assert.ok(unit.includes(line), line);
  }
  assert.deepEqual(
    nat64Files(PREFIX).map((f) => [f.path, f.mode]),
    [
      [NAT64_CONFIG, '0644'],
      [NAT64_RULES, '0644'],
      [NAT64_SCRIPT, '0700'],
      [`/etc/systemd/system/${NAT64_UNIT}`, '0644'],
    ],
  );
});

/** Runs the start script with stubs; `defaultRoute` is what `ip -4 route show default` prints. */
function runScript(defaultRoute: string, linkExists: boolean): { code: number; calls: string[]; out: string } {
  const dir = mkdtempSync(join(tmpdir(), 'n6-nat64-'));
  roots.push(dir);
  const bin = join(dir, 'bin');
  execFileSync('mkdir', ['-p', bin]);
  const calls = join(dir, 'calls');
  const stub = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/bin/bash\necho "${name} $*" >> ${calls}\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  stub('ip', `case "$*" in "-4 route show default") echo "${defaultRoute}" ;; "link show nat64") exit ${linkExists ? 0 : 1} ;; esac; exit 0`);
  stub('sysctl', 'exit 0');
  stub('nft', 'exit 0');
  stub('tayga', 'exit 0');
  stub('mkdir', 'exit 0');
  const script = nat64Script(PREFIX, '203.0.113.128/25');
  const res = spawnSync('bash', ['-c', script], { env: { PATH: `${bin}:/usr/bin:/bin` }, encoding: 'utf8' });
  let recorded = '';
  try {
    recorded = readFileSync(calls, 'utf8');
  } catch {
    recorded = '';
  }
  return { code: res.status ?? -1, calls: recorded.split('\n').filter(Boolean), out: res.stdout + res.stderr };
}

test('the start script: the device made once, up, the pool and the prefix routed to it, the rules loaded, then TAYGA in the foreground', () => {
  const first = runScript('default via 198.51.100.0 dev eth0', false);
  assert.equal(first.code, 0, first.out);
  assert.deepEqual(first.calls, [
    'ip -4 route show default',
    'sysctl -q -w net.ipv4.ip_forward=1',
    `mkdir -p ${NAT64_DATA_DIR}`,
    'ip link show nat64',
    `tayga --config ${NAT64_CONFIG} --mktun`,
    'ip link set nat64 up',
    'ip -4 route replace 203.0.113.128/25 dev nat64',
    'ip -6 route replace 2001:db8:100:4::/96 dev nat64',
    `nft -f ${NAT64_RULES}`,
    `tayga --config ${NAT64_CONFIG} --nodetach`,
  ]);
  // Started again (TAYGA exited): the device is there, not made again.
  const again = runScript('default via 198.51.100.0 dev eth0', true);
  assert.equal(again.code, 0);
  assert.ok(!again.calls.some((c) => c.includes('--mktun')));
});

test('the start script refuses a machine with no IPv4 default route, saying why, before touching anything', () => {
  const r = runScript('', false);
  assert.equal(r.code, 1);
  assert.deepEqual(r.calls, ['ip -4 route show default']);
  assert.match(r.out, /no IPv4 default route: this machine has no IPv4 to translate to \(spec\.egress\.ipv4: nat64 needs one on every node\)/);
});
