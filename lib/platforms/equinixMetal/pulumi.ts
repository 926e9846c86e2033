/**
 * The Equinix Metal platform as Pulumi resources: the only module that
 * imports @pulumi/equinix-metal (the package is deprecated in favour of
 * Equinix's own; swapping it touches this file only).
 *
 * One project per cluster with local BGP (the spec's ASN, the MD5 password
 * from ClusterSecrets), the devices' SSH keys (below), a device per machine of the
 * address plan booted by cloud-init into kubeadm (cloudInit.ts), an IPv6
 * BGP session per device, and the provider facts apply records: the
 * project's IPv6 block as the provider assigned it (with the first device:
 * a spec may give only its size, and the devices then compute their
 * addresses from it at boot, lib/render/blockRelocation.ts), every device's
 * addresses and BGP neighbors (passwords dropped).
 *
 * SSH keys: a device given no project key gets every project member's and
 * organization member's key (Equinix Metal's rule), so a device is always
 * given at least one: the operators' keys of spec.sshKeys, one project key
 * each (named after its fingerprint, so that the list's order changes
 * nothing), or else the sealed key of ClusterSecrets, which nobody holds.
 * Keys are installed when a device is provisioned and a changed list would
 * rebuild every device (the provider replaces a device for it): the list
 * is ignored after creation, as the user-data is; a key added or removed
 * reaches the devices made from then on, and running machines by hand
 * (docs/spec.md, "Operator SSH keys").
 */
import { createHash } from 'node:crypto';
import * as metal from '@pulumi/equinix-metal';
import * as pulumi from '@pulumi/pulumi';
import { AddressError, containsAddress, formatPrefix, parseAddress, parsePrefix } from '../../net/ipv6.js';
import type { AddressPlan, Machine } from '../../plan/addressPlan.js';
import type { ClusterSpec } from '../../cluster/cluster.js';
import { userData, type DeviceSecrets } from './cloudInit.js';
import { IPV4_API_TAG, IPV4_EGRESS_TAG, type DeviceAddress, type BgpNeighbor, type Device } from '../../cluster/devices.js';
import { sshFingerprint } from '../../cluster/sshKeys.js';

export const OPERATING_SYSTEM = 'ubuntu_24_04';
export const BILLING_CYCLE = 'hourly';
export const TAG = 'native6';

export interface MetalClusterArgs {
  readonly spec: ClusterSpec;
  readonly plan: AddressPlan;
  readonly secrets: { readonly [K in Exclude<keyof DeviceSecrets, 'shared' | 'secretsKey'> | 'bgpPassword' | 'sshPublicKey']: pulumi.Input<string> } & {
    /** Absent in a stack made before it: Secrets are not sealed (lib/render/encryption.ts). */
    readonly secretsKey?: pulumi.Input<string | undefined>;
  };
  /** The keys the control planes share, when the stack made them (lib/render/bootstrap.ts BootSecrets.shared). */
  readonly sharedKeys?: pulumi.Input<DeviceSecrets['shared']>;
  /** The organization the project is made in (config native6:organizationId); the token's default when absent. */
  readonly organizationId?: pulumi.Input<string>;
}

export interface MetalMachine {
  readonly machine: Machine;
  readonly device: metal.Device;
  readonly session: metal.BgpSession;
  readonly facts: pulumi.Output<Device>;
}

function neighborOf(n: metal.types.output.GetDeviceBgpNeighborsBgpNeighbor): BgpNeighbor {
  return {
    address_family: n.addressFamily === 4 ? 4 : 6,
    customer_as: n.customerAs,
    customer_ip: n.customerIp,
    md5_enabled: n.md5Enabled,
    multihop: n.multihop,
    peer_as: n.peerAs,
    peer_ips: [...(n.peerIps ?? [])],
    routes_in: n.routesIns.map((r) => ({ route: r.route, exact: r.exact })),
    routes_out: n.routesOuts.map((r) => ({ route: r.route, exact: r.exact })),
  };
}

function addressOf(n: metal.types.output.DeviceNetwork): DeviceAddress {
  return { address_family: n.family === 4 ? 4 : 6, public: n.public, address: n.address, gateway: n.gateway, cidr: n.cidr };
}

export class MetalCluster extends pulumi.ComponentResource {
  readonly project: metal.Project;
  /** The project keys every device is given: the spec's operator keys, or the sealed key. */
  readonly sshKeys: readonly metal.ProjectSshKey[];
  readonly machines: readonly MetalMachine[];
  /** The provider facts of every device, in the plan's machine order (no passwords). */
  readonly devices: pulumi.Output<Device[]>;
  /** The first control plane's own address: the API before the ClusterIP is announced. */
  readonly firstControlPlaneAddress: pulumi.Output<string>;
  /** The project's IPv6 block in the metro, as the provider assigned it (known once the first device is). */
  readonly block: pulumi.Output<string>;

  constructor(name: string, args: MetalClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super('native6:equinix-metal:Cluster', name, {}, opts);
    const { spec, plan } = args;
    const parent = { parent: this };
    this.project = new metal.Project(
      `${name}-project`,
      {
        name: `native6-${spec.name}`,
        ...(args.organizationId !== undefined ? { organizationId: args.organizationId } : {}),
        bgpConfig: { asn: spec.network.localASN, deploymentType: 'local', md5: args.secrets.bgpPassword },
      },
      parent,
    );
    this.sshKeys = spec.sshKeys
      ? spec.sshKeys.map((publicKey) => {
          const fingerprint = sshFingerprint(publicKey);
          const id = createHash('sha256').update(fingerprint).digest('hex').slice(0, 12);
          const comment = publicKey.split(' ').slice(2).join(' ');
          return new metal.ProjectSshKey(`${name}-ssh-${id}`, { name: `native6-${spec.name} ${comment || fingerprint}`, projectId: this.project.id, publicKey }, parent);
        })
      : [new metal.ProjectSshKey(`${name}-ssh`, { name: `native6-${spec.name}`, projectId: this.project.id, publicKey: args.secrets.sshPublicKey }, parent)];

    const s = args.secrets;
    const secrets = pulumi
      .all([s.bootstrapToken, s.certificateKey, s.caCertPem, s.caKeyPem, s.caCertHash, args.sharedKeys, s.secretsKey])
      .apply(([bootstrapToken, certificateKey, caCertPem, caKeyPem, caCertHash, shared, secretsKey]): DeviceSecrets => ({ bootstrapToken, certificateKey, caCertPem, caKeyPem, caCertHash, ...(shared ? { shared } : {}), ...(secretsKey ? { secretsKey } : {}) }));
    const machines: MetalMachine[] = [];
    let first: metal.Device | undefined;
    for (const machine of plan.machines) {
      const device = new metal.Device(
        machine.name,
        {
          hostname: machine.name,
          plan: machine.plan,
          metro: spec.metro,
          operatingSystem: OPERATING_SYSTEM,
          billingCycle: BILLING_CYCLE,
          projectId: this.project.id,
          projectSshKeyIds: this.sshKeys.map((k) => k.id),
          // A public IPv6 /127 out of the project's /56; Equinix Metal also
          // requires a private IPv4 for its own services. A public IPv4 for
          // NAT64 egress (spec.egress.ipv4: nat64): what the node translates
          // its pods' packets to; and on a control plane, the API's door for
          // IPv4-only clients (a GitHub-hosted runner's apply,
          // lib/workflows/apiWays.ts). Its own firewall lets in nothing over
          // IPv4 but replies and, on any machine, the API's port.
          ipAddresses: [
            { type: 'public_ipv6', cidr: 127 },
            { type: 'private_ipv4', cidr: 31 },
            ...(plan.nat64 || machine.role === 'control-plane' ? [{ type: 'public_ipv4', cidr: 31 }] : []),
          ],
          userData: pulumi.secret(secrets.apply((ds) => userData(spec, plan, machine, ds))),
          tags: [TAG, `cluster:${spec.name}`, `role:${machine.role}`, `pool:${machine.pool}`, ...(plan.nat64 ? [IPV4_EGRESS_TAG] : []), ...(machine.role === 'control-plane' ? [IPV4_API_TAG] : [])],
        },
        {
          ...parent,
          // A device is never rebuilt for a boot-script change, nor for a changed key list or address
          // list (a control plane made before it had its IPv4 door keeps its addresses): that would wipe a node.
          ignoreChanges: ['userData', 'projectSshKeyIds', 'ipAddresses'],
        },
      );
      if (!first) first = device;
      const session = new metal.BgpSession(`${machine.name}-bgp`, { deviceId: device.id, addressFamily: 'ipv6', defaultRoute: false }, { ...parent, dependsOn: [this.project] });
      const facts = pulumi.all([device.networks, device.id, session.id]).apply(async ([networks, id]) => {
        const found = await metal.getDeviceBgpNeighbors({ deviceId: id }, parent);
        return {
          hostname: machine.name,
          network: { addresses: networks.map(addressOf) },
          bgp_neighbors: found.bgpNeighbors.map(neighborOf),
        } satisfies Device;
      });
      machines.push({ machine, device, session, facts });
    }
    this.machines = machines;
    this.devices = pulumi.all(machines.map((m) => m.facts));
    this.firstControlPlaneAddress = first!.accessPublicIpv6;
    // Asked once the first device exists: Equinix Metal assigns the project's /56 in a metro with it.
    this.block = pulumi.all([first!.id, first!.accessPublicIpv6, this.project.id]).apply(async ([, address, projectId]) => {
      const found = await metal.getPrecreatedIpBlock({ projectId, metro: spec.metro, addressFamily: 6, public: true }, parent);
      return providerBlock(spec.metro, found.cidrNotation, address);
    });
    this.registerOutputs({ devices: this.devices, firstControlPlaneAddress: this.firstControlPlaneAddress, block: this.block });
  }
}

/**
 * The project's block as the provider names it, checked: an IPv6 prefix
 * that holds the first device's address (the devices' /127s come out of it).
 */
export function providerBlock(metro: string, cidr: string | undefined, deviceAddress: string): string {
  const what = `Equinix Metal's public IPv6 block for the project in metro "${metro}"`;
  if (!cidr) throw new Error(`${what} is not there yet (it is assigned with the project's first device there): run apply again`);
  try {
    const block = parsePrefix(cidr);
    if (!containsAddress(block, parseAddress(deviceAddress))) throw new Error(`${what} is ${cidr}, which does not hold the first device's address ${deviceAddress}: open an issue with both`);
    return formatPrefix(block);
  } catch (e) {
    if (e instanceof AddressError) throw new Error(`${what} is "${cidr}": ${e.message}`);
    throw e;
  }
}
