/**
 * The bootstrap as Equinix Metal's user-data renders it, for every machine
 * of infra/dfw.yaml: what the review (bootstrap-2026-12) found wrong, pinned
 * on the text (test/lab/bootScript.test.ts runs it).
 */
import { NAT64_UNIT } from '../../lib/render/nat64.js';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { formatAddress } from '../../lib/net/ipv6.js';
import { userData, type DeviceSecrets } from '../../lib/platforms/equinixMetal/cloudInit.js';
import {
  APT_LOCK_TIMEOUT,
  BOOT_DONE,
  BOOT_SCRIPT,
  BOOT_STATUS,
  BOOT_UNIT,
  CA_KEY,
  FIREWALL_UNIT,
  HANDOVER_SCRIPT,
  HANDOVER_UNIT,
  JOIN_TOKEN_FILE,
  JOIN_TOKEN_SCRIPT,
  JOIN_TOKEN_TIMER,
  KUBEADM_INIT_CONFIG,
  KUBEADM_JOIN_CONFIG,
  ROUTES_UNIT,
  UNIT_DIR,
  UPLINK_SYSCTL,
} from '../../lib/render/bootstrap.js';
import { loadSpecFile } from '../../lib/repo/workspace.js';
import { REPO_DIR } from '../../lib/toolchain/repo.js';

const { spec, plan } = loadSpecFile(REPO_DIR, 'infra/dfw.yaml').cluster!;
const secrets: DeviceSecrets = {
  bootstrapToken: 'abcdef.0123456789abcdef',
  certificateKey: 'c'.repeat(64),
  caCertPem: '-----BEGIN CERTIFICATE-----\nplaceholder\n-----END CERTIFICATE-----\n',
  caKeyPem: '-----BEGIN EC PRIVATE KEY-----\nplaceholder\n-----END EC PRIVATE KEY-----\n',
  caCertHash: `sha256:${'1'.repeat(64)}`,
};
const clusterIP = formatAddress(plan.apiServer);

interface CloudConfig {
  write_files: Array<{ path: string; content: string; permissions: string }>;
  runcmd: string[][];
}
const configOf = (name: string) => parse(userData(spec, plan, plan.machines.find((m) => m.name === name)!, secrets)) as CloudConfig;
const fileOf = (config: CloudConfig, path: string) => config.write_files.find((f) => f.path === path);
const scriptOf = (name: string): string[] => fileOf(configOf(name), BOOT_SCRIPT)!.content.split('\n');

/** The lines that run (comments and blank lines out), with their index in the script. */
const commands = (lines: string[]) => lines.map((text, i) => ({ text: text.trim(), i })).filter((l) => l.text !== '' && !l.text.startsWith('#'));
const lineOf = (lines: string[], pred: (text: string) => boolean, what: string) => {
  const l = commands(lines).find((c) => pred(c.text));
  assert.ok(l, `no line ${what}:\n${lines.join('\n')}`);
  return l.i;
};

describe('the Equinix Metal boot script (dfw)', () => {
  for (const machine of plan.machines) {
    const first = machine.name === 'dfw-cp-1';
    it(`${machine.name}: bash reads it; prerequisites installed before use; apt waits; swap off for good; accept_ra; status`, () => {
      const lines = scriptOf(machine.name);
      execFileSync('bash', ['-n'], { input: lines.join('\n') });
      // F1: nothing a package brings is used before the packages are installed.
      // With tayga: dfw reaches IPv4 through NAT64 on every node (Equinix Metal's default).
      const install = lineOf(lines, (t) => /^apt_get install -y -q containerd curl gpg jq nftables tayga$/.test(t), 'installing the prerequisites');
      const firstUse = lineOf(lines, (t) => !/^(apt_get|apt-mark|log) /.test(t) && /(^|[\s|;($])(jq|curl|nft|gpg|containerd)\s/.test(t), 'using a prerequisite');
      assert.ok(install < firstUse, `line ${firstUse + 1} uses a package installed only at line ${install + 1}`);
      // M4: every apt-get waits for dpkg's lock, and is tried again (the lists' lock).
      const aptGets = commands(lines).filter((c) => /(^|\s)apt-get\s/.test(c.text));
      assert.equal(aptGets.length, 1, 'apt-get is called in apt_get only');
      assert.match(aptGets[0]!.text, new RegExp(`^apt-get -o DPkg::Lock::Timeout=${APT_LOCK_TIMEOUT} "\\$@" && return 0$`));
      assert.deepEqual(commands(lines).filter((c) => /^apt_get /.test(c.text)).map((c) => c.text.split(' ')[1]), ['update', 'install', 'update', 'install']);
      // M5: swap off now, commented out of fstab and its units masked.
      const kubeadm = lineOf(lines, (t) => /^(kubeadm (init|join) |until kubeadm join )/.test(t), 'running kubeadm');
      for (const [what, re] of [['swapoff', /^swapoff -a$/], ['fstab', /^sed -Ei .*swap.* \/etc\/fstab$/], ['mask', /^systemctl mask swap\.target$/]] as const) {
        assert.ok(lineOf(lines, (t) => re.test(t), what) < kubeadm, `${what} before kubeadm`);
      }
      // M14: forwarding on, router advertisements still taken on the uplink, kept for the next boots.
      lineOf(lines, (t) => t === 'sysctl -q -w "net/ipv6/conf/$uplink/accept_ra=2"', 'accept_ra=2 now');
      lineOf(lines, (t) => t === `echo "net/ipv6/conf/$uplink/accept_ra = 2" > ${UPLINK_SYSCTL}`, 'accept_ra=2 at every boot');
      // M9: the configurations (token, certificate key) and the CA key deleted once kubeadm succeeded, then the stamp.
      const end = commands(lines).slice(-(first || machine.role === 'control-plane' ? 6 : 5)).map((c) => c.text);
      assert.deepEqual(end, [
        `rm -f ${first ? `${KUBEADM_INIT_CONFIG} ` : ''}${KUBEADM_JOIN_CONFIG}${first ? ` ${CA_KEY}` : ''}`,
        `touch ${BOOT_DONE}`,
        'status done',
        `systemctl start --no-block ${NAT64_UNIT}`,
        ...(machine.role === 'control-plane' ? [`systemctl start --no-block ${HANDOVER_UNIT} ${JOIN_TOKEN_TIMER}`] : []),
        'log done',
      ]);
      // P3: a trap records any failed command with its line; running first.
      assert.match(commands(lines).find((c) => c.text.startsWith('trap '))!.text, /status "failed: exit \$rc at line \$LINENO: \$BASH_COMMAND".*' ERR$/);
      assert.equal(lineOf(lines, (t) => t.startsWith('status '), 'a status'), lineOf(lines, (t) => t === 'status running', 'status running'));
      assert.ok(lines.join('\n').includes(`echo "$*" > ${BOOT_STATUS}`));
      assert.match(lines[3]!, /^set -Eeuo pipefail$/, 'the ERR trap holds in functions (-E)');
      // F7: joins tried until they succeed, kubeadm reset between tries.
      // A control plane first removes an etcd member a former machine left at its address (lib/render/bootEtcd.ts).
      const controlPlane = machine.role === 'control-plane';
      const join = lineOf(lines, (t) => t === `until ${controlPlane ? 'remove_stale_member && ' : ''}kubeadm join --config ${KUBEADM_JOIN_CONFIG}; do`, 'the join loop');
      assert.equal(lines.some((l) => l.trim() === 'remove_stale_member() {'), controlPlane, 'the stale member removal on control planes only');
      assert.equal(commands(lines).find((c) => c.i > join && c.text.startsWith('kubeadm '))?.text, 'kubeadm reset --force || log "kubeadm reset failed too; trying the join anyway"');
      if (first) {
        // M9: kubeadm init prints neither the token nor the certificate key; M3: only when no cluster answers.
        const init = lineOf(lines, (t) => t.startsWith('kubeadm init '), 'kubeadm init');
        assert.equal(lines[init]!.trim(), `kubeadm init --config ${KUBEADM_INIT_CONFIG} --upload-certs --skip-token-print --skip-certificate-key-print`);
        assert.ok(lineOf(lines, (t) => t === 'if cluster_answers; then', 'asking whether the cluster answers') < init);
      } else {
        assert.ok(!lines.some((l) => /\bkubeadm init\b/.test(l)));
        assert.ok(!lines.some((l) => /\bnft\s+(-f|get|delete)\b/.test(l)), 'a joining machine loads no DNAT while it boots');
      }
    });

    it(`${machine.name}: a unit that runs the bootstrap at every boot until done, started by cloud-init, not waited for${machine.role === 'control-plane' ? '; the API handover at every boot' : ''}`, () => {
      const config = configOf(machine.name);
      const controlPlane = machine.role === 'control-plane';
      const units = [BOOT_UNIT, FIREWALL_UNIT, ROUTES_UNIT, NAT64_UNIT, ...(controlPlane ? [HANDOVER_UNIT, JOIN_TOKEN_TIMER] : [])];
      assert.deepEqual(config.runcmd, [['sysctl', '--system'], ['modprobe', 'overlay'], ['systemctl', 'daemon-reload'], ['systemctl', 'enable', ...units], ['systemctl', 'start', '--no-block', BOOT_UNIT]]);
      const boot = fileOf(config, `${UNIT_DIR}/${BOOT_UNIT}`)!.content;
      for (const line of [`ConditionPathExists=!${BOOT_DONE}`, 'StartLimitIntervalSec=0', 'Type=oneshot', `ExecStart=${BOOT_SCRIPT}`, 'Restart=on-failure', 'RestartSec=30', 'WantedBy=multi-user.target']) {
        assert.ok(boot.split('\n').includes(line), `${BOOT_UNIT} lacks ${line}:\n${boot}`);
      }
      const handover = fileOf(config, `${UNIT_DIR}/${HANDOVER_UNIT}`);
      assert.equal(handover !== undefined, controlPlane);
      if (handover) {
        for (const line of [`ConditionPathExists=${BOOT_DONE}`, `ExecStart=${HANDOVER_SCRIPT}`, 'Restart=on-failure', 'WantedBy=multi-user.target']) assert.ok(handover.content.split('\n').includes(line), `${HANDOVER_UNIT} lacks ${line}`);
        const script = fileOf(config, HANDOVER_SCRIPT)!.content;
        execFileSync('bash', ['-n'], { input: script });
        // P1: handed over on the ClusterIP's own element of kube-proxy's map, not a substring.
        assert.ok(script.includes(`until nft get element ip6 kube-proxy service-ips "{ ${clusterIP} . tcp . 443 }" >/dev/null 2>&1; do`));
        assert.ok(!script.includes('grep -qF'));
        assert.equal(fileOf(config, '/etc/native6/api-bootstrap.nft')?.permissions, '0644');
      }
      // Every control plane keeps the join token valid (root-only file, a timer at boot and every 6 h); a worker has neither.
      assert.equal(fileOf(config, JOIN_TOKEN_FILE)?.permissions, controlPlane ? '0600' : undefined);
      const timer = fileOf(config, `${UNIT_DIR}/${JOIN_TOKEN_TIMER}`);
      assert.equal(timer !== undefined, controlPlane);
      if (timer) {
        for (const line of ['OnBootSec=2min', 'OnUnitActiveSec=6h', 'WantedBy=timers.target']) assert.ok(timer.content.split('\n').includes(line), `${JOIN_TOKEN_TIMER} lacks ${line}`);
        const renew = fileOf(config, JOIN_TOKEN_SCRIPT)!;
        assert.equal(renew.permissions, '0700');
        execFileSync('bash', ['-n'], { input: renew.content });
        // Nothing of the token printed: kubeadm's and kubectl's output go nowhere.
        for (const line of renew.content.split('\n').filter((l) => /^\s*(kubeadm token create|kubectl .* patch)/.test(l))) assert.ok(line.endsWith('>/dev/null'), line);
      }
      // Only the first control plane gets the CA, its key readable by root only.
      assert.equal(fileOf(config, CA_KEY)?.permissions, machine.index === 1 && controlPlane ? '0600' : undefined);
      for (const f of [KUBEADM_INIT_CONFIG, KUBEADM_JOIN_CONFIG]) assert.ok([undefined, '0600'].includes(fileOf(config, f)?.permissions), f);
    });
  }
});
