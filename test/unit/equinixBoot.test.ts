/**
 * The Equinix Metal boot script as rendered, for every machine of
 * infra/dfw.yaml: what the review (bootstrap-2026-12) found wrong, pinned on
 * the text (test/lab/bootScript.test.ts runs it).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { formatAddress } from '../../lib/net/ipv6.js';
import {
  APT_LOCK_TIMEOUT,
  BOOT_SCRIPT,
  BOOT_STATUS,
  HANDOVER_SLEEP,
  HANDOVER_TRIES,
  KUBEADM_CONFIG,
  UPLINK_SYSCTL,
  userData,
  type DeviceSecrets,
} from '../../lib/platforms/equinixMetal/cloudInit.js';
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

function scriptOf(name: string): string[] {
  const machine = plan.machines.find((m) => m.name === name)!;
  const config = parse(userData(spec, plan, machine, secrets)) as { write_files: Array<{ path: string; content: string }> };
  return config.write_files.find((f) => f.path === BOOT_SCRIPT)!.content.split('\n');
}

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
      const install = lineOf(lines, (t) => /^apt_get install -y -q containerd curl gpg jq nftables$/.test(t), 'installing the prerequisites');
      const firstUse = lineOf(lines, (t) => !/^(apt_get|apt-mark|log) /.test(t) && /(^|[\s|;($])(jq|curl|nft|gpg|containerd)\s/.test(t), 'using a prerequisite');
      assert.ok(install < firstUse, `line ${firstUse + 1} uses a package installed only at line ${install + 1}`);
      // M4: every apt-get waits for dpkg's lock, and is tried again (the lists' lock).
      const aptGets = commands(lines).filter((c) => /(^|\s)apt-get\s/.test(c.text));
      assert.equal(aptGets.length, 1, 'apt-get is called in apt_get only');
      assert.match(aptGets[0]!.text, new RegExp(`^apt-get -o DPkg::Lock::Timeout=${APT_LOCK_TIMEOUT} "\\$@" && return 0$`));
      assert.deepEqual(commands(lines).filter((c) => /^apt_get /.test(c.text)).map((c) => c.text.split(' ')[1]), ['update', 'install', 'update', 'install']);
      // M5: swap off now, commented out of fstab and its units masked.
      const kubeadm = lineOf(lines, (t) => /^kubeadm (init|join) /.test(t), 'running kubeadm');
      for (const [what, re] of [['swapoff', /^swapoff -a$/], ['fstab', /^sed -Ei .*swap.* \/etc\/fstab$/], ['mask', /^systemctl mask swap\.target$/]] as const) {
        assert.ok(lineOf(lines, (t) => re.test(t), what) < kubeadm, `${what} before kubeadm`);
      }
      // M14: forwarding on, router advertisements still taken on the uplink, kept for the next boots.
      lineOf(lines, (t) => t === 'sysctl -q -w "net/ipv6/conf/$uplink/accept_ra=2"', 'accept_ra=2 now');
      lineOf(lines, (t) => t === `echo "net/ipv6/conf/$uplink/accept_ra = 2" > ${UPLINK_SYSCTL}`, 'accept_ra=2 at every boot');
      // M9: the configuration (token, certificate key) deleted once kubeadm succeeded.
      assert.equal(commands(lines).find((c) => c.i > kubeadm)?.text, `rm -f ${KUBEADM_CONFIG}`);
      // P3: a trap records any failed command with its line; running first, done last.
      assert.match(commands(lines).find((c) => c.text.startsWith('trap '))!.text, /status "failed: exit \$rc at line \$LINENO: \$BASH_COMMAND".*' ERR$/);
      assert.equal(lineOf(lines, (t) => t.startsWith('status '), 'a status'), lineOf(lines, (t) => t === 'status running', 'status running'));
      assert.deepEqual(commands(lines).slice(-2).map((c) => c.text), ['status done', 'log done']);
      assert.ok(lines.join('\n').includes(`echo "$*" > ${BOOT_STATUS}`));
      assert.match(lines[2]!, /^set -Eeuo pipefail$/, 'the ERR trap holds in functions (-E)');
      if (first) {
        // M9: kubeadm init prints neither the token nor the certificate key.
        assert.equal(lines[kubeadm], `kubeadm init --config ${KUBEADM_CONFIG} --upload-certs --skip-token-print --skip-certificate-key-print`);
        // P1: handed over on the ClusterIP's own element of kube-proxy's map; a loop that runs out fails.
        lineOf(lines, (t) => t === `if nft get element ip6 kube-proxy service-ips "{ ${clusterIP} . tcp . 443 }" >/dev/null 2>&1; then`, 'matching the exact element');
        assert.ok(!lines.some((l) => l.includes('grep -qF')), 'no substring match');
        lineOf(lines, (t) => t === `[ -n "$handed" ] || fail "kube-proxy did not serve [${clusterIP}]:443 within ${HANDOVER_TRIES * HANDOVER_SLEEP} s: the bootstrap DNAT stays"`, 'failing when never handed over');
      } else {
        assert.equal(lines[kubeadm], `kubeadm join --config ${KUBEADM_CONFIG}`);
        assert.ok(!lines.some((l) => /\bnft\s+(-f|get|delete)\b/.test(l)), 'a joining machine has no DNAT');
      }
    });
  }
});
