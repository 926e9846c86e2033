/**
 * The metal platform's Pulumi program under Pulumi's mocks (infra/colo.yaml):
 * one MetalMachine per machine, reached as the spec says, its host key
 * pinned, the operator's key and the bootstrap's files as secrets, the
 * bootstrap that of lib/render/bootstrap.ts with the machine's address,
 * gateway and routers from the spec; another control plane deregisters it
 * before its reset; nothing of Equinix Metal; the facts are the spec's
 * devices and the kubeconfig names the API's ClusterIP. A file of its own:
 * Pulumi's mocks are per process.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as pulumi from '@pulumi/pulumi';
import { clusterProgram } from '../../lib/pulumi/program.js';
import { generateClusterSecrets, signAdmin } from '../../lib/pki/clusterSecrets.js';
import { loadSpecFile } from '../../lib/repo/workspace.js';
import { REPO_DIR } from '../../lib/toolchain/repo.js';
import { metalDevices } from '../../lib/platforms/metal/devices.js';
import { defaultReset } from '../../lib/platforms/metal/ssh.js';
import { BOOT_SCRIPT, KUBEADM_INIT_CONFIG } from '../../lib/render/bootstrap.js';
import { plain, SECRET_SIG, valueOf, type Registered } from '../pulumi-mocks.js';
import type { ProviderFacts } from '../../lib/cluster/devices.js';

const KEY = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA-not-a-real-key\n-----END OPENSSH PRIVATE KEY-----\n';
const registered: Registered[] = [];
let outputs: Record<string, pulumi.Output<unknown>>;
const MACHINE_TYPE = 'pulumi-nodejs:dynamic/native6-metal:Machine';
const machines = () => registered.filter((r) => r.type === MACHINE_TYPE);
const isSecret = (v: unknown) => typeof v === 'object' && v !== null && SECRET_SIG in v;

describe('Pulumi program: metal, each machine bootstrapped over SSH (mocks)', () => {
  before(async () => {
    pulumi.runtime.setAllConfig({ 'native6:sshPrivateKey': KEY }, ['native6:sshPrivateKey']);
    await pulumi.runtime.setMocks(
      {
        newResource(args) {
          const inputs = args.inputs as Record<string, unknown>;
          registered.push({ type: args.type, name: args.name, inputs });
          let state: Record<string, unknown> = { ...inputs };
          if (args.type === 'pulumi-nodejs:dynamic/native6-secrets:Resource') state = { ...inputs, ...generateClusterSecrets(String(inputs.cluster)) };
          if (args.type === 'pulumi-nodejs:dynamic/native6-admin:Resource') state = { ...inputs, ...signAdmin(String(inputs.cluster), String(plain(inputs.caCertPem)), String(plain(inputs.caKeyPem))) };
          return { id: `${args.name}-id`, state };
        },
        call: () => ({}),
      },
      'native6',
      'colo',
      false,
    );
    outputs = (await clusterProgram({ repoRoot: REPO_DIR, specFile: 'infra/colo.yaml' })()) as Record<string, pulumi.Output<unknown>>;
    await valueOf(outputs.facts);
    await valueOf(outputs.kubeconfig);
    // Let every machine's inputs (the bootstrap, built from the secrets) resolve.
    await new Promise((r) => setTimeout(r, 500));
  });

  it('registers one MetalMachine per machine of the spec, reached and pinned as the spec says, and nothing of Equinix Metal', () => {
    const { spec } = loadSpecFile(REPO_DIR, 'infra/colo.yaml', { ignoreFacts: true }).cluster!;
    // Registered as their inputs resolve, in no fixed order; created side by side (joins wait for the first control plane themselves).
    assert.deepEqual(machines().map((m) => m.name).sort(), ['colo-a1-ssh', 'colo-a2-ssh', 'colo-a3-ssh', 'colo-b1-ssh', 'colo-b2-ssh']);
    for (const m of machines()) {
      const listed = spec.inventory!.machines.find((x) => x.name === m.inputs.machine)!;
      assert.deepEqual(m.inputs.ssh, { ...listed.ssh });
      assert.deepEqual(m.inputs.reset, defaultReset());
    }
    assert.equal(registered.filter((r) => r.type.startsWith('equinix-metal:')).length, 0);
  });

  it("the operator's key and the bootstrap's files are secrets; the key is the config's", () => {
    for (const m of machines()) {
      assert.ok(isSecret(m.inputs.privateKey), `${m.name}: privateKey is not secret`);
      assert.equal(plain(m.inputs.privateKey), KEY);
      assert.ok(isSecret(m.inputs.files), `${m.name}: files are not secret`);
    }
  });

  it('each machine gets the one bootstrap, with its own address, gateway and routers; only the first control plane inits', () => {
    const filesOf = (name: string) => plain(machines().find((m) => m.name === `${name}-ssh`)!.inputs.files) as Array<{ path: string; mode: string; content: string }>;
    const script = (name: string) => filesOf(name).find((f) => f.path === BOOT_SCRIPT)!.content;
    assert.match(script('colo-b2'), /\naddr=2001:db8:7:b::12\ngw=2001:db8:7:b::1\npeers="2001:db8:7:b::2"\n/);
    assert.match(script('colo-a2'), /\npeers="2001:db8:7:a::2 2001:db8:7:a::3"\n/);
    assert.ok(filesOf('colo-a1').some((f) => f.path === KUBEADM_INIT_CONFIG));
    for (const n of ['colo-a2', 'colo-b1', 'colo-a3', 'colo-b2']) assert.ok(!filesOf(n).some((f) => f.path === KUBEADM_INIT_CONFIG), n);
    const start = plain(machines().find((m) => m.name === 'colo-a1-ssh')!.inputs.start) as string[][];
    assert.deepEqual(start.at(-2), ['systemctl', 'start', '--no-block', 'native6-boot.service']);
    // On an update (the boot done long ago) the firewall just installed is loaded at once.
    assert.deepEqual(start.at(-1), ['sh', '-c', 'if [ -e /var/lib/native6/boot-done ]; then systemctl restart native6-host-firewall.service; fi']);
  });

  it('what a first boot would fill in is filled in already: installing the files again never leaves a placeholder on a booted machine', () => {
    for (const m of machines()) {
      const files = plain(m.inputs.files) as Array<{ path: string; content: string }>;
      // The data files hold none; the scripts name them (to fill them, or to refuse a file that still holds one).
      const data = files.filter((f) => f.path !== BOOT_SCRIPT && !f.path.startsWith('/usr/local/sbin/'));
      assert.deepEqual(data.filter((f) => f.content.includes('@BGP_PEER_ELEMENTS@') || f.content.includes('@NODE_ADDRESS@')).map((f) => f.path), [], m.name);
      assert.ok(files.find((f) => f.path === '/usr/local/sbin/native6-host-firewall')!.content.includes('@BGP_PEER_ELEMENTS@'), `${m.name}: the firewall's loader still refuses an unfilled file`);
    }
    const b2 = plain(machines().find((m) => m.name === 'colo-b2-ssh')!.inputs.files) as Array<{ path: string; content: string }>;
    assert.match(b2.find((f) => f.path === '/etc/native6/host-firewall.nft')!.content, /set bgp-peers \{\n    type ipv6_addr\n    elements = \{ 2001:db8:7:b::2 \}\n/);
    assert.match(b2.find((f) => f.path === '/etc/native6/kubeadm-join.yaml')!.content, /2001:db8:7:b::12/);
  });

  it('another control plane drains and deletes a machine before it is reset', () => {
    for (const m of machines()) {
      const d = m.inputs.deregister as { ssh: { host: string }; commands: string[][] };
      const self = (m.inputs.ssh as { host: string }).host;
      assert.notEqual(d.ssh.host, self, m.name);
      assert.ok(['2001:db8:7:a::11', '2001:db8:7:a::12'].includes(d.ssh.host), m.name);
      assert.deepEqual(d.commands.map((c) => c.slice(3, 5)), [['drain', m.inputs.machine], ['delete', 'node']]);
    }
  });

  it("the facts are the spec's devices, and the kubeconfigs name the API's ClusterIP and the first control plane", async () => {
    const { spec, plan } = loadSpecFile(REPO_DIR, 'infra/colo.yaml', { ignoreFacts: true }).cluster!;
    const facts = await valueOf<ProviderFacts>(outputs.facts);
    assert.equal(facts.reservedBlock, '2001:db8:4200::/48');
    assert.deepEqual(facts.devices, metalDevices(spec, plan));
    assert.match(await valueOf<string>(outputs.kubeconfig), /server: https:\/\/\[2001:db8:4200:1::1\]:443/);
    assert.match(await valueOf<string>(outputs.bootstrapKubeconfig), /server: https:\/\/\[2001:db8:7:a::11\]:443/);
  });
});
