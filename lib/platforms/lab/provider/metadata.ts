/**
 * The lab as a provider: the per-device metadata Equinix Metal would hand
 * out, computed from the plan. The lab's metadata service serves exactly
 * this, and the renderer reads it through the same code as cloud facts.
 */
import { formatAddress, formatPrefix } from '../../../net/ipv6.js';
import type { AddressPlan } from '../../../plan/addressPlan.js';
import type { ClusterSpec } from '../../../cluster/cluster.js';
import { providerFacts, type Device, type ProviderFacts } from '../../../cluster/devices.js';
import { LAB_ROUTER_PEERS, labMachineIPv4 } from './provider.js';

export function labDevices(spec: ClusterSpec, plan: AddressPlan): Device[] {
  return plan.machines.map((m, i) => {
    if (!m.link) throw new Error(`lab machine ${m.name} has no planned address`);
    const address = formatAddress(m.link.address);
    const v4 = labMachineIPv4(i);
    return {
      hostname: m.name,
      network: {
        addresses: [
          {
            address_family: 6,
            public: true,
            management: true,
            address,
            gateway: formatAddress(m.link.gateway),
            network: formatAddress(m.link.prefix.address),
            cidr: 127,
          },
          // The public IPv4 /31 Equinix Metal gave every device: egress, and the API's door on a control plane.
          { address_family: 4, public: true, management: true, address: v4.address, gateway: v4.gateway, network: v4.gateway, netmask: '255.255.255.254', cidr: 31 },
        ],
      },
      bgp_neighbors: [
        {
          address_family: 6,
          customer_as: spec.network.localASN,
          customer_ip: address,
          md5_enabled: true,
          multihop: true,
          peer_as: spec.network.peerASN,
          peer_ips: LAB_ROUTER_PEERS.map(formatAddress),
          routes_in: [{ route: formatPrefix(plan.block), exact: false }],
          routes_out: [{ route: '::/0', exact: true }],
        },
      ],
    };
  });
}

export function labFacts(spec: ClusterSpec, plan: AddressPlan): ProviderFacts {
  return providerFacts(spec.name, formatPrefix(plan.block), labDevices(spec, plan));
}
