/**
 * The machines as the provider sees them, the part the product reads: each
 * device's addresses and its BGP neighbors. The shape is Equinix Metal's
 * metadata JSON (and its API's bgp_neighbors); every platform speaks it (the
 * lab serves it from its metadata service), so the renderer and the address
 * plan read one neutral shape and never a platform's module.
 */

import { API_VERSION } from './cluster.js';

/** The provider's tag of a device whose public IPv4 is for NAT64 egress only (spec.egress.ipv4: nat64). */
export const IPV4_EGRESS_TAG = 'ipv4:egress-only';
/** The provider's tag of a control plane whose public IPv4 is the API's door for IPv4-only clients (TCP 443 only, its firewall says). */
export const IPV4_API_TAG = 'ipv4:api-door';

export interface DeviceAddress {
  readonly address_family: 4 | 6;
  readonly public: boolean;
  readonly management?: boolean;
  readonly address: string;
  readonly gateway: string;
  readonly network?: string;
  readonly netmask?: string;
  readonly cidr: number;
}

export interface BgpRoute {
  readonly route: string;
  readonly exact: boolean;
}

export interface BgpNeighbor {
  readonly address_family: 4 | 6;
  readonly customer_as: number;
  readonly customer_ip: string;
  readonly md5_enabled: boolean;
  /** Present in the provider's answer; never written to git (facts drop it). */
  readonly md5_password?: string | null;
  readonly multihop: boolean;
  readonly peer_as: number;
  readonly peer_ips: readonly string[];
  readonly routes_in: readonly BgpRoute[];
  readonly routes_out: readonly BgpRoute[];
}

export interface Device {
  readonly hostname: string;
  readonly network: { readonly addresses: readonly DeviceAddress[] };
  readonly bgp_neighbors: readonly BgpNeighbor[];
}

/**
 * What apply records after provisioning, committed as
 * clusters/<name>/provider-facts.json: the reserved block the provider
 * assigned and each device's metadata with passwords removed.
 */
export interface ProviderFacts {
  readonly apiVersion: typeof API_VERSION;
  readonly kind: 'ProviderFacts';
  readonly cluster: string;
  readonly reservedBlock: string;
  readonly devices: readonly Device[];
}

/** The facts record of a cluster: its block and its devices, as given (redactFacts() before writing them). */
export function providerFacts(cluster: string, reservedBlock: string, devices: readonly Device[]): ProviderFacts {
  return { apiVersion: API_VERSION, kind: 'ProviderFacts', cluster, reservedBlock, devices };
}

/** The device's public IPv6 address entry (its /127 on Equinix Metal). */
export function publicIPv6(device: Device): DeviceAddress | undefined {
  return device.network.addresses.find((a) => a.address_family === 6 && a.public);
}

/** Facts safe to commit: every md5_password removed. */
export function redactFacts(facts: ProviderFacts): ProviderFacts {
  return {
    ...facts,
    devices: facts.devices.map((d) => ({
      ...d,
      bgp_neighbors: d.bgp_neighbors.map(({ md5_password: _drop, ...n }) => n),
    })),
  };
}
