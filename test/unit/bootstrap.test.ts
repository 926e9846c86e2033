/**
 * The bootstrap (lib/render/bootstrap.ts) in the unit tier, beside what
 * test/unit/equinixBoot.test.ts reads of Equinix Metal's user-data: parts of
 * the boot script run by bash, its paths moved under a temporary folder and
 * what would touch the host stubbed (the machine learnt from a discovery
 * given here; its peers' routes, uplink, address and firewall; the image's
 * programs and kubeadm's version), the files' paths and modes, the shared
 * keys, and the platform's options. test/lab/bootScript.test.ts boots the
 * whole script for real (lab tier, root).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse } from 'yaml';
import type { Machine } from '../../lib/plan/addressPlan.js';
import {
  API_BOOTSTRAP_FILE,
  BOOT_SCRIPT,
  BOOT_STATUS,
  CA_KEY,
  FIREWALL_SCRIPT,
  IMAGE_PROGRAMS,
  KUBEADM_INIT_CONFIG,
  KUBEADM_JOIN_CONFIG,
  nodeBootstrap,
  packageChannel,
  PEER_ROUTES,
  ROUTES_SCRIPT,
  UPLINK_SYSCTL,
  type BootFile,
  type BootSecrets,
  type NodeDiscovery,
} from '../../lib/render/bootstrap.js';
import { HOST_FIREWALL_FILE, PEER_ELEMENTS_PLACEHOLDER } from '../../lib/render/hostFirewall.js';
import { loadSpecFile } from '../../lib/repo/workspace.js';
import { REPO_DIR } from '../../lib/toolchain/repo.js';

const { spec, plan } = loadSpecFile(REPO_DIR, 'infra/dfw.yaml').cluster!;
const machine = (name: string): Machine => plan.machines.find((m) => m.name === name)!;
const secrets: BootSecrets = {
  bootstrapToken: 'abcdef.0123456789abcdef',
  certificateKey: 'c'.repeat(64),
  caCertPem: 'CA CERT\n',
  caKeyPem: 'CA KEY\n',
  caCertHash: `sha256:${'1'.repeat(64)}`,
};
const shared = { frontProxyCaCertPem: 'FP CERT\n', frontProxyCaKeyPem: 'FP KEY\n', etcdCaCertPem: 'ETCD CERT\n', etcdCaKeyPem: 'ETCD KEY\n', saKeyPem: 'SA KEY\n', saPubPem: 'SA PUB\n' };
const ADDR = '2001:db8:2a00::5';
const GW = '2001:db8:2a00::4';
const discovery = (...extra: string[]): NodeDiscovery => ({ lines: [`addr=${ADDR}`, `gw=${GW}`, 'peers="fc00::e fc00::f"', ...extra] });
const fileOf = (files: readonly BootFile[], path: string) => files.find((f) => f.path === path);
const scriptOf = (files: readonly BootFile[]) => fileOf(files, BOOT_SCRIPT)!.content;

const BASH = execFileSync('bash', ['-c', 'command -v bash'], { encoding: 'utf8' }).trim();
const roots: string[] = [];
after(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

/**
 * The boot script's prelude (through `status running`) and the lines from `from` to `to` (inclusive), run by bash with
 * the machine's files written under a temporary folder (/etc, /var, /usr/local moved there) and each stub a program on
 * PATH that records its call, then runs its body.
 */
function runPart(files: readonly BootFile[], from: (l: string) => boolean, to: (l: string) => boolean, stubs: Record<string, string>, system = '/usr/bin:/bin') {
  const root = mkdtempSync(join(tmpdir(), 'n6-bootstrap-'));
  roots.push(root);
  const at = (path: string) => join(root, path);
  const move = (text: string) => text.replace(/(^|[\s'"=>])\/(etc|var|usr\/local)\//gm, `$1${root}/$2/`);
  for (const f of files) {
    mkdirSync(join(at(f.path), '..'), { recursive: true });
    writeFileSync(at(f.path), move(f.content));
    chmodSync(at(f.path), Number.parseInt(f.mode, 8));
  }
  const lines = scriptOf(files).split('\n');
  const start = lines.indexOf('status running');
  const a = lines.findIndex(from);
  const b = lines.findIndex((l, i) => i >= a && to(l));
  assert.ok(start > 0 && a > start && b >= a, 'the part is in the script');
  const bin = at('/stubs');
  mkdirSync(bin);
  const calls = at('/calls');
  writeFileSync(calls, '');
  const stub = (path: string, name: string, body: string) => {
    writeFileSync(path, `#!/bin/bash\necho "${name} $*" >> '${calls}'\n${body}\n`);
    chmodSync(path, 0o755);
  };
  for (const [name, body] of Object.entries(stubs)) stub(join(bin, name), name, body);
  // The scripts the boot script runs by their path: recorded, not run (test/unit/bootUnits.test.ts runs them).
  for (const path of [ROUTES_SCRIPT, FIREWALL_SCRIPT]) stub(at(path), path, 'exit 0');
  const script = move([...lines.slice(0, start + 1), ...lines.slice(a, b + 1), 'echo reached the end'].join('\n'));
  const r = spawnSync(BASH, ['-c', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: `${bin}:${system}` } });
  return { ...r, done: r.stdout.includes('reached the end'), calls: readFileSync(calls, 'utf8').split('\n').filter(Boolean), read: (path: string) => readFileSync(at(path), 'utf8'), at };
}

/** The machine's part of the script: from discovery to the firewall loaded. */
const runNode = (name: string, d: NodeDiscovery, stubs: Record<string, string> = {}) =>
  runPart(nodeBootstrap(spec, plan, machine(name), secrets, d).files, (l) => l === 'addr= gw= peers=', (l) => l === FIREWALL_SCRIPT, {
    ip: 'echo "2001:db8:2a00::4 from :: dev bond0 proto kernel src 2001:db8:2a00::5 metric 256 pref medium"',
    sysctl: 'exit 0',
    ...stubs,
  });

describe('the boot script: the machine as discovered', () => {
  it('routes the peers through the gateway, takes router advertisements on the uplink, puts its address in the configurations, fills in the firewall, loads it', () => {
    const r = runNode('dfw-cp-2', discovery());
    assert.ok(r.done, r.stderr);
    assert.equal(r.read(PEER_ROUTES), `fc00::e ${GW}\nfc00::f ${GW}\n`);
    assert.ok(!existsSync(r.at(`${PEER_ROUTES}.new`)));
    assert.equal(r.read(UPLINK_SYSCTL), 'net/ipv6/conf/bond0/accept_ra = 2\n');
    assert.deepEqual(r.calls.map((c) => c.trimEnd()), [ROUTES_SCRIPT, `ip -6 -o route get ${GW}`, 'sysctl -q -w net/ipv6/conf/bond0/accept_ra=2', FIREWALL_SCRIPT]);
    for (const path of [KUBEADM_JOIN_CONFIG, API_BOOTSTRAP_FILE]) {
      const text = r.read(path);
      assert.ok(text.includes(ADDR) && !text.includes('@NODE_ADDRESS@'), `${path} has the machine's address`);
    }
    const join = parse(r.read(KUBEADM_JOIN_CONFIG)) as { nodeRegistration: { kubeletExtraArgs: Array<{ value: string }> }; controlPlane: { localAPIEndpoint: { advertiseAddress: string } } };
    assert.equal(join.nodeRegistration.kubeletExtraArgs[0]!.value, ADDR);
    assert.equal(join.controlPlane.localAPIEndpoint.advertiseAddress, ADDR);
    const firewall = r.read(HOST_FIREWALL_FILE);
    assert.ok(firewall.split('\n').includes('    elements = { fc00::e, fc00::f }'), firewall);
    assert.ok(!firewall.includes(PEER_ELEMENTS_PLACEHOLDER));
  });

  it("the first control plane's init configuration gets the address too", () => {
    const r = runNode('dfw-cp-1', discovery());
    assert.ok(r.done, r.stderr);
    for (const path of [KUBEADM_INIT_CONFIG, KUBEADM_JOIN_CONFIG, API_BOOTSTRAP_FILE]) assert.ok(!r.read(path).includes('@NODE_ADDRESS@'), path);
    const init = parse(r.read(KUBEADM_INIT_CONFIG).split(/^---\n/m)[1]!) as { localAPIEndpoint: { advertiseAddress: string } };
    assert.equal(init.localAPIEndpoint.advertiseAddress, ADDR);
  });

  it('routes only the peers the discovery says need one; peers on the link: no routes, the firewall line deleted', () => {
    const some = runNode('dfw-general-1', discovery('routed=fc00::f'));
    assert.ok(some.done, some.stderr);
    assert.equal(some.read(PEER_ROUTES), `fc00::f ${GW}\n`);
    assert.ok(some.read(HOST_FIREWALL_FILE).includes('elements = { fc00::e, fc00::f }'), 'both are peers still');
    const none = runNode('dfw-general-1', discovery('routed='));
    assert.equal(none.read(PEER_ROUTES), '');
    const onLink = runNode('dfw-general-1', { lines: [`addr=${ADDR}`, `gw=${GW}`, 'peers='] });
    assert.ok(onLink.done, onLink.stderr);
    assert.equal(onLink.read(PEER_ROUTES), '');
    const firewall = onLink.read(HOST_FIREWALL_FILE);
    assert.ok(!firewall.includes(PEER_ELEMENTS_PLACEHOLDER) && !firewall.includes('elements = {  }'));
    assert.match(firewall, /set bgp-peers \{\n {4}type ipv6_addr\n {2}\}/);
  });

  it('fails, saying why, without an address, a gateway or an interface towards the gateway', () => {
    for (const [lines, why] of [
      [['gw=2001:db8:2a00::4'], 'no IPv6 address for this machine'],
      [['addr=null', 'gw=2001:db8:2a00::4'], 'no IPv6 address for this machine'],
      [['addr=2001:db8:2a00::5'], 'no IPv6 gateway for this machine'],
      [['addr=2001:db8:2a00::5', 'gw=null'], 'no IPv6 gateway for this machine'],
    ] as const) {
      const r = runNode('dfw-general-1', { lines });
      assert.equal(r.status, 1, why);
      assert.ok(!r.done);
      assert.equal(r.read(BOOT_STATUS), `failed: ${why}\n`);
      assert.deepEqual(r.calls, [], 'nothing done');
    }
    const r = runNode('dfw-general-1', discovery(), { ip: 'exit 0' });
    assert.equal(r.status, 1);
    assert.equal(r.read(BOOT_STATUS), `failed: no interface towards the gateway ${GW}\n`);
  });
});

describe('the boot script: packages', () => {
  it('packages: image installs nothing, and checks that the image has every program', () => {
    const { files } = nodeBootstrap(spec, plan, machine('dfw-general-1'), secrets, discovery(), { packages: 'image' });
    const script = scriptOf(files);
    execFileSync('bash', ['-n'], { input: script });
    const commands = script.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
    assert.deepEqual(commands.filter((l) => /^(apt_get|apt-mark) |\bgpg\b|pkgs\.k8s\.io/.test(l)), [], 'nothing installed');
    assert.deepEqual(IMAGE_PROGRAMS, ['containerd', 'curl', 'jq', 'nft', 'kubeadm', 'kubelet', 'kubectl']);
    // A system with mkdir only (the status), and the image's programs that are there.
    const system = mkdtempSync(join(tmpdir(), 'n6-image-'));
    roots.push(system);
    symlinkSync(execFileSync('bash', ['-c', 'command -v mkdir'], { encoding: 'utf8' }).trim(), join(system, 'mkdir'));
    const check = (have: readonly string[]) => runPart(files, (l) => l.startsWith('for p in '), (l) => l === 'done', Object.fromEntries(have.map((p) => [p, 'exit 0'])), system);
    // dfw reaches IPv4 through NAT64 (its platform's default): the image brings the translator too.
    const programs = [...IMAGE_PROGRAMS, 'tayga'];
    assert.ok(check(programs).done);
    for (const missing of programs) {
      const r = check(programs.filter((p) => p !== missing));
      assert.ok(!r.done, missing);
      assert.equal(r.read(BOOT_STATUS), `failed: the machine's image has no ${missing} (packages: image installs nothing)\n`);
    }
  });

  it("packages: image checks the image's kubeadm against the spec's version", () => {
    const { files } = nodeBootstrap(spec, plan, machine('dfw-general-1'), secrets, discovery(), { packages: 'image' });
    const version = (v: string) => runPart(files, (l) => l.startsWith('[ "$(kubeadm version -o short)" = '), (l) => l.startsWith('[ "$(kubeadm version -o short)" = '), { kubeadm: `echo ${v}` });
    assert.ok(version(spec.kubernetesVersion).done);
    const older = version('v1.35.3');
    assert.ok(!older.done);
    assert.equal(older.read(BOOT_STATUS), `failed: the image's kubeadm is v1.35.3, the spec asks ${spec.kubernetesVersion}\n`);
  });

  it("apt (the default): the prerequisites from the distribution, the Kubernetes packages from the spec's minor channel, pinned and held", () => {
    const script = scriptOf(nodeBootstrap(spec, plan, machine('dfw-general-1'), secrets, discovery()).files);
    const lines = script.split('\n');
    assert.ok(lines.includes('apt_get install -y -q containerd curl gpg jq nftables tayga'));
    // The distribution's own tayga.service (from /etc/tayga.conf) would take the same device: off.
    assert.ok(lines.includes('systemctl disable --now tayga.service 2>/dev/null || true'));
    // Without IPv4 egress: no translator installed, none of its files, its unit not enabled.
    const none = nodeBootstrap({ ...spec, egress: { ipv4: 'none' } }, { ...plan, nat64: undefined }, machine('dfw-general-1'), secrets, discovery());
    const noneLines = scriptOf(none.files).split('\n');
    assert.ok(noneLines.includes('apt_get install -y -q containerd curl gpg jq nftables'));
    assert.ok(!noneLines.some((l) => l.includes('tayga') || l.includes('native6-nat64')));
    assert.ok(!none.files.some((f) => f.path.includes('nat64') || f.path.includes('tayga')));
    assert.ok(!fileOf(none.files, '/etc/sysctl.d/90-native6.conf')!.content.includes('ipv4'));
    assert.ok(!none.start.flat().includes('native6-nat64.service'));
    assert.ok(lines.includes('curl -fsSL https://pkgs.k8s.io/core:/stable:/v1.35/deb/Release.key | gpg --batch --yes --dearmor -o /etc/apt/keyrings/kubernetes.gpg'));
    assert.ok(lines.includes('echo "deb [signed-by=/etc/apt/keyrings/kubernetes.gpg] https://pkgs.k8s.io/core:/stable:/v1.35/deb/ /" > /etc/apt/sources.list.d/kubernetes.list'));
    assert.ok(lines.includes('apt_get install -y -q kubelet="1.35.4-*" kubeadm="1.35.4-*" kubectl="1.35.4-*"'));
    assert.ok(lines.includes('apt-mark hold kubelet kubeadm kubectl containerd'));
  });

  it('the package channel is the version\'s major and minor; anything but vMAJOR.MINOR.PATCH is refused', () => {
    assert.equal(packageChannel('v1.35.4'), 'v1.35');
    assert.equal(packageChannel('v10.135.14'), 'v10.135');
    for (const bad of ['1.35.4', 'v1.35', 'v1.35.4-rc.1', 'xv1.35.4', 'v1.35.x', 'v1..4']) {
      assert.throws(() => packageChannel(bad), { message: `kubernetesVersion "${bad}" is not vMAJOR.MINOR.PATCH` }, bad);
    }
  });
});

describe('the bootstrap: files and options', () => {
  it('every file at its own absolute path; secrets readable by root only, scripts executable by root only', () => {
    for (const m of plan.machines) {
      for (const withShared of [false, true]) {
        const { files } = nodeBootstrap(spec, plan, m, withShared ? { ...secrets, shared } : secrets, discovery());
        const paths = files.map((f) => f.path);
        assert.equal(new Set(paths).size, paths.length, `${m.name}: a path twice`);
        for (const f of files) {
          assert.match(f.path, /^\/(etc|usr\/local\/sbin)\/[\w./-]+[\w]$/, `${m.name}: ${f.path}`);
          const secret = /\.key$|kubeadm-(init|join)\.yaml$|\/join-token$/.test(f.path);
          const script = f.content.startsWith('#!');
          assert.equal(f.mode, secret ? '0600' : script ? '0700' : '0644', `${m.name}: ${f.path}`);
        }
      }
    }
  });

  it("the first control plane with the stack's shared keys: each installed where kubeadm looks, kubeadm init uploads none, the private ones deleted once done", () => {
    const { files } = nodeBootstrap(spec, plan, machine('dfw-cp-1'), { ...secrets, shared }, discovery());
    const lines = scriptOf(files).split('\n').map((l) => l.trim());
    for (const [file, content] of [['front-proxy-ca.crt', 'FP CERT\n'], ['front-proxy-ca.key', 'FP KEY\n'], ['etcd/ca.crt', 'ETCD CERT\n'], ['etcd/ca.key', 'ETCD KEY\n'], ['sa.key', 'SA KEY\n'], ['sa.pub', 'SA PUB\n']] as const) {
      assert.equal(fileOf(files, `/etc/native6/pki/${file}`)?.content, content, file);
      const mode = file.endsWith('.key') ? '0600' : '0644';
      assert.ok(lines.includes(`install -D -m ${mode} /etc/native6/pki/${file} /etc/kubernetes/pki/${file}`), file);
    }
    assert.ok(!lines.some((l) => /install .*\/etc\/native6\/pki\/ca\.(crt|key) .*(front|etcd|sa)/.test(l)));
    assert.ok(lines.includes(`kubeadm init --config ${KUBEADM_INIT_CONFIG} --skip-token-print --skip-certificate-key-print`));
    assert.ok(lines.includes(`rm -f ${KUBEADM_INIT_CONFIG} ${KUBEADM_JOIN_CONFIG} ${CA_KEY} /etc/native6/pki/front-proxy-ca.key /etc/native6/pki/etcd/ca.key /etc/native6/pki/sa.key`));
    // Without them (a stack made before): kubeadm init makes and uploads its own.
    const before = scriptOf(nodeBootstrap(spec, plan, machine('dfw-cp-1'), secrets, discovery()).files).split('\n').map((l) => l.trim());
    assert.ok(!before.some((l) => l.includes('/etc/kubernetes/pki/sa.key')));
    assert.ok(before.includes(`kubeadm init --config ${KUBEADM_INIT_CONFIG} --upload-certs --skip-token-print --skip-certificate-key-print`));
    // Only the first control plane gets them.
    const other = nodeBootstrap(spec, plan, machine('dfw-cp-2'), { ...secrets, shared }, discovery()).files;
    assert.ok(!other.some((f) => f.path.startsWith('/etc/native6/pki/')));
  });

  it("the platform's kubeadm options reach the init and the join configurations; the join's discovery timeout is the bootstrap's unless given", () => {
    const options = { kubeadm: { init: { skipPhases: ['addon/kube-proxy'], sharedKernel: true }, join: { skipPhases: ['preflight'], discoveryTimeout: '15m0s' } } };
    const { files } = nodeBootstrap(spec, plan, machine('dfw-cp-1'), secrets, discovery(), options);
    const init = fileOf(files, KUBEADM_INIT_CONFIG)!.content.split(/^---\n/m).filter(Boolean).map((d) => parse(d) as Record<string, unknown>);
    assert.deepEqual(init[0]!.skipPhases, ['addon/kube-proxy']);
    assert.equal((init[2]!.conntrack as { maxPerCore: number }).maxPerCore, 0);
    const join = parse(fileOf(files, KUBEADM_JOIN_CONFIG)!.content.replace(/^---\n/, '')) as { skipPhases: string[]; timeouts: { discovery: string } };
    assert.deepEqual(join.skipPhases, ['preflight']);
    assert.equal(join.timeouts.discovery, '15m0s');
    const plain = parse(fileOf(nodeBootstrap(spec, plan, machine('dfw-cp-1'), secrets, discovery()).files, KUBEADM_JOIN_CONFIG)!.content.replace(/^---\n/, '')) as { skipPhases?: string[]; timeouts: { discovery: string } };
    assert.equal(plain.skipPhases, undefined);
    assert.equal(plain.timeouts.discovery, '5m0s');
  });
});
