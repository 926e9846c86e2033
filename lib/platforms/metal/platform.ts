/**
 * Metal as a Platform: machines and routers the user already has, listed in
 * the spec (spec.uplinks, spec.machines), each machine bootstrapped over SSH
 * (machine.ts, a Pulumi resource per machine, its host key pinned by the
 * spec's fingerprint) with the same bootstrap Equinix Metal's devices run
 * from cloud-init (lib/render/bootstrap.ts: one bootstrap, two transports).
 * What metal adds is how a machine learns itself: nothing to ask, the spec
 * says its address, its gateway and the routers of its uplink (discovery
 * below). Its first bring-up (Calico, the fabric, Flux) is Equinix Metal's
 * (lib/platforms/kubeadmCluster.ts). The routers' side of the sessions is
 * rendered into the cluster's tree (lib/render/routers.ts).
 */
import * as pulumi from '@pulumi/pulumi';
import { formatAddress, formatPrefix } from '../../net/ipv6.js';
import type { AddressPlan, Machine } from '../../plan/addressPlan.js';
import { BOOT_DONE, FIREWALL_UNIT, NODE_ADDRESS_PLACEHOLDER, nodeBootstrap, type BootFile, type NodeDiscovery } from '../../render/bootstrap.js';
import { HOST_FIREWALL_FILE, PEER_ELEMENTS_PLACEHOLDER, peerElements } from '../../render/hostFirewall.js';
import { API_BOOTSTRAP_FILE, KUBEADM_INIT_CONFIG, KUBEADM_JOIN_CONFIG } from '../../render/bootPaths.js';
import { providerFacts } from '../../cluster/devices.js';
import { uplinkOf } from '../../cluster/inventory.js';
import type { ClusterSpec } from '../../cluster/cluster.js';
import type { LoadedCluster } from '../../plan/loaded.js';
import type { ClusterOutputs, Platform } from '../platform.js';
import { bootstrapCalicoAndFlux, kubeadmSecrets } from '../kubeadmCluster.js';
import { inventoryOf, metalDevices } from './devices.js';
import { MetalMachine } from './machine.js';
import { metalRules } from './rules.js';
import { defaultDeregister, defaultReset } from './ssh.js';
import { BOOT_OPTIONS_CONFIG, decodeBootOptions } from './bootOptions.js';

/** The Pulumi config key of the operator's private SSH key (secret): `pulumi config set --secret native6:sshPrivateKey < key`. */
export const SSH_PRIVATE_KEY_CONFIG = 'sshPrivateKey';

/** The machine as the spec lists it: its address, its uplink's gateway, the routers above it (on the link: no route per peer). */
export function listedDiscovery(spec: ClusterSpec, machine: Pick<Machine, 'name'>): NodeDiscovery {
  const inventory = inventoryOf(spec);
  const m = inventory.machines.find((x) => x.name === machine.name);
  if (!m) throw new Error(`${spec.file}: machine ${machine.name} is not in spec.machines`);
  const uplink = uplinkOf(inventory, m);
  const peers = uplink.routers.map((r) => formatAddress(r.address)).join(' ');
  return {
    lines: [
      `# From ${spec.file}: spec.machines (${m.name}) and its uplink ${uplink.name} (${formatPrefix(uplink.prefix)}).`,
      `addr=${formatAddress(m.address)}`,
      `gw=${formatAddress(uplink.gateway)}`,
      `peers="${peers}"`,
      '# The routers are on the link: no route per peer.',
      'routed=',
      '# The address must be this machine\'s: a spec naming another would make it announce someone else\'s.',
      'ip -6 -o addr show scope global | grep -qF " $addr/" || fail "this machine does not hold $addr (spec.machines says it does): check the spec"',
    ],
  };
}

/** The files whose placeholders the boot script fills in at a first boot (bootstrap.ts): the address, the firewall's peers. */
const ADDRESS_FILES: ReadonlySet<string> = new Set([KUBEADM_INIT_CONFIG, KUBEADM_JOIN_CONFIG, API_BOOTSTRAP_FILE]);

/**
 * The bootstrap's files with what a machine would fill in at its first boot
 * already filled in (the spec says it: its address, its uplink's routers), so
 * that installing them again on a machine that booted long ago (an update:
 * another machine joined, the cluster's sources changed) leaves nothing
 * half done: the firewall's peers and the configurations' address are never
 * placeholders again on its disk. The boot script's own substitutions then
 * find nothing to replace. Only those files: the scripts name the
 * placeholders too (the firewall's loader refuses a file that still holds
 * one), and must keep naming them.
 */
export function filledFiles(files: readonly BootFile[], address: string, peers: readonly string[]): BootFile[] {
  return files.map((f) => {
    if (f.path === HOST_FIREWALL_FILE) return { ...f, content: f.content.split(PEER_ELEMENTS_PLACEHOLDER).join(peerElements(peers)) };
    if (ADDRESS_FILES.has(f.path)) return { ...f, content: f.content.split(NODE_ADDRESS_PLACEHOLDER).join(address) };
    return f;
  });
}

/**
 * Bootstrap's start, then the machine's firewall loaded again: on an update
 * the boot is done long ago (its unit does nothing), and the firewall file
 * just installed (a machine added to the cluster's sources) takes effect now,
 * not at the next boot.
 */
export function metalStart(start: readonly (readonly string[])[]): string[][] {
  return [...start.map((c) => [...c]), ['sh', '-c', `if [ -e ${BOOT_DONE} ]; then systemctl restart ${FIREWALL_UNIT}; fi`]];
}

/** The machine's bootstrap resource's name in the stack. */
const resourceName = (machine: string) => `${machine}-ssh`;

function resources({ spec, plan }: LoadedCluster, _specFile: string, config: pulumi.Config): ClusterOutputs {
  const inventory = inventoryOf(spec);
  const k = kubeadmSecrets(spec);
  const privateKey = config.requireSecret(SSH_PRIVATE_KEY_CONFIG);
  const firstCp = plan.machines.find((m) => m.role === 'control-plane')!;
  // Per machine (a golden image, the lab's machines): native6:bootOptions, bootOptions.ts.
  const bootOptions = decodeBootOptions(config.get(BOOT_OPTIONS_CONFIG), plan.machines.map((m) => m.name));
  const accessOf = (name: string) => inventory.machines.find((m) => m.name === name)!.ssh;
  const byName = new Map<string, MetalMachine>();
  for (const machine of plan.machines) {
    // A control plane other than the machine itself drains it and deletes its Node before it is reset.
    const other = plan.machines.find((m) => m.role === 'control-plane' && m.name !== machine.name);
    // Deleted before the control plane it is deregistered through, when both go (a teardown): that one
    // must still answer. Only on one made before it (no cycle): the first control plane depends on none.
    const otherMade = other ? byName.get(other.name) : undefined;
    const listed = inventory.machines.find((m) => m.name === machine.name)!;
    const peers = uplinkOf(inventory, listed).routers.map((r) => formatAddress(r.address));
    const boot = k.boot.apply((secrets) => nodeBootstrap(spec, plan, machine, secrets, listedDiscovery(spec, machine), bootOptions.get(machine.name)));
    const made = new MetalMachine(resourceName(machine.name), {
      machine: machine.name,
      ssh: accessOf(machine.name),
      privateKey,
      files: boot.apply((b) => filledFiles(b.files, formatAddress(listed.address), peers)),
      start: boot.apply((b) => metalStart(b.start)),
      reset: defaultReset(),
      ...(other ? { deregister: { ssh: accessOf(other.name), commands: defaultDeregister(machine.name) } } : {}),
    }, { dependsOn: otherMade ? [otherMade] : [] });
    byName.set(machine.name, made);
  }
  const facts = pulumi.output(providerFacts(spec.name, formatPrefix(plan.block), metalDevices(spec, plan)));
  return { facts, ...k.outputs(formatAddress(plan.apiServer), formatAddress(firstCp.link!.address)) };
}

function describe(spec: ClusterSpec): string {
  const inventory = inventoryOf(spec);
  const n = inventory.machines.length;
  return `${spec.platform}, ${n} machine${n === 1 ? '' : 's'} on ${inventory.uplinks.map((u) => u.name).join(', ')}`;
}

export const metalPlatform: Platform = {
  rules: metalRules,
  plannedDevices: (spec: ClusterSpec, plan: AddressPlan) => metalDevices(spec, plan),
  describe,
  resources,
  bootstrap: bootstrapCalicoAndFlux,
};
