/**
 * A metal cluster's machines as devices (lib/cluster/devices.ts, the one
 * neutral shape the renderer and the plan read): each machine's address on
 * its uplink, its IPv4 address when it has one, and its BGP neighbours, the
 * routers of its uplink (one entry per router ASN). All from the spec, so
 * known at plan time, as the lab's are; nothing is recorded at apply.
 */
import { formatAddress, formatPrefix } from '../../net/ipv6.js';
import type { AddressPlan } from '../../plan/addressPlan.js';
import type { ClusterSpec } from '../../cluster/cluster.js';
import { parseIPv4Prefix } from '../../cluster/decodeInventory.js';
import { uplinkOf, type Inventory } from '../../cluster/inventory.js';
import type { BgpNeighbor, Device, DeviceAddress } from '../../cluster/devices.js';

function dotted(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

/** The inventory of a metal spec (thrown for another platform's: a programming error). */
export function inventoryOf(spec: ClusterSpec): Inventory {
  if (!spec.inventory) throw new Error(`${spec.file}: platform ${spec.platform} lists no machines (spec.machines)`);
  return spec.inventory;
}

export function metalDevices(spec: ClusterSpec, plan: AddressPlan): Device[] {
  const inventory = inventoryOf(spec);
  return plan.machines.map((planned) => {
    const m = inventory.machines.find((x) => x.name === planned.name);
    if (!m) throw new Error(`${spec.file}: machine ${planned.name} of the plan is not in spec.machines`);
    const uplink = uplinkOf(inventory, m);
    const address = formatAddress(m.address);
    const addresses: DeviceAddress[] = [
      { address_family: 6, public: true, management: true, address, gateway: formatAddress(uplink.gateway), network: formatAddress(uplink.prefix.address), cidr: uplink.prefix.length },
    ];
    if (m.ipv4 && uplink.ipv4) {
      const p = parseIPv4Prefix(uplink.ipv4.prefix) as { network: number; length: number };
      const mask = p.length === 0 ? 0 : 2 ** 32 - 2 ** (32 - p.length);
      addresses.push({ address_family: 4, public: true, management: false, address: m.ipv4, gateway: uplink.ipv4.gateway, network: dotted(p.network), netmask: dotted(mask), cidr: p.length });
    }
    const byAsn = new Map<number, string[]>();
    for (const r of uplink.routers) byAsn.set(r.asn, [...(byAsn.get(r.asn) ?? []), formatAddress(r.address)]);
    const bgp_neighbors: BgpNeighbor[] = [...byAsn].map(([asn, peers]) => ({
      address_family: 6,
      customer_as: spec.network.localASN,
      customer_ip: address,
      md5_enabled: true,
      // The routers are on the machine's own link.
      multihop: false,
      peer_as: asn,
      peer_ips: peers,
      routes_in: [{ route: formatPrefix(plan.block), exact: false }],
      routes_out: [{ route: '::/0', exact: true }],
    }));
    return { hostname: m.name, network: { addresses }, bgp_neighbors };
  });
}
