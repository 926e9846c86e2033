/**
 * What metal's calico-node autodetection (kubernetes-internal-ip,
 * lib/platforms/metal/calico.ts) relies on: every machine's kubelet is
 * given node-ip = its spec.machines[].address, the address its routers
 * expect the session from, whichever way the address reaches the kubeadm
 * configuration: the boot script's own discovery lines and substitution
 * (run here in sh, with `ip` answering as the machine would), which refuse a
 * machine that does not hold the address; or the files filled in over SSH
 * (filledFiles). For every machine of infra/colo.yaml.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { containsAddress, formatAddress } from '../../lib/net/ipv6.js';
import { METAL_IP6_AUTODETECTION } from '../../lib/platforms/metal/calico.js';
import { filledFiles, listedDiscovery } from '../../lib/platforms/metal/platform.js';
import { nodeBootstrap, type BootFile, type BootSecrets } from '../../lib/render/bootstrap.js';
import { BOOT_SCRIPT, KUBEADM_INIT_CONFIG, KUBEADM_JOIN_CONFIG, NODE_ADDRESS_PLACEHOLDER } from '../../lib/render/bootPaths.js';
import { loadSpecFile } from '../../lib/repo/workspace.js';
import { REPO_DIR } from '../../lib/toolchain/repo.js';

const secrets: BootSecrets = { bootstrapToken: 'abcdef.0123456789abcdef', certificateKey: 'c'.repeat(64), caCertPem: 'CA CERT\n', caKeyPem: 'CA KEY\n', caCertHash: `sha256:${'1'.repeat(64)}` };
const CONFIGS = [KUBEADM_INIT_CONFIG, KUBEADM_JOIN_CONFIG];

/** The kubelet's node-ip in a kubeadm configuration (its Init or Join document). */
function nodeIp(config: string): string {
  const docs = parseAllDocuments(config).map((d) => d.toJS() as any);
  const reg = docs.filter((d) => d?.kind === 'InitConfiguration' || d?.kind === 'JoinConfiguration').map((d) => d.nodeRegistration);
  assert.equal(reg.length, 1, 'one nodeRegistration');
  const args = (reg[0].kubeletExtraArgs as { name: string; value: string }[]).filter((a) => a.name === 'node-ip');
  assert.equal(args.length, 1, 'one node-ip');
  return args[0]!.value;
}

/**
 * The boot script's discovery lines and its substitution of the address
 * into the kubeadm configurations, run in sh on copies of the files, with
 * `ip -6 -o addr show scope global` listing `held`. Everything else the
 * script does is left out.
 */
function bootSubstitution(files: readonly BootFile[], held: readonly string[]): { status: number | null; stderr: string; configs: Map<string, string> } {
  const script = files.find((f) => f.path === BOOT_SCRIPT)!.content.split('\n');
  const start = script.indexOf('addr= gw= peers=');
  const sed = script.findIndex((l) => l.startsWith(`sed -i "s/${NODE_ADDRESS_PLACEHOLDER}/$addr/g"`));
  assert.ok(start >= 0 && sed > start, 'the boot script sets the address, then puts it into the configurations');
  const check = script.slice(start, sed).filter((l) => l.startsWith('addr=') || l.includes('does not hold') || l.includes('no IPv6 address'));
  const dir = mkdtempSync(join(tmpdir(), 'n6-nodeip-'));
  try {
    // Every file the substitution names (the kubeadm configurations, the API's bootstrap translation), copied.
    const named = files.filter((f) => script[sed]!.split(' ').includes(f.path));
    const local = (path: string) => join(dir, path.split('/').at(-1)!);
    for (const f of named) writeFileSync(local(f.path), f.content);
    const fake = [
      'fail() { echo "$*" >&2; exit 1; }',
      `ip() { printf '%s\\n' ${held.map((a) => `'2: eth0    inet6 ${a}/64 scope global dynamic mngtmpaddr'`).join(' ')}; }`,
    ];
    let line = script[sed]!;
    for (const f of named) line = line.split(f.path).join(local(f.path));
    const r = spawnSync('sh', ['-c', [...fake, ...check, line].join('\n')], { encoding: 'utf8' });
    const configs = named.filter((f) => CONFIGS.includes(f.path));
    return { status: r.status, stderr: r.stderr, configs: new Map(configs.map((f) => [f.path, readFileSync(local(f.path), 'utf8')])) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const { spec, plan } = loadSpecFile(REPO_DIR, 'infra/colo.yaml').cluster!;
const inventory = spec.inventory!;

test("metal (infra/colo.yaml): every machine's kubelet node-ip is its spec address, by the boot script and over SSH alike", () => {
  assert.equal(METAL_IP6_AUTODETECTION, 'kubernetes-internal-ip', 'calico-node takes the Node InternalIP, the kubelet node-ip');
  assert.equal(plan.machines.length, 5);
  for (const machine of plan.machines) {
    const listed = inventory.machines.find((m) => m.name === machine.name)!;
    const uplink = inventory.uplinks.find((u) => u.name === listed.uplink)!;
    const address = formatAddress(listed.address);
    assert.ok(containsAddress(uplink.prefix, listed.address), `${machine.name} is on its uplink`);
    const files = nodeBootstrap(spec, plan, machine, secrets, listedDiscovery(spec, machine)).files;
    const expected = machine.name === 'colo-a1' ? CONFIGS : [KUBEADM_JOIN_CONFIG];
    assert.deepEqual(files.filter((f) => CONFIGS.includes(f.path)).map((f) => f.path), expected, machine.name);
    for (const f of files.filter((x) => CONFIGS.includes(x.path))) assert.equal(nodeIp(f.content), NODE_ADDRESS_PLACEHOLDER, `${machine.name} ${f.path}: filled at boot`);

    // At a first boot, on a machine that holds its address and a second one in the same prefix (SLAAC).
    const slaac = formatAddress(uplink.prefix.address + 0x5054_00ff_fe00_0001n);
    const booted = bootSubstitution(files, [slaac, address]);
    assert.equal(booted.status, 0, `${machine.name}: ${booted.stderr}`);
    assert.deepEqual([...booted.configs.keys()], expected, `${machine.name}: the substitution names its configurations`);
    for (const [path, content] of booted.configs) assert.equal(nodeIp(content), address, `${machine.name} ${path}`);

    // Over SSH: the files filled in with the address the platform gives (its inventory's).
    const filled = filledFiles(files, address, uplink.routers.map((r) => formatAddress(r.address)));
    for (const f of filled.filter((x) => CONFIGS.includes(x.path))) assert.equal(nodeIp(f.content), address, `${machine.name} ${f.path} filled`);
  }
});

test('metal: a machine that does not hold its spec address fails its boot before any configuration names it', () => {
  const machine = plan.machines.find((m) => m.name === 'colo-b2')!;
  const files = nodeBootstrap(spec, plan, machine, secrets, listedDiscovery(spec, machine)).files;
  const r = bootSubstitution(files, ['2001:db8:7:b::5054:ff:fe00:2', '2001:db8:7:b::112']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /this machine does not hold 2001:db8:7:b::12 \(spec\.machines says it does\): check the spec/);
  assert.equal(nodeIp(r.configs.get(KUBEADM_JOIN_CONFIG)!), NODE_ADDRESS_PLACEHOLDER);
});
