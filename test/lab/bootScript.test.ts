/**
 * The boot script every Equinix Metal machine runs, run: the user-data that
 * userData() renders for dfw-cp-1 (kubeadm init), dfw-cp-2 (control-plane
 * join) and dfw-general-1 (worker join) of infra/dfw.yaml, booted as
 * cloud-init would in a sandbox of namespaces with stubs for what a machine
 * installs or reaches (test/bootSandbox.ts; the metadata documents in
 * test/fixtures/metadata). What it shows: nothing is used before it is
 * installed; apt waits out a first boot's locks; swap stays off after a
 * reboot; the uplink keeps its router advertisements; kubeadm init only on
 * the first control plane, joins through the API ClusterIP; the bootstrap
 * DNAT is loaded before init and goes only once kube-proxy serves the
 * ClusterIP itself (not a Service whose address merely starts with it), and
 * a handover that never comes is a failure; no secret is printed; the
 * kubeadm configuration is deleted after success; a failure leaves a status
 * file naming the line.
 *
 * Needs root (namespaces, overlays), unshare, jq and nft of the host, and
 * the pinned kubeadm (`npm run setup -- bin:kubernetes`).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { formatAddress } from '../../lib/net/ipv6.js';
import { generateClusterSecrets } from '../../lib/pki/clusterSecrets.js';
import { BOOT_STATUS, KUBEADM_CONFIG, METADATA_URL, userData, type DeviceSecrets } from '../../lib/platforms/equinixMetal/cloudInit.js';
import { dnsServiceIP } from '../../lib/render/kubeadm.js';
import { loadSpecFile } from '../../lib/repo/workspace.js';
import { toolPaths } from '../../lib/toolchain/pins.js';
import { DEFAULT_CACHE_DIR, REPO_DIR } from '../../lib/toolchain/repo.js';
import { withBoot, type BootRun, type BootScenario, type Call } from '../bootSandbox.js';
import { need, needProgram } from '../prerequisites.js';

const { spec, plan } = loadSpecFile(REPO_DIR, 'infra/dfw.yaml').cluster!;
const generated = generateClusterSecrets('dfw');
const secrets: DeviceSecrets = {
  bootstrapToken: generated.bootstrapToken,
  certificateKey: generated.certificateKey,
  caCertPem: generated.caCertPem,
  caKeyPem: generated.caKeyPem,
  caCertHash: generated.caCertHash,
};
const clusterIP = formatAddress(plan.apiServer);
const decoyIP = formatAddress(plan.apiServer + 15n);
const SCRIPT = '/usr/local/sbin/native6-boot';
/**
 * The image the program orders (ubuntu_24_04) has curl and gpg, not jq,
 * nftables or containerd; a minimal image (Debian's) may lack curl and gpg
 * too: the script must install everything it uses either way.
 */
const UBUNTU_24_04 = ['curl', 'gpg'];
const MINIMAL: string[] = [];

interface Metadata {
  network: { addresses: Array<{ address_family: number; public: boolean; address: string; gateway: string }> };
  bgp_neighbors: Array<{ md5_password: string; peer_ips: string[] }>;
}
const metadataOf = (name: string) => JSON.parse(readFileSync(join(REPO_DIR, 'test/fixtures/metadata', `${name}.json`), 'utf8')) as Metadata;
const publicV6 = (m: Metadata) => m.network.addresses.find((a) => a.address_family === 6 && a.public)!;

function programs(): BootScenario['programs'] {
  const kubeadm = toolPaths(DEFAULT_CACHE_DIR).kubeadm;
  need(kubeadm, 'npm run setup -- bin:kubernetes');
  return {
    kubeadm,
    jq: needProgram('jq', 'apt-get install -y jq', ['/usr/bin']),
    nft: needProgram('nft', 'apt-get install -y nftables (or npm run setup -- debian:packages)', ['/usr/sbin']),
    unshare: needProgram('unshare', 'apt-get install -y util-linux', ['/usr/bin']),
  };
}

function boot<T>(name: string, use: (b: BootRun, m: Metadata) => T | Promise<T>, scenario: Partial<BootScenario> = {}): Promise<T> {
  const machine = plan.machines.find((m) => m.name === name)!;
  const metadata = metadataOf(name);
  const base: BootScenario = { metadata, metadataUrl: METADATA_URL, clusterIP, decoyIP, dnsIP: dnsServiceIP(plan), kubeProxyServesAfter: 15, preinstalled: UBUNTU_24_04, programs: programs() };
  return withBoot(userData(spec, plan, machine, secrets), { ...base, ...scenario }, (b) => use(b, metadata));
}

const show = (c: Call) => [c.name, ...c.args].join(' ');
const callsOf = (b: BootRun, name: string) => b.calls.filter((c) => c.name === name);
const indexOf = (b: BootRun, pred: (c: Call) => boolean, what: string) => {
  const i = b.calls.findIndex(pred);
  assert.ok(i >= 0, `no call ${what}:\n${b.calls.map(show).join('\n')}`);
  return i;
};
const is = (name: string, ...args: string[]) => (c: Call) => c.name === name && args.every((a) => c.args.includes(a));
const explain = (b: BootRun) => `exit ${b.exitCode}\nstdout:\n${b.stdout}\nstderr:\n${b.stderr}\ncalls:\n${b.calls.map((c) => `${c.state === 'base' ? '' : `[${c.state}] `}${show(c)}`).join('\n')}`;

/** What every machine's boot must show, whatever its role. */
function assertBooted(b: BootRun, m: Metadata): void {
  const missing = b.calls.filter((c) => c.state === 'missing');
  assert.deepEqual(missing.map(show), [], `used before it was installed (exit 127 on a stock image):\n${explain(b)}`);
  assert.equal(b.exitCode, 0, explain(b));
  assert.equal(b.file(BOOT_STATUS)?.trim(), 'done', 'the status file says done');
  // cloud-init's runcmd, in order: the sysctls, the module, then the script.
  assert.deepEqual(b.calls.slice(0, 2).map(show), ['sysctl --system', 'modprobe overlay']);
  // apt waits for a first boot's locks: the dpkg lock through apt, the lists lock retried.
  for (const c of callsOf(b, 'apt-get')) assert.ok(c.args.join(' ').includes('-o DPkg::Lock::Timeout=600'), `apt-get without the lock timeout: ${show(c)}`);
  const packages = (b.state('packages') ?? '').trim().split('\n').sort();
  assert.deepEqual(packages, ['containerd', 'curl', 'gpg', 'jq', 'kubeadm', 'kubectl', 'kubelet', 'nftables']);
  assert.ok(callsOf(b, 'apt-mark').some((c) => c.args.join(' ') === 'hold kubelet kubeadm kubectl'));
  assert.match(b.file('/etc/containerd/config.toml') ?? '', /SystemdCgroup = true/);
  assert.match(b.file('/etc/apt/sources.list.d/kubernetes.list') ?? '', /https:\/\/pkgs\.k8s\.io\/core:\/stable:\/v1\.35\/deb\//);
  // The node as the provider numbered it: the peers' routes through its gateway.
  const v6 = publicV6(m);
  for (const peer of m.bgp_neighbors[0]!.peer_ips) indexOf(b, is('ip', 'route', 'replace', `${peer}/128`, v6.gateway), `ip -6 route replace ${peer}/128 via ${v6.gateway}`);
  // Forwarding on, router advertisements still taken on the uplink (accept_ra=2), now and after a reboot.
  indexOf(b, is('sysctl', 'net/ipv6/conf/bond0/accept_ra=2'), 'sysctl -w net/ipv6/conf/bond0/accept_ra=2');
  assert.match(b.file('/etc/sysctl.d/91-native6-uplink.conf') ?? '', /^net\/ipv6\/conf\/bond0\/accept_ra = 2$/m);
  // Swap off now and after a reboot: fstab's swap lines commented out, swap units masked; before kubeadm.
  const kubeadm = indexOf(b, (c) => c.name === 'kubeadm', 'kubeadm');
  assert.ok(indexOf(b, is('swapoff', '-a'), 'swapoff -a') < kubeadm);
  assert.ok(indexOf(b, is('systemctl', 'mask', 'swap.target'), 'systemctl mask swap.target') < kubeadm);
  const fstab = b.file('/etc/fstab') ?? '';
  assert.deepEqual(
    fstab.split('\n').filter((l) => /\sswap\s/.test(l) && !l.startsWith('#')),
    [],
    `swap left in /etc/fstab:\n${fstab}`,
  );
  assert.match(fstab, /^UUID=1c5a7f2e-0b7d-4c1a-9a3e-5f0d2b6c8e11\t\/\text4\terrors=remount-ro\t0\t1$/m, 'the root line stays');
  assert.match(fstab, /^# A comment that names swap stays as it is\.$/m);
  assert.equal((fstab.match(/^# \(native6: the kubelet runs without swap\) /gm) ?? []).length, 2, fstab);
  // The kubeadm configuration: the node's own address put in, deleted after success (it holds the token).
  assert.equal(b.file(KUBEADM_CONFIG), undefined, `${KUBEADM_CONFIG} is left after success`);
  // No secret printed: not the token, the certificate key, the CA key or the BGP password.
  const caKeyLine = secrets.caKeyPem.split('\n')[1]!;
  const md5 = m.bgp_neighbors[0]!.md5_password;
  for (const [what, secret] of [['the bootstrap token', secrets.bootstrapToken.split('.')[1]!], ['the certificate key', secrets.certificateKey], ['the CA key', caKeyLine], ['the BGP password', md5]] as const) {
    for (const [where, text] of [['stdout', b.stdout], ['stderr', b.stderr], ['the journal', b.journal]] as const) assert.ok(!text.includes(secret), `${what} is printed to ${where}`);
  }
}

/** The kubeadm configuration kubeadm was given (the stub kept it). */
function kubeadmDocs(b: BootRun, sub: 'init' | 'join'): Array<Record<string, unknown>> {
  const text = b.state(`kubeadm-${sub}.yaml`);
  assert.ok(text, `kubeadm ${sub} never ran:\n${explain(b)}`);
  return parseAllDocuments(text).map((d) => d.toJS() as Record<string, unknown>);
}

describe('the Equinix Metal boot script, run (dfw)', () => {
  it('dfw-cp-1: kubeadm init behind the bootstrap DNAT, handed over once kube-proxy serves the ClusterIP', () =>
    boot('dfw-cp-1', (b, m) => {
      assertBooted(b, m);
      const address = publicV6(m).address;
      const kubeadm = callsOf(b, 'kubeadm');
      assert.deepEqual(kubeadm.map(show), [`kubeadm init --config ${KUBEADM_CONFIG} --upload-certs --skip-token-print --skip-certificate-key-print`]);
      const [init] = kubeadmDocs(b, 'init');
      assert.equal((init!.localAPIEndpoint as { advertiseAddress: string }).advertiseAddress, address);
      // The DNAT was there when kubeadm init ran, to this machine's own API server.
      const atInit = b.state('bootstrap-at-init.nft') ?? '';
      assert.match(atInit, new RegExp(`ip6 daddr ${clusterIP.replace(/:/g, ':')} tcp dport 443 dnat to \\[${address}\\]:443`));
      assert.ok(indexOf(b, is('nft', '-f', '/etc/native6/api-bootstrap.nft'), 'nft -f the bootstrap file') < indexOf(b, is('kubeadm', 'init'), 'kubeadm init'));
      // Handed over only once kube-proxy served the ClusterIP itself: the decoy Service came first.
      assert.ok(decoyIP.startsWith(clusterIP), `${decoyIP} starts with ${clusterIP}`);
      assert.equal(b.state('handover')?.trim(), 'served', 'the bootstrap DNAT went before kube-proxy served the ClusterIP');
      const ruleset = b.state('ruleset.after') ?? '';
      assert.doesNotMatch(ruleset, /n6-api-bootstrap/, 'the bootstrap DNAT is left');
      assert.match(ruleset, /table ip6 kube-proxy/);
      assert.match(b.journal, /API endpoint handed over to kube-proxy/);
    }));

  for (const [name, controlPlane] of [['dfw-cp-2', true], ['dfw-general-1', false]] as const) {
    it(`${name}: kubeadm join through the API ClusterIP${controlPlane ? ' as a control plane' : ''}, no DNAT of its own`, () =>
      boot(name, (b, m) => {
        assertBooted(b, m);
        const address = publicV6(m).address;
        assert.deepEqual(callsOf(b, 'kubeadm').map(show), [`kubeadm join --config ${KUBEADM_CONFIG}`]);
        const [join] = kubeadmDocs(b, 'join') as [{ discovery: { bootstrapToken: { apiServerEndpoint: string; caCertHashes: string[] } }; controlPlane?: { localAPIEndpoint: { advertiseAddress: string } }; nodeRegistration: { name: string; kubeletExtraArgs: Array<{ name: string; value: string }> } }];
        assert.equal(join.discovery.bootstrapToken.apiServerEndpoint, `[${clusterIP}]:443`);
        assert.deepEqual(join.discovery.bootstrapToken.caCertHashes, [secrets.caCertHash]);
        assert.equal(join.nodeRegistration.name, name);
        assert.deepEqual(join.nodeRegistration.kubeletExtraArgs, [{ name: 'node-ip', value: address }]);
        assert.equal(join.controlPlane?.localAPIEndpoint.advertiseAddress, controlPlane ? address : undefined);
        assert.deepEqual(callsOf(b, 'nft').map(show), [], 'a joining machine loads no DNAT');
        assert.doesNotMatch(b.state('ruleset.after') ?? '', /n6-api-bootstrap/);
      }));
  }

  it('dfw-general-1 on a minimal image (no curl, no gpg): everything it uses, it installs first', () =>
    boot('dfw-general-1', (b, m) => assertBooted(b, m), { preinstalled: MINIMAL }));

  it('dfw-cp-1: kube-proxy never serving the ClusterIP is a failure, with the DNAT kept and the line in the status file', () =>
    boot(
      'dfw-cp-1',
      (b) => {
        assert.notEqual(b.exitCode, 0, explain(b));
        assert.doesNotMatch(b.journal, /native6-boot: done/);
        assert.match(b.file(BOOT_STATUS) ?? '', /^failed: kube-proxy did not serve/m);
        assert.match(b.state('ruleset.after') ?? '', /table ip6 n6-api-bootstrap/, 'the DNAT stays: the API still answers on its ClusterIP');
        assert.equal(b.state('handover'), undefined);
      },
      { kubeProxyServesAfter: undefined },
    ));

  it('dfw-cp-1: a failing command leaves a status file naming its line', () =>
    boot(
      'dfw-cp-1',
      (b) => {
        assert.notEqual(b.exitCode, 0, explain(b));
        const status = b.file(BOOT_STATUS) ?? '';
        const m = /^failed: exit 1 at line (\d+): (.*)$/m.exec(status);
        assert.ok(m, `status: ${status}`);
        const script = (b.file(SCRIPT) ?? '').split('\n');
        assert.match(script[Number(m[1]) - 1] ?? '', /^kubeadm init /, `line ${m[1]} of the script is the failing command`);
        assert.match(m[2]!, /^kubeadm init /);
        assert.match(b.journal, /failed: exit 1 at line \d+: kubeadm init/);
        // Kept for a second try: the configuration is deleted only after success.
        assert.ok(b.file(KUBEADM_CONFIG));
      },
      { failKubeadm: 'init' },
    ));
});
