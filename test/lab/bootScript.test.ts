/**
 * The bootstrap every Equinix Metal machine runs, run: the user-data that
 * userData() renders for dfw-cp-1 (kubeadm init), dfw-cp-2 (control-plane
 * join) and dfw-general-1 (worker join) of infra/dfw.yaml, booted as
 * cloud-init and systemd would in a sandbox of namespaces with stubs for
 * what a machine installs or reaches (test/bootSandbox.ts; the metadata
 * documents in test/fixtures/metadata), then rebooted where the test says.
 * What it shows: nothing is used before it is installed; apt waits out a
 * first boot's locks; swap stays off after a reboot; the uplink keeps its
 * router advertisements; kubeadm init only on the first control plane and
 * only when no cluster answers (a replaced one joins), joins through the
 * API ClusterIP, tried until they succeed; the bootstrap runs again at
 * every boot until it succeeded once, and systemd runs it again after a
 * failure; every control plane answers the ClusterIP itself at every boot
 * until its kube-proxy serves it (not a Service whose address merely starts
 * with it), so a full restart comes back; no secret is printed; the kubeadm
 * configurations and the CA key are deleted after success; a failure
 * leaves a status file naming the line.
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
import { cloudConfig, EQUINIX_DISCOVERY, METADATA_URL, userData, type DeviceSecrets } from '../../lib/platforms/equinixMetal/cloudInit.js';
import type { ClusterSpec } from '../../lib/cluster/cluster.js';
import {
  BOOT_DONE,
  BOOT_SCRIPT,
  BOOT_STATUS,
  BOOT_UNIT,
  CA_KEY,
  FIREWALL_UNIT,
  HANDOVER_STATUS,
  HANDOVER_UNIT,
  JOIN_TOKEN_FILE,
  JOIN_TOKEN_TIMER,
  KUBEADM_INIT_CONFIG,
  KUBEADM_JOIN_CONFIG,
  nodeBootstrap,
  ROUTES_UNIT,
  sharedKeyPath,
  type BootOptions,
} from '../../lib/render/bootstrap.js';
import { dnsServiceIP } from '../../lib/render/kubeadm.js';
import { BLOCK_FILE, STAND_IN_HEAD } from '../../lib/render/blockRelocation.js';
import { loadCluster } from '../../lib/platforms/load.js';
import { loadSpecFile } from '../../lib/repo/workspace.js';
import { toolPaths } from '../../lib/toolchain/pins.js';
import { DEFAULT_CACHE_DIR, REPO_DIR } from '../../lib/toolchain/repo.js';
import { ETCD_CLIENT_URLS, withBoot, type BootRecord, type BootRun, type BootScenario, type Call } from '../bootSandbox.js';
import { need, needProgram } from '../prerequisites.js';

// infra/dfw.yaml without IPv4 egress: the sandbox models no long-running daemon (the NAT64
// translator's unit restarts TAYGA whenever it exits); its files and its script are run by
// test/unit/nat64.test.ts, the boot script's tayga lines by test/unit/bootstrap.test.ts and
// test/unit/equinixBoot.test.ts, and the translator itself in the lab (verify's nat64 families).
const dfw = loadSpecFile(REPO_DIR, 'infra/dfw.yaml').cluster!;
const spec = { ...dfw.spec, egress: { ipv4: 'none' as const } };
const plan = { ...dfw.plan, nat64: undefined };
const generated = generateClusterSecrets('dfw');
const secrets: DeviceSecrets = {
  bootstrapToken: generated.bootstrapToken,
  certificateKey: generated.certificateKey,
  caCertPem: generated.caCertPem,
  caKeyPem: generated.caKeyPem,
  caCertHash: generated.caCertHash,
  shared: {
    frontProxyCaCertPem: generated.frontProxyCaCertPem,
    frontProxyCaKeyPem: generated.frontProxyCaKeyPem,
    etcdCaCertPem: generated.etcdCaCertPem,
    etcdCaKeyPem: generated.etcdCaKeyPem,
    saKeyPem: generated.saKeyPem,
    saPubPem: generated.saPubPem,
  },
};
/** A stack made before the shared keys were (kubeadm makes them, and uploads them for 2 hours). */
const { shared: _shared, ...olderSecrets } = secrets;const clusterIP = formatAddress(plan.apiServer);
const decoyIP = formatAddress(plan.apiServer + 15n);
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

function boot<T>(name: string, use: (b: BootRun, m: Metadata) => T | Promise<T>, scenario: Partial<BootScenario> = {}, given: DeviceSecrets = secrets): Promise<T> {
  const machine = plan.machines.find((m) => m.name === name)!;
  const metadata = metadataOf(name);
  const base: BootScenario = { metadata, metadataUrl: METADATA_URL, clusterIP, decoyIP, dnsIP: dnsServiceIP(plan), kubeProxyServesAfter: 15, preinstalled: UBUNTU_24_04, programs: programs() };
  return withBoot(userData(spec, plan, machine, given), { ...base, ...scenario }, (b) => use(b, metadata));
}

/** Every package the sandbox models: an image built with the programs (packages: image). */
const ALL_PACKAGES = ['containerd', 'curl', 'gpg', 'jq', 'nftables', 'kubelet', 'kubeadm', 'kubectl'];

/** Boots a bootstrap rendered with options (Equinix Metal's discovery), as cloud-init would. */
function bootWith<T>(name: string, options: BootOptions, use: (b: BootRun, m: Metadata) => T | Promise<T>, scenario: Partial<BootScenario> = {}, withSpec: ClusterSpec = spec): Promise<T> {
  const machine = plan.machines.find((m) => m.name === name)!;
  const metadata = metadataOf(name);
  const base: BootScenario = { metadata, metadataUrl: METADATA_URL, clusterIP, decoyIP, dnsIP: dnsServiceIP(plan), kubeProxyServesAfter: 15, preinstalled: UBUNTU_24_04, programs: programs() };
  const userData = cloudConfig(name, nodeBootstrap(withSpec, plan, machine, secrets, EQUINIX_DISCOVERY, options));
  return withBoot(userData, { ...base, ...scenario }, (b) => use(b, metadata));
}

const show = (c: Call) => [c.name, ...c.args].join(' ');
const callsOf = (b: BootRecord, name: string) => b.calls.filter((c) => c.name === name && !(name === 'kubeadm' && c.args[0] === 'config'));
const indexOf = (b: BootRecord, pred: (c: Call) => boolean, what: string) => {
  const i = b.calls.findIndex(pred);
  assert.ok(i >= 0, `no call ${what}:\n${b.calls.map(show).join('\n')}`);
  return i;
};
const is = (name: string, ...args: string[]) => (c: Call) => c.name === name && args.every((a) => c.args.includes(a));
const explain = (b: BootRun | BootRecord) =>
  `${'exitCode' in b ? `exit ${b.exitCode}\nstdout:\n${b.stdout}\nstderr:\n${b.stderr}\n` : ''}units:\n${b.units.join('\n')}\njournal:\n${b.journal}\ncalls:\n${b.calls.map((c) => `${c.state === 'base' ? '' : `[${c.state}] `}${show(c)}`).join('\n')}`;
/** systemd's model's record of a unit: its exits' statuses, and whether its condition kept it from running. */
const exits = (b: BootRecord, unit: string) => b.units.filter((u) => u.startsWith(`${unit} exit `)).map((u) => Number(u.split(' ')[2]));
const skipped = (b: BootRecord, unit: string) => b.units.includes(`${unit} condition-failed`);
const INIT = `kubeadm init --config ${KUBEADM_INIT_CONFIG} --skip-token-print --skip-certificate-key-print`;
const JOIN = `kubeadm join --config ${KUBEADM_JOIN_CONFIG}`;
/** What a control plane runs before each join: the certificates and kubeconfigs it asks etcd with (lib/render/bootEtcd.ts). */
const PREPARE = ['download-certs', 'certs', 'kubeconfig'].map((p) => `kubeadm join phase control-plane-prepare ${p} --config ${KUBEADM_JOIN_CONFIG}`);
const natTo = (address: string) => new RegExp(`ip6 daddr ${clusterIP} tcp dport 443 dnat to \\[${address}\\]:443`);

/** What every machine's boot must show, whatever its role (from the package repository, unless its image carries the programs). */
function assertBooted(b: BootRun, m: Metadata, packages: 'apt' | 'image' = 'apt'): void {
  const missing = b.calls.filter((c) => c.state === 'missing');
  assert.deepEqual(missing.map(show), [], `used before it was installed (exit 127 on a stock image):\n${explain(b)}`);
  assert.equal(b.exitCode, 0, explain(b));
  // cloud-init's runcmd, in order: the sysctls, the module, the units; the bootstrap is started, not waited for.
  const controlPlane = b.file(`/etc/systemd/system/${HANDOVER_UNIT}`) !== undefined;
  assert.deepEqual(b.calls.slice(0, 5).map(show), [
    'sysctl --system',
    'modprobe overlay',
    'systemctl daemon-reload',
    `systemctl enable ${BOOT_UNIT} ${FIREWALL_UNIT} ${ROUTES_UNIT}${controlPlane ? ` ${HANDOVER_UNIT} ${JOIN_TOKEN_TIMER}` : ''}`,
    `systemctl start --no-block ${BOOT_UNIT}`,
  ]);
  assert.equal(exits(b, BOOT_UNIT).at(-1), 0, `the bootstrap unit succeeded in the end:\n${explain(b)}`);
  assert.equal(b.file(BOOT_STATUS)?.trim(), 'done', 'the status file says done');
  assert.equal(b.file(BOOT_DONE), '', 'the stamp that keeps the bootstrap from running again');
  // A control plane keeps the stack's join token valid from now on (its timer started; run in the lab, test/lab/gitops.test.ts).
  if (controlPlane) {
    assert.equal(b.file(JOIN_TOKEN_FILE), `${secrets.bootstrapToken}\n`, 'the join token kept for its renewal');
    assert.deepEqual((b.state('timers') ?? '').trim().split('\n'), [JOIN_TOKEN_TIMER], 'the renewal timer started once the machine is in the cluster');
  } else {
    assert.equal(b.file(JOIN_TOKEN_FILE), undefined, 'a worker keeps no join token');
  }
  // apt waits for a first boot's locks: the dpkg lock through apt, the lists lock retried.
  for (const c of callsOf(b, 'apt-get')) assert.ok(c.args.join(' ').includes('-o DPkg::Lock::Timeout=600'), `apt-get without the lock timeout: ${show(c)}`);
  if (packages === 'apt') {
    const installed = [...new Set((b.state('packages') ?? '').trim().split('\n'))].sort();
    assert.deepEqual(installed, ['containerd', 'curl', 'gpg', 'jq', 'kubeadm', 'kubectl', 'kubelet', 'nftables']);
    assert.ok(callsOf(b, 'apt-mark').some((c) => c.args.join(' ') === 'hold kubelet kubeadm kubectl containerd'));
    assert.match(b.file('/etc/apt/sources.list.d/kubernetes.list') ?? '', /https:\/\/pkgs\.k8s\.io\/core:\/stable:\/v1\.35\/deb\//);
  }
  // containerd: systemd cgroups, and the pause image the pinned kubeadm names (not containerd's own).
  const containerd = b.file('/etc/containerd/config.toml') ?? '';
  assert.match(containerd, /SystemdCgroup = true/);
  assert.match(containerd, /^ {4}sandbox_image = "registry\.k8s\.io\/pause:3\.10\.1"$/m, containerd);
  assert.ok(indexOf(b, is('kubeadm', 'config', 'images', 'list', '--kubernetes-version', 'v1.35.4'), 'asking kubeadm its pause image') < indexOf(b, is('systemctl', 'restart', 'containerd'), 'containerd restarted'));
  // The node as the provider numbered it: the peers' routes through its gateway.
  const v6 = publicV6(m);
  for (const peer of m.bgp_neighbors[0]!.peer_ips) indexOf(b, is('ip', 'route', 'replace', `${peer}/128`, v6.gateway), `ip -6 route replace ${peer}/128 via ${v6.gateway}`);
  assert.equal(b.file('/etc/native6/peer-routes'), m.bgp_neighbors[0]!.peer_ips.map((p) => `${p} ${v6.gateway}\n`).join(''), 'kept for the next boots');
  // The machine's own firewall, with its peers, loaded before kubeadm (the real nft, in the sandbox's network namespace).
  assertFirewall(b, m);
  assert.ok(indexOf(b, is('nft', '-f', '/etc/native6/host-firewall.nft'), 'the firewall loaded') < indexOf(b, (c) => c.name === 'kubeadm' && ['init', 'join'].includes(c.args[0]!), 'kubeadm init or join'));
  // Forwarding on, router advertisements still taken on the uplink (accept_ra=2), now and after a reboot.
  indexOf(b, is('sysctl', 'net/ipv6/conf/bond0/accept_ra=2'), 'sysctl -w net/ipv6/conf/bond0/accept_ra=2');
  assert.match(b.file('/etc/sysctl.d/91-native6-uplink.conf') ?? '', /^net\/ipv6\/conf\/bond0\/accept_ra = 2$/m);
  // Swap off now and after a reboot: fstab's swap lines commented out, swap units masked; before kubeadm init or join.
  const kubeadm = indexOf(b, (c) => c.name === 'kubeadm' && ['init', 'join'].includes(c.args[0]!), 'kubeadm init or join');
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
  // The kubeadm configurations (token, certificate key) and the CA key: deleted after success.
  for (const f of [KUBEADM_INIT_CONFIG, KUBEADM_JOIN_CONFIG, CA_KEY, ...['front-proxy-ca.key', 'etcd/ca.key', 'sa.key'].map(sharedKeyPath)]) assert.equal(b.file(f), undefined, `${f} is left after success`);
  // No secret printed: not the token, the certificate key, the CA key or the BGP password.
  const caKeyLine = secrets.caKeyPem.split('\n')[1]!;
  const md5 = m.bgp_neighbors[0]!.md5_password;
  const keyLine = (pem: string) => pem.split('\n')[1]!;
  for (const [what, secret] of [
    ['the bootstrap token', secrets.bootstrapToken.split('.')[1]!],
    ['the certificate key', secrets.certificateKey],
    ['the CA key', caKeyLine],
    ['the front-proxy CA key', keyLine(generated.frontProxyCaKeyPem)],
    ['the etcd CA key', keyLine(generated.etcdCaKeyPem)],
    ['the service-account key', keyLine(generated.saKeyPem)],
    ['the BGP password', md5],
  ] as const) {
    for (const [where, text] of [['stdout', b.stdout], ['stderr', b.stderr], ['the journal', b.journal]] as const) assert.ok(!text.includes(secret), `${what} is printed to ${where}`);
  }
}

/** The machine's firewall as the kernel holds it at the end of a boot: input dropped but for what is named, BGP from its peers. */
function assertFirewall(b: BootRecord, m: Metadata): void {
  const table = /table inet n6-host \{[\s\S]*?\n\}/.exec(b.ruleset)?.[0] ?? '';
  assert.ok(table, `no firewall in the ruleset:\n${b.ruleset}`);
  assert.match(table, /type filter hook input priority filter; policy drop;/);
  assert.match(table, new RegExp(`set bgp-peers \\{[^}]*elements = \\{ ${m.bgp_neighbors[0]!.peer_ips.join(',\\s+')} \\}`));
  assert.match(table, /ip6 saddr @bgp-peers tcp dport 179 accept/);
  assert.match(table, /ip6 saddr @cluster tcp dport \{ 2379, 2380, 10250, 10256 \} accept/);
}

/** The kubeadm configuration kubeadm was given (the stub kept it). */
function kubeadmDocs(b: BootRun, sub: 'init' | 'join'): Array<Record<string, unknown>> {
  const text = b.state(`kubeadm-${sub}.yaml`);
  assert.ok(text, `kubeadm ${sub} never ran:\n${explain(b)}`);
  return parseAllDocuments(text).map((d) => d.toJS() as Record<string, unknown>);
}

/** A control plane's API handover in one boot: the ClusterIP translated to its own API server, until kube-proxy served it. */
function assertHandedOver(b: BootRecord): void {
  assert.deepEqual(exits(b, HANDOVER_UNIT), [0], `the handover ended:\n${explain(b)}`);
  const load = b.calls.findLastIndex(is('nft', '-f', '/etc/native6/api-bootstrap.nft'));
  assert.ok(load >= 0 && b.calls.slice(load).some(is('nft', 'delete', 'table', 'ip6', 'n6-api-bootstrap')), `the translation loaded, then deleted:\n${explain(b)}`);
  assert.equal(b.handover, 'served', `the translation went before kube-proxy served the ClusterIP:\n${explain(b)}`);
  assert.doesNotMatch(b.ruleset, /n6-api-bootstrap/, 'the bootstrap DNAT is left');
  assert.match(b.ruleset, /table ip6 kube-proxy/);
  assert.match(b.journal, new RegExp(`\\[${clusterIP}\\]:443 answered by this machine's API server until kube-proxy serves it`));
  assert.match(b.journal, /API endpoint handed over to kube-proxy/);
}

describe('the Equinix Metal bootstrap, run (dfw)', () => {
  it('dfw-cp-1: no cluster answers, so kubeadm init behind the bootstrap DNAT, handed over once kube-proxy serves the ClusterIP', () =>
    boot('dfw-cp-1', (b, m) => {
      assertBooted(b, m);
      const address = publicV6(m).address;
      assert.deepEqual(callsOf(b, 'kubeadm').map(show), [INIT]);
      // Asked first whether the cluster exists, with the CA: three looks, none answered.
      const looks = b.calls.filter((c) => c.name === 'curl' && c.args.includes(`https://[${clusterIP}]:443/version`));
      assert.equal(looks.length, 3);
      for (const c of looks) assert.equal(c.args[c.args.indexOf('--cacert') + 1], '/etc/native6/pki/ca.crt');
      assert.ok(b.calls.indexOf(looks[2]!) < indexOf(b, is('kubeadm', 'init'), 'kubeadm init'));
      const [init] = kubeadmDocs(b, 'init');
      assert.equal((init!.localAPIEndpoint as { advertiseAddress: string }).advertiseAddress, address);
      // The DNAT was there when kubeadm init ran, to this machine's own API server.
      assert.match(b.state('bootstrap-at-init.nft') ?? '', natTo(address));
      assert.ok(indexOf(b, is('nft', '-f', '/etc/native6/api-bootstrap.nft'), 'nft -f the bootstrap file') < indexOf(b, is('kubeadm', 'init'), 'kubeadm init'));
      assert.equal(b.file('/etc/kubernetes/pki/ca.key'), secrets.caKeyPem, 'kubeadm found the cluster CA');
      // The keys the control planes share, the stack's: kubeadm uses them, and uploads none (apply does, for later joins).
      for (const [file, pem] of [['front-proxy-ca.crt', generated.frontProxyCaCertPem], ['front-proxy-ca.key', generated.frontProxyCaKeyPem], ['etcd/ca.crt', generated.etcdCaCertPem], ['etcd/ca.key', generated.etcdCaKeyPem], ['sa.key', generated.saKeyPem], ['sa.pub', generated.saPubPem]] as const) {
        assert.equal(b.file(`/etc/kubernetes/pki/${file}`), pem, file);
      }
      // Handed over only once kube-proxy served the ClusterIP itself: the decoy Service came first.
      assert.ok(decoyIP.startsWith(clusterIP), `${decoyIP} starts with ${clusterIP}`);
      assertHandedOver(b);
      assert.equal(b.file(HANDOVER_STATUS)?.trim(), 'handed over');
      assert.match(b.file('/etc/native6/api-bootstrap.nft') ?? '', natTo(address), 'kept, with this machine\'s address, for the next boots');
    }));

  it('dfw-cp-1 of a stack made before the shared keys: kubeadm makes its own and uploads them (for 2 hours)', () =>
    boot(
      'dfw-cp-1',
      (b, m) => {
        assertBooted(b, m);
        assert.deepEqual(callsOf(b, 'kubeadm').map(show), [`kubeadm init --config ${KUBEADM_INIT_CONFIG} --upload-certs --skip-token-print --skip-certificate-key-print`]);
        assert.equal(b.file('/etc/kubernetes/pki/sa.key'), undefined);
      },
      {},
      olderSecrets,
    ));

  for (const [name, controlPlane] of [['dfw-cp-2', true], ['dfw-general-1', false]] as const) {
    it(`${name}: kubeadm join through the API ClusterIP${controlPlane ? ' as a control plane, then answers the ClusterIP itself until its kube-proxy serves it' : ', no translation of its own'}`, () =>
      boot(name, (b, m) => {
        assertBooted(b, m);
        const address = publicV6(m).address;
        assert.deepEqual(callsOf(b, 'kubeadm').map(show), [...(controlPlane ? PREPARE : []), JOIN]);
        // No etcd member at its peer URL: nothing removed.
        assert.equal(b.state('etcd-removed'), undefined);
        const [join] = kubeadmDocs(b, 'join') as [{ discovery: { bootstrapToken: { apiServerEndpoint: string; caCertHashes: string[] } }; controlPlane?: { localAPIEndpoint: { advertiseAddress: string } }; nodeRegistration: { name: string; kubeletExtraArgs: Array<{ name: string; value: string }> } }];
        assert.equal(join.discovery.bootstrapToken.apiServerEndpoint, `[${clusterIP}]:443`);
        assert.deepEqual(join.discovery.bootstrapToken.caCertHashes, [secrets.caCertHash]);
        assert.equal(join.nodeRegistration.name, name);
        assert.deepEqual(join.nodeRegistration.kubeletExtraArgs, [{ name: 'node-ip', value: address }]);
        assert.equal(join.controlPlane?.localAPIEndpoint.advertiseAddress, controlPlane ? address : undefined);
        assert.equal(b.file('/etc/native6/pki/ca.crt'), undefined, 'only the first control plane is given the CA');
        if (controlPlane) {
          // Only after the join: the translation would send the join to this machine's own, absent API server.
          assert.ok(indexOf(b, is('kubeadm', 'join'), 'kubeadm join') < indexOf(b, is('nft', '-f', '/etc/native6/api-bootstrap.nft'), 'nft -f the translation'));
          assert.match(b.file('/etc/native6/api-bootstrap.nft') ?? '', natTo(address));
          assertHandedOver(b);
        } else {
          assert.deepEqual(callsOf(b, 'nft').map(show), ['nft -f /etc/native6/host-firewall.nft'], 'a worker loads its firewall and no DNAT');
          assert.deepEqual(exits(b, HANDOVER_UNIT), []);
          assert.doesNotMatch(b.ruleset, /n6-api-bootstrap/);
        }
      }));
  }

  it('dfw-general-1 on a minimal image (no curl, no gpg): everything it uses, it installs first', () =>
    boot('dfw-general-1', (b, m) => assertBooted(b, m), { preinstalled: MINIMAL }));

  it('dfw-general-1 from an image that carries the programs (packages: image): nothing installed, its kubeadm checked against the spec', () =>
    bootWith(
      'dfw-general-1',
      { packages: 'image' },
      (b, m) => {
        assertBooted(b, m, 'image');
        assert.equal(b.file('/etc/apt/sources.list.d/kubernetes.list'), undefined);
        assert.deepEqual([...callsOf(b, 'apt-get'), ...callsOf(b, 'apt-mark'), ...callsOf(b, 'gpg')].map(show), [], 'an image boot installs nothing');
        assert.ok(b.calls.some(is('kubeadm', 'version', '-o', 'short')), explain(b));
      },
      { preinstalled: ALL_PACKAGES },
    ));

  it('dfw-general-1 from an image whose kubeadm is not the spec\'s version: the boot stops before kubeadm runs, and says why', () =>
    bootWith(
      'dfw-general-1',
      { packages: 'image' },
      (b) => {
        assert.match(b.file(BOOT_STATUS) ?? '', /^failed: the image's kubeadm is v1\.35\.4, the spec asks v1\.35\.3$/m, explain(b));
        assert.equal(b.file(BOOT_DONE), undefined);
        assert.deepEqual(callsOf(b, 'kubeadm').map(show).filter((c) => c !== 'kubeadm version -o short'), [], 'no join tried');
      },
      { preinstalled: ALL_PACKAGES },
      { ...spec, kubernetesVersion: 'v1.35.3' },
    ));

  it('dfw-general-1: a join that fails (the endpoint not answering yet) is reset and tried again until it succeeds', () =>
    boot(
      'dfw-general-1',
      (b, m) => {
        assertBooted(b, m);
        assert.deepEqual(callsOf(b, 'kubeadm').map(show), [JOIN, 'kubeadm reset --force', JOIN, 'kubeadm reset --force', JOIN, 'kubeadm reset --force', JOIN]);
        assert.equal(b.state('resets')?.trim(), '3');
        assert.equal((b.journal.match(/kubeadm join through \[[0-9a-f:]+\]:443 failed \(try \d\): kubeadm reset, again in 30 s/g) ?? []).length, 3);
      },
      { failKubeadm: { sub: 'join', times: 3 } },
    ));

  it('dfw-general-1: the metadata service down at the first boot; systemd tries again, and the next boot finishes the bootstrap', () =>
    boot(
      'dfw-general-1',
      (b, m) => {
        // The first boot: the unit fails, systemd runs it again 30 s later, each time to the same end.
        assert.ok(exits(b, BOOT_UNIT).length > 1 && exits(b, BOOT_UNIT).every((e) => e !== 0), explain(b));
        assert.ok(callsOf(b, 'sleep').some((c) => c.args[0] === '30'), 'RestartSec');
        assert.deepEqual(callsOf(b, 'kubeadm'), []);
        // The second boot: runcmd does not run again, systemd starts the enabled unit, which finishes.
        const [again] = b.reboots;
        assert.ok(again);
        assert.ok(!again.calls.some((c) => c.name === 'systemctl' && c.args[0] === 'daemon-reload'), 'cloud-init ran runcmd again');
        assert.deepEqual(exits(again, BOOT_UNIT), [0], explain(again));
        assert.deepEqual(callsOf(again, 'kubeadm').map(show), [JOIN]);
        assert.equal(b.file(BOOT_STATUS)?.trim(), 'done');
        void m;
      },
      { metadataDown: true, reboots: [{ metadataDown: false }] },
    ));

  it('dfw-cp-1: kube-proxy never serving the ClusterIP: the bootstrap is done, the translation stays and the handover keeps looking', () =>
    boot(
      'dfw-cp-1',
      (b, m) => {
        assertBooted(b, m);
        assert.match(b.ruleset, natTo(publicV6(m).address), 'the DNAT stays: the API still answers on its ClusterIP');
        assert.equal(b.handover, undefined);
        assert.match(b.file(HANDOVER_STATUS) ?? '', /^waiting: /);
        assert.match(b.journal, /kube-proxy does not serve \[[0-9a-f:]+\]:443 yet \(60 s\): the translation stays/);
        assert.ok(b.units.includes(`${HANDOVER_UNIT} cut-off`), explain(b));
      },
      { kubeProxyServesAfter: undefined, horizonS: 900 },
    ));

  it('dfw-cp-1: kubeadm init failing late is reset and run again by systemd; every try leaves its line in the status file', () =>
    boot(
      'dfw-cp-1',
      (b, m) => {
        assertBooted(b, m);
        assert.deepEqual(exits(b, BOOT_UNIT), [1, 0]);
        assert.deepEqual(callsOf(b, 'kubeadm').map(show), [INIT, 'kubeadm reset --force', INIT]);
        assert.match(b.journal, /failed: exit 1 at line \d+: kubeadm init /);
        assert.match(b.journal, /a former try left kubeadm's files: kubeadm reset/);
      },
      { failKubeadm: { sub: 'init', times: 1 } },
    ));

  it('dfw-cp-1: kubeadm init failing every time: the status file names the line, the configuration is kept for the next try', () =>
    boot(
      'dfw-cp-1',
      (b) => {
        assert.ok(exits(b, BOOT_UNIT).every((e) => e === 1), explain(b));
        assert.ok(b.units.includes(`${BOOT_UNIT} sandbox-gave-up`), explain(b));
        const status = b.file(BOOT_STATUS) ?? '';
        const found = /^failed: exit 1 at line (\d+): (.*)$/m.exec(status);
        assert.ok(found, `status: ${status}`);
        const script = (b.file(BOOT_SCRIPT) ?? '').split('\n');
        assert.match(script[Number(found[1]) - 1] ?? '', /^\s*kubeadm init /, `line ${found[1]} of the script is the failing command`);
        assert.match(found[2]!, /^kubeadm init /);
        assert.ok(b.file(KUBEADM_INIT_CONFIG));
        assert.ok(b.file(CA_KEY));
        assert.equal(b.file(BOOT_DONE), undefined);
      },
      { failKubeadm: { sub: 'init', times: Infinity } },
    ));

  it('dfw-cp-1 replaced: the cluster answers on its ClusterIP, so it joins as a control plane, no kubeadm init', () =>
    boot(
      'dfw-cp-1',
      (b, m) => {
        assertBooted(b, m);
        assert.deepEqual(callsOf(b, 'kubeadm').map(show), [...PREPARE, JOIN]);
        const [join] = kubeadmDocs(b, 'join') as [{ controlPlane?: { localAPIEndpoint: { advertiseAddress: string } } }];
        assert.equal(join.controlPlane?.localAPIEndpoint.advertiseAddress, publicV6(m).address);
        // Replaced in place: the etcd member its former self left at its address removed first (ID 102, the second peer), asked
        // through the other member's client URL with the certificates the join prepared; kubeadm then adds it anew.
        assert.equal(b.state('etcd-removed')?.trim(), '102');
        const removal = indexOf(b, (c) => c.name === 'curl' && c.args.some((a) => a.endsWith('/v3/cluster/member/remove')), 'the member removed');
        assert.ok(removal < indexOf(b, (c) => show(c) === JOIN, 'kubeadm join'), 'removed before the join');
        assert.ok(b.calls[removal]!.args.includes(`${ETCD_CLIENT_URLS[0]}/v3/cluster/member/remove`));
        assert.match(b.journal, new RegExp(`etcd member 102 at https://\\[${publicV6(m).address}\\]:2380 is a former machine's \\(this one has no etcd data\\): removed through`));
        assert.match(b.journal, /the cluster answers on \[[0-9a-f:]+\]:443: this machine joins it as a control plane/);
        assert.equal(b.state('bootstrap-at-init.nft'), undefined);
        assert.ok(indexOf(b, is('kubeadm', 'join'), 'kubeadm join') < indexOf(b, is('nft', '-f', '/etc/native6/api-bootstrap.nft'), 'nft -f the translation'), 'no translation before the join');
        assert.equal(b.file('/etc/kubernetes/pki/ca.key'), undefined, 'the CA key is not installed for a join');
        assertHandedOver(b);
      },
      { clusterAnswers: true, etcdPeers: ['https://[2001:db8:ffff::e7cd]:2380', `https://[${publicV6(metadataOf('dfw-cp-1')).address}]:2380`] },
    ));

  it('dfw-cp-2 of a spec that gives only its block\'s size: rendered inside the stand-in block, moved at boot into the block the metadata names, then joined through the ClusterIP in it', () => {
    const sized = loadCluster('infra/dfw.yaml', readFileSync(join(REPO_DIR, 'infra/dfw.yaml'), 'utf8').replace(/^ {4}block: .*$/m, '    blockSize: 56'));
    if (!sized.ok) throw new Error(JSON.stringify(sized.problems));
    const sizedSpec = { ...sized.spec, egress: { ipv4: 'none' as const } };
    const sizedPlan = { ...sized.plan, nat64: undefined };
    const machine = sizedPlan.machines.find((m) => m.name === 'dfw-cp-2')!;
    const metadata = metadataOf('dfw-cp-2');
    const userData = cloudConfig('dfw-cp-2', nodeBootstrap(sizedSpec, sizedPlan, machine, secrets, EQUINIX_DISCOVERY));
    assert.ok(!userData.includes(clusterIP), 'no address of the provider\'s block in the user-data');
    const base: BootScenario = { metadata, metadataUrl: METADATA_URL, clusterIP, decoyIP, dnsIP: dnsServiceIP(plan), kubeProxyServesAfter: 15, preinstalled: UBUNTU_24_04, programs: programs() };
    return withBoot(userData, base, (b) => {
      assertBooted(b, metadata);
      assert.equal(b.file(BLOCK_FILE)?.trim(), '2001:db8:2a00::/56', 'the block learned from the metadata');
      const [join] = kubeadmDocs(b, 'join') as [{ discovery: { bootstrapToken: { apiServerEndpoint: string } } }];
      assert.equal(join.discovery.bootstrapToken.apiServerEndpoint, `[${clusterIP}]:443`, 'the ClusterIP of the provider\'s block, as the spec that names it gives');
      assert.ok(!JSON.stringify(join).includes(STAND_IN_HEAD), 'nothing of the stand-in block left');
      assert.match(b.journal, /the provider's block is 2001:db8:2a00::\/56: the plan's addresses moved into it/);
      assertHandedOver(b);
    });
  });

  for (const name of ['dfw-cp-1', 'dfw-cp-2', 'dfw-general-1']) {
    const controlPlane = name.includes('-cp-');
    it(`${name}, every machine restarted at once: the bootstrap does not run again, the peer routes come back${controlPlane ? '; the ClusterIP is answered here until kube-proxy serves it' : ''}`, () =>
      boot(
        name,
        (b, m) => {
          assertBooted(b, m);
          const [again, never] = b.reboots;
          assert.ok(again && never);
          for (const r of [again, never]) {
            assert.ok(skipped(r, BOOT_UNIT), explain(r));
            assert.deepEqual([...callsOf(r, 'kubeadm'), ...callsOf(r, 'apt-get')], []);
            // The kernel forgot the routes to the BGP peers and the firewall: made again at every boot (P2, M10).
            assert.deepEqual(exits(r, ROUTES_UNIT), [0]);
            assert.deepEqual(exits(r, FIREWALL_UNIT), [0]);
            assertFirewall(r, m);
            const gw = publicV6(m).gateway;
            assert.deepEqual(callsOf(r, 'ip').map(show), m.bgp_neighbors[0]!.peer_ips.map((p) => `ip -6 route replace ${p}/128 via ${gw}`));
          }
          if (!controlPlane) {
            assert.deepEqual([...callsOf(again, 'nft'), ...callsOf(never, 'nft')].map(show), ['nft -f /etc/native6/host-firewall.nft', 'nft -f /etc/native6/host-firewall.nft'], 'its firewall, and no translation');
            return;
          }
          assertHandedOver(again);
          // kube-proxy not serving (it has not reached the API yet): the translation stays, so it can.
          assert.match(never.ruleset, natTo(publicV6(m).address), explain(never));
          assert.equal(never.handover, undefined);
        },
        { reboots: [{}, { kubeProxyServesAfter: undefined }], horizonS: 600 },
      ));
  }
});
