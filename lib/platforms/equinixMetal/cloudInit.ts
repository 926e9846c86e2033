/**
 * The user-data an Equinix Metal device boots with (cloud-init, Ubuntu):
 * the cluster's bootstrap (lib/render/bootstrap.ts, the same on every
 * platform) written by cloud-init's write_files and started by its runcmd.
 * What Equinix Metal adds is only how a device learns itself: its public
 * IPv6 address, gateway and BGP peers from the metadata service (the
 * address is the provider's choice, a /127 out of the project's /56, known
 * only once the device boots).
 *
 * The script is run, not only read: test/lab/bootScript.test.ts boots it as
 * cloud-init and systemd would, in namespaces, with stubs for what a
 * machine installs or reaches (docs/bootstrap.md).
 */
import type { AddressPlan, Machine } from '../../plan/addressPlan.js';
import { nodeBootstrap, type Bootstrap, type BootSecrets, type NodeDiscovery } from '../../render/bootstrap.js';
import { metadataDiscovery } from '../../render/discovery.js';
import { toYaml } from '../../yaml/write.js';
import type { ClusterSpec } from '../../cluster/cluster.js';

export const METADATA_URL = 'https://metadata.platformequinix.com/metadata';

export type DeviceSecrets = BootSecrets;

/** The device as the provider numbered it; the peers (fc00::e, fc00::f) are off the link, reached through the gateway. */
export const EQUINIX_DISCOVERY: NodeDiscovery = metadataDiscovery(METADATA_URL, { routePeers: true });

/**
 * The cloud-config for one machine. Secrets go into files readable by root
 * only; the result is itself a secret (Pulumi keeps it encrypted in state).
 */
export function userData(spec: ClusterSpec, plan: AddressPlan, machine: Machine, secrets: DeviceSecrets): string {
  return cloudConfig(machine.name, nodeBootstrap(spec, plan, machine, secrets, EQUINIX_DISCOVERY));
}

/** A bootstrap as cloud-init's user-data: its files by write_files, its start commands by runcmd. */
export function cloudConfig(hostname: string, boot: Bootstrap): string {
  const config = {
    hostname,
    write_files: boot.files.map((f) => ({ path: f.path, permissions: f.mode, content: f.content })),
    runcmd: boot.start.map((c) => [...c]),
  };
  return `#cloud-config\n${toYaml(config)}`;
}
