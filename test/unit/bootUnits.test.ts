/**
 * The bootstrap's small scripts and units (lib/render/bootUnits.ts), run in
 * the unit tier: each script as rendered, its paths moved under a temporary
 * folder and the programs that would touch the host (nft, ip, sleep)
 * replaced by stubs that record their calls, so what it does is seen
 * without root (test/lab/bootScript.test.ts runs them for real, with
 * systemd modelled). The units are read as systemd reads them.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { API_BOOTSTRAP_TABLE } from '../../lib/render/apiBootstrap.js';
import {
  API_BOOTSTRAP_FILE,
  BOOT_DONE,
  BOOT_SCRIPT,
  FIREWALL_SCRIPT,
  HANDOVER_SCRIPT,
  HANDOVER_SLEEP,
  HANDOVER_STATUS,
  HANDOVER_UNIT,
  JOIN_TOKEN_FILE,
  JOIN_TOKEN_SCRIPT,
  JOIN_TOKEN_UNIT,
  NODE_ADDRESS_PLACEHOLDER,
  PEER_ROUTES,
  ROUTES_SCRIPT,
} from '../../lib/render/bootPaths.js';
import { bootUnit, firewallScript, firewallUnit, handoverScript, handoverUnit, joinTokenScript, joinTokenTimer, joinTokenUnit, routesScript, routesUnit } from '../../lib/render/bootUnits.js';
import { HOST_FIREWALL_FILE, PEER_ELEMENTS_PLACEHOLDER } from '../../lib/render/hostFirewall.js';
import type { Machine } from '../../lib/plan/addressPlan.js';

const roots: string[] = [];
after(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Each stubbed call: the program and its arguments, space-separated. */
  readonly calls: readonly string[];
  /** A path of the script (as rendered) in the run's folder. */
  readonly at: (path: string) => string;
}

/**
 * Runs a rendered script with the machine's folders (/etc/native6, /var/lib/native6) under a new
 * temporary folder; `files` are written there first (by their path on the machine); each stub is a
 * shell body run for that program, after its call is recorded.
 */
function run(script: string, files: Record<string, string>, stubs: Record<string, string>): Run {
  const root = mkdtempSync(join(tmpdir(), 'n6-boot-units-'));
  roots.push(root);
  const at = (path: string) => join(root, path);
  const moved = script.replaceAll('/etc/native6', at('/etc/native6')).replaceAll('/var/lib/native6', at('/var/lib/native6'));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(at(path), '..'), { recursive: true });
    writeFileSync(at(path), content);
  }
  const bin = at('/stubs');
  mkdirSync(bin);
  const calls = at('/calls');
  writeFileSync(calls, '');
  for (const [name, body] of Object.entries(stubs)) {
    writeFileSync(join(bin, name), `#!/bin/sh\necho "${name} $*" >> '${calls}'\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  }
  const interpreter = script.startsWith('#!/bin/bash') ? 'bash' : 'sh';
  const r = spawnSync(interpreter, ['-c', moved, 'script'], { encoding: 'utf8', env: { PATH: `${bin}:${process.env.PATH}`, STUB_DIR: root }, timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, calls: readFileSync(calls, 'utf8').split('\n').filter(Boolean), at };
}

/** A unit file as systemd reads it: sections of keys, each key's values in order. */
function readUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const section = /^\[(\w+)\]$/.exec(line);
    if (section) {
      assert.ok(!sections.has(section[1]!), `section ${section[1]} twice`);
      sections.set(section[1]!, (current = new Map()));
      continue;
    }
    const kv = /^(\w+)=(.*)$/.exec(line);
    assert.ok(kv && current, `not a unit line: ${JSON.stringify(line)}`);
    current.set(kv[1]!, [...(current.get(kv[1]!) ?? []), kv[2]!]);
  }
  return sections;
}
const value = (u: Map<string, Map<string, string[]>>, section: string, key: string) => u.get(section)?.get(key)?.join(' ');

const machine = { name: 'dfw-cp-2', role: 'control-plane', index: 2 } as Machine;
const CLUSTER_IP = '2001:db8:2a00:1::1';

describe("the host firewall's script", () => {
  it('loads the firewall with nft once the bootstrap filled in the peers, and fails as nft fails', () => {
    const ok = run(firewallScript(), { [HOST_FIREWALL_FILE]: 'table inet n6-host {}\n' }, { nft: 'exit 0' });
    assert.equal(ok.status, 0, ok.stderr);
    assert.deepEqual(ok.calls, [`nft -f ${ok.at(HOST_FIREWALL_FILE)}`]);
    const failed = run(firewallScript(), { [HOST_FIREWALL_FILE]: 'table inet n6-host {}\n' }, { nft: 'exit 3' });
    assert.equal(failed.status, 3);
  });

  it('refuses a file whose peers are not filled in yet (the bootstrap has not run): nothing loaded', () => {
    const r = run(firewallScript(), { [HOST_FIREWALL_FILE]: `set bgp-peers {\n  ${PEER_ELEMENTS_PLACEHOLDER}\n}\n` }, { nft: 'exit 0' });
    assert.equal(r.status, 1);
    assert.deepEqual(r.calls, []);
    assert.match(r.stderr, /host-firewall\.nft has no peers yet \(the bootstrap has not run\)/);
  });
});

describe("the peer routes' script", () => {
  it('routes each peer (a /128) through its gateway, skipping empty lines; none when there are no peers', () => {
    const r = run(routesScript(), { [PEER_ROUTES]: '2001:db8:ffff::e 2001:db8:2a00::2\n\n2001:db8:ffff::f fe80::1\n' }, { ip: 'exit 0' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.calls, ['ip -6 route replace 2001:db8:ffff::e/128 via 2001:db8:2a00::2', 'ip -6 route replace 2001:db8:ffff::f/128 via fe80::1']);
    const none = run(routesScript(), { [PEER_ROUTES]: '' }, { ip: 'exit 0' });
    assert.equal(none.status, 0);
    assert.deepEqual(none.calls, []);
  });

  it('fails when a route cannot be made (its unit tries again)', () => {
    const r = run(routesScript(), { [PEER_ROUTES]: '2001:db8:ffff::e 2001:db8:2a00::2\n2001:db8:ffff::f 2001:db8:2a00::2\n' }, { ip: 'exit 2' });
    assert.notEqual(r.status, 0);
    assert.equal(r.calls.length, 1, 'stops at the first failure');
  });
});

describe("the API handover's script", () => {
  const loaded = (api: string) => ({ [API_BOOTSTRAP_FILE]: `ip6 daddr ${CLUSTER_IP} tcp dport 443 dnat to [${api}]:443\n` });
  /** nft that answers `get element` only from its `serves`-th call on. */
  const nft = (serves: number) =>
    `if [ "$1 $2" = "get element" ]; then n=$(cat "$STUB_DIR/looks" 2>/dev/null || echo 0); n=$((n + 1)); echo $n > "$STUB_DIR/looks"; [ $n -ge ${serves} ] || exit 1; fi; exit 0`;

  it("answers the ClusterIP until kube-proxy serves it, then hands over: the translation loaded, kube-proxy's element looked up, the table deleted", () => {
    const r = run(handoverScript(machine, CLUSTER_IP), loaded('2001:db8:2a00::5'), { nft: nft(3), sleep: 'exit 0' });
    assert.equal(r.status, 0, r.stderr);
    const get = `nft get element ip6 kube-proxy service-ips { ${CLUSTER_IP} . tcp . 443 }`;
    assert.deepEqual(r.calls, [`nft -f ${r.at(API_BOOTSTRAP_FILE)}`, get, `sleep ${HANDOVER_SLEEP}`, get, `sleep ${HANDOVER_SLEEP}`, get, `nft delete table ip6 ${API_BOOTSTRAP_TABLE}`]);
    assert.equal(readFileSync(r.at(HANDOVER_STATUS), 'utf8'), 'handed over\n');
    assert.match(r.stdout, /^native6-api-handover: \[2001:db8:2a00:1::1\]:443 answered by this machine's API server until kube-proxy serves it$/m);
    assert.match(r.stdout, /^native6-api-handover: API endpoint handed over to kube-proxy$/m);
  });

  it('says so once a minute while it waits, and says how long; the status says it waits', () => {
    // 25 looks: 24 failed, 5 s apart: the log at 12 and 24 (60 s and 120 s), not at the others.
    const r = run(handoverScript(machine, CLUSTER_IP), loaded('2001:db8:2a00::5'), { nft: nft(25), sleep: 'exit 0' });
    assert.equal(r.status, 0, r.stderr);
    const waits = r.stdout.split('\n').filter((l) => l.includes('does not serve'));
    assert.deepEqual(waits, [
      'native6-api-handover: kube-proxy does not serve [2001:db8:2a00:1::1]:443 yet (60 s): the translation stays',
      'native6-api-handover: kube-proxy does not serve [2001:db8:2a00:1::1]:443 yet (120 s): the translation stays',
    ]);
    assert.equal(HANDOVER_SLEEP, 5);
    // While waiting, the status says so (the stub stops the script at its first look).
    const waiting = run(handoverScript(machine, CLUSTER_IP), loaded('2001:db8:2a00::5'), { nft: '[ "$1" != get ] || exit 9', sleep: 'exit 7' });
    assert.equal(waiting.status, 7);
    assert.equal(readFileSync(waiting.at(HANDOVER_STATUS), 'utf8'), `waiting: [${CLUSTER_IP}]:443 answered here until kube-proxy serves it\n`);
  });

  it('refuses the translation file before the bootstrap put its address in: nothing loaded', () => {
    const r = run(handoverScript(machine, CLUSTER_IP), loaded(NODE_ADDRESS_PLACEHOLDER), { nft: 'exit 0', sleep: 'exit 0' });
    assert.equal(r.status, 1);
    assert.deepEqual(r.calls, []);
    assert.match(r.stdout, /api-bootstrap\.nft has no address yet \(the bootstrap has not run\)/);
    assert.ok(!existsSync(r.at(HANDOVER_STATUS)));
  });

  it('fails when the translation cannot be loaded (its unit tries again)', () => {
    const r = run(handoverScript(machine, CLUSTER_IP), loaded('2001:db8:2a00::5'), { nft: 'exit 1', sleep: 'exit 0' });
    assert.equal(r.status, 1);
    assert.deepEqual(r.calls, [`nft -f ${r.at(API_BOOTSTRAP_FILE)}`]);
  });
});

describe("the bootstrap's units", () => {
  it('the boot unit runs the bootstrap once the network is online, at every boot until it is done, again 30 s after a failure, never given up', () => {
    const u = readUnit(bootUnit(machine));
    assert.deepEqual([...u.keys()], ['Unit', 'Service', 'Install']);
    assert.match(value(u, 'Unit', 'Description')!, /dfw-cp-2/);
    assert.equal(value(u, 'Unit', 'Wants'), 'network-online.target');
    assert.equal(value(u, 'Unit', 'After'), 'network-online.target');
    assert.equal(value(u, 'Unit', 'ConditionPathExists'), `!${BOOT_DONE}`);
    assert.equal(value(u, 'Unit', 'StartLimitIntervalSec'), '0');
    assert.equal(value(u, 'Service', 'Type'), 'oneshot');
    assert.equal(value(u, 'Service', 'ExecStart'), BOOT_SCRIPT);
    assert.equal(value(u, 'Service', 'Restart'), 'on-failure');
    assert.equal(value(u, 'Service', 'RestartSec'), '30');
    assert.equal(value(u, 'Service', 'TimeoutStartSec'), 'infinity', 'a join may wait for hours');
    assert.equal(value(u, 'Install', 'WantedBy'), 'multi-user.target');
  });

  it('the firewall unit loads the firewall early, before the network and the kubelet, once its file is there', () => {
    const u = readUnit(firewallUnit());
    assert.equal(value(u, 'Unit', 'DefaultDependencies'), 'no', 'else it would be ordered after basic.target, too late');
    assert.equal(value(u, 'Unit', 'Wants'), 'network-pre.target');
    assert.deepEqual(value(u, 'Unit', 'Before')?.split(' '), ['network-pre.target', 'kubelet.service']);
    assert.equal(value(u, 'Unit', 'ConditionPathExists'), HOST_FIREWALL_FILE);
    assert.equal(value(u, 'Service', 'Type'), 'oneshot');
    assert.equal(value(u, 'Service', 'RemainAfterExit'), 'yes');
    assert.equal(value(u, 'Service', 'ExecStart'), FIREWALL_SCRIPT);
    assert.equal(value(u, 'Install', 'WantedBy'), 'multi-user.target');
  });

  it('the routes unit makes the peer routes once the network is online, before the kubelet, again after a failure', () => {
    const u = readUnit(routesUnit());
    assert.equal(value(u, 'Unit', 'Wants'), 'network-online.target');
    assert.equal(value(u, 'Unit', 'After'), 'network-online.target');
    assert.equal(value(u, 'Unit', 'Before'), 'kubelet.service');
    assert.equal(value(u, 'Unit', 'ConditionPathExists'), PEER_ROUTES);
    assert.equal(value(u, 'Service', 'Type'), 'oneshot');
    assert.equal(value(u, 'Service', 'RemainAfterExit'), 'yes');
    assert.equal(value(u, 'Service', 'ExecStart'), ROUTES_SCRIPT);
    assert.equal(value(u, 'Service', 'Restart'), 'on-failure');
    assert.equal(value(u, 'Service', 'RestartSec'), '10');
    assert.equal(value(u, 'Install', 'WantedBy'), 'multi-user.target');
  });

  it('the handover unit runs, once the machine is in the cluster, a long-lived script, again after a failure, never given up', () => {
    const u = readUnit(handoverUnit(machine));
    assert.match(value(u, 'Unit', 'Description')!, /dfw-cp-2/);
    assert.equal(value(u, 'Unit', 'Wants'), 'network-online.target');
    assert.equal(value(u, 'Unit', 'After'), 'network-online.target');
    assert.equal(value(u, 'Unit', 'ConditionPathExists'), BOOT_DONE);
    assert.equal(value(u, 'Unit', 'StartLimitIntervalSec'), '0');
    assert.equal(value(u, 'Service', 'Type'), 'simple', 'it waits for kube-proxy: systemctl start --no-block');
    assert.equal(value(u, 'Service', 'ExecStart'), HANDOVER_SCRIPT);
    assert.equal(value(u, 'Service', 'Restart'), 'on-failure');
    assert.equal(value(u, 'Service', 'RestartSec'), '10');
    assert.equal(value(u, 'Install', 'WantedBy'), 'multi-user.target');
    assert.ok(HANDOVER_UNIT.endsWith('.service'));
  });
});

describe("the join token's renewal", () => {
  const TOKEN = 'abcdef.0123456789abcdef';
  /** kubectl that holds the token Secret's `token-secret` in the run's folder (file `held`, absent: no Secret); date stubbed. */
  const stubs = {
    kubectl: 'if [ "$3" = get ]; then [ -f "$STUB_DIR/held" ] || exit 1; printf %s "$(cat "$STUB_DIR/held")" | base64; fi; exit 0',
    kubeadm: 'exit 0',
    date: 'echo 2026-12-08T05:00:00Z',
  };
  const renew = (held?: string) => run(joinTokenScript(), { [JOIN_TOKEN_FILE]: `${TOKEN}\n`, ...(held === undefined ? {} : { '/held': held }) }, stubs);
  const get = "kubectl -n kube-system get secret bootstrap-token-abcdef -o jsonpath={.data.token-secret}";
  const create = `kubeadm token create ${TOKEN} --ttl 24h0m0s --description native6: the stack's join token, kept valid by ${JOIN_TOKEN_UNIT}`;

  it('moves the expiration of the token the cluster holds 24 hours ahead, through the admin credentials', () => {
    const r = renew('0123456789abcdef');
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.calls, [
      'date -u -d +24 hours +%Y-%m-%dT%H:%M:%SZ',
      get,
      'kubectl -n kube-system patch secret bootstrap-token-abcdef --type merge -p {"stringData":{"expiration":"2026-12-08T05:00:00Z"}}',
    ]);
    assert.equal(r.stdout, 'native6-join-token: join token abcdef valid until 2026-12-08T05:00:00Z\n', 'the id only, never the secret');
  });

  it('makes the token again when the cluster no longer holds it (expired and cleaned up)', () => {
    const r = renew();
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.calls, ['date -u -d +24 hours +%Y-%m-%dT%H:%M:%SZ', get, create]);
  });

  it('replaces a token of the same id that holds another secret', () => {
    const r = renew('fedcba9876543210');
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.calls, ['date -u -d +24 hours +%Y-%m-%dT%H:%M:%SZ', get, 'kubectl -n kube-system delete secret bootstrap-token-abcdef', create]);
  });

  it('fails when the token cannot be renewed (the timer tries again)', () => {
    const r = run(joinTokenScript(), { [JOIN_TOKEN_FILE]: `${TOKEN}\n` }, { ...stubs, kubeadm: 'exit 4' });
    assert.equal(r.status, 4);
    assert.doesNotMatch(r.stdout, /valid until/);
  });

  it('its unit runs the script once the machine is in the cluster and holds the token; its timer after boot, then every period', () => {
    const u = readUnit(joinTokenUnit());
    assert.deepEqual([...u.keys()], ['Unit', 'Service'], 'started by its timer only');
    assert.equal(value(u, 'Unit', 'Wants'), 'network-online.target');
    assert.equal(value(u, 'Unit', 'After'), 'network-online.target');
    assert.deepEqual(u.get('Unit')?.get('ConditionPathExists'), [BOOT_DONE, JOIN_TOKEN_FILE]);
    assert.equal(value(u, 'Service', 'Type'), 'oneshot');
    assert.equal(value(u, 'Service', 'ExecStart'), JOIN_TOKEN_SCRIPT);
    const t = readUnit(joinTokenTimer({ afterBoot: '3min', every: '4h' }));
    assert.deepEqual([...t.keys()], ['Unit', 'Timer', 'Install']);
    assert.equal(value(t, 'Unit', 'Description'), "native6: the stack's join token renewed 3min after boot, then every 4h");
    assert.equal(value(t, 'Timer', 'OnBootSec'), '3min');
    assert.equal(value(t, 'Timer', 'OnUnitActiveSec'), '4h');
    assert.equal(value(t, 'Install', 'WantedBy'), 'timers.target');
  });
});
