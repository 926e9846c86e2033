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
      'data-dir /var/lib/native6/tayga',
      '',
    ].join('\n'),
  );
  assert.equal(NAT64_DATA_DIR, '/var/lib/native6/tayga');
  assert.equal(DEFAULT_NAT64_POOL, '192.168.240.0/20');
  assert.match(taygaConfig(PREFIX, DEFAULT_NAT64_POOL), /^ipv4-addr 192\.168\.240\.1$/m);
  // The edges that are still a pool: a /30, an octet of 255.
  assert.match(taygaConfig(PREFIX, '203.0.113.0/30'), /^ipv4-addr 203\.0\.113\.1$/m);
  assert.match(taygaConfig(PREFIX, '10.255.0.0/16'), /^ipv4-addr 10\.255\.0\.1$/m);
  const bad = ['192.168.240.0', '192.168.240.0/31', '300.1.1.0/24', '2001:db8::/96', '10.0.0/24', '10.0.0.0.0/24', '10.0.x.0/24', '10.-1.0.0/24', '10.0.0.0/24x', '10.0.0.0/x24'];
  for (const pool of bad) assert.throws(() => taygaConfig(PREFIX, pool), { message: `NAT64 pool ${pool} is not an IPv4 prefix of /30 or shorter` }, pool);
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
  // The whole file, as nft -f reads it: both chains, each in its own block.
  assert.equal(
    rules,
    [
      '# native6: the node\'s IPv4 is for its translated pods only (loaded by /usr/local/sbin/native6-nat64).',
      'table ip n6-nat64 {}',
      'delete table ip n6-nat64',
      'table ip n6-nat64 {',
      '  chain forward {',
      '    type filter hook forward priority filter; policy drop;',
      '    iifname "nat64" oifname != "nat64" ip saddr 203.0.113.128/25 accept comment "translated pods\' packets go out"',
      '    oifname "nat64" ct state established,related accept comment "and their replies come back"',
      '  }',
      '  chain postrouting {',
      '    type nat hook postrouting priority srcnat; policy accept;',
      '    ip saddr 203.0.113.128/25 oifname != "nat64" masquerade comment "the node\'s own IPv4"',
      '  }',
      '}',
      '',
    ].join('\n'),
  );
});

test('the unit: at every boot once its configuration is there, after the network, restarted whenever TAYGA exits, never given up', () => {
  const unit = nat64Unit().split('\n');
  for (const line of [`ConditionPathExists=${NAT64_CONFIG}`, 'After=network-online.target', `ExecStart=${NAT64_SCRIPT}`, 'Restart=always', 'RestartSec=2', 'StartLimitIntervalSec=0', 'WantedBy=multi-user.target']) {
    assert.ok(unit.includes(line), line);
  }
  // The whole unit, as systemd reads it: each key in its section.
  assert.equal(
    nat64Unit(),
    [
      '[Unit]',
      "Description=native6: NAT64 for this node's pods (TAYGA), to IPv4 with the node's own address",
      'Wants=network-online.target',
      'After=network-online.target',
      'ConditionPathExists=/etc/native6/tayga.conf',
      'StartLimitIntervalSec=0',
      '',
      '[Service]',
      'ExecStart=/usr/local/sbin/native6-nat64',
      'Restart=always',
      'RestartSec=2',
      '',
      '[Install]',
      'WantedBy=multi-user.target',
      '',
    ].join('\n'),
  );
  assert.deepEqual(
    nat64Files(PREFIX).map((f) => [f.path, f.mode]),
    [
      ['/etc/native6/tayga.conf', '0644'],
      ['/etc/native6/nat64.nft', '0644'],
      ['/usr/local/sbin/native6-nat64', '0700'],
      ['/etc/systemd/system/native6-nat64.service', '0644'],
    ],
  );
  assert.deepEqual([NAT64_CONFIG, NAT64_RULES, NAT64_SCRIPT, NAT64_UNIT], ['/etc/native6/tayga.conf', '/etc/native6/nat64.nft', '/usr/local/sbin/native6-nat64', 'native6-nat64.service']);
});

/** Runs the start script with stubs; `defaultRoute` is what `ip -4 route show default` prints. */
function runScript(defaultRoute: string, linkExists: boolean, failing?: string): { code: number; calls: string[]; out: string } {
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
  stub('nft', failing === 'nft' ? 'exit 1' : 'exit 0');
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
  assert.ok(first.out.split('\n').includes('native6-nat64: translating 2001:db8:100:4::/96 to IPv4 through nat64 (pool 203.0.113.128/25, masqueraded)'), first.out);
  const again = runScript('default via 198.51.100.0 dev eth0', true);
  assert.equal(again.code, 0);
  assert.ok(!again.calls.some((c) => c.includes('--mktun')));
});

test('the start script is a bash script that stops at the first failure: rules that do not load start no TAYGA', () => {
  const script = nat64Script(PREFIX, '203.0.113.128/25').split('\n');
  assert.deepEqual(script.slice(0, 4), [
    '#!/bin/bash',
    "# native6 NAT64: pods' packets to 2001:db8:100:4::/96 leave this node as IPv4 from its own address.",
    '# Run by native6-nat64.service at every boot (and again when TAYGA exits).',
    'set -euo pipefail',
  ]);
  const r = runScript('default via 198.51.100.0 dev eth0', true, 'nft');
  assert.equal(r.code, 1);
  assert.equal(r.calls.at(-1), 'nft -f /etc/native6/nat64.nft');
  assert.ok(!r.calls.some((c) => c.startsWith('tayga')), r.calls.join('\n'));
});

test('the start script refuses a machine with no IPv4 default route, saying why, before touching anything', () => {
  const r = runScript('', false);
  assert.equal(r.code, 1);
  assert.deepEqual(r.calls, ['ip -4 route show default']);
  assert.match(r.out, /no IPv4 default route: this machine has no IPv4 to translate to \(spec\.egress\.ipv4: nat64 needs one on every node\)/);
});
