/**
 * The lab as a rack of the user's own machines (a `platform: metal` spec):
 * its uplinks and routers as the spec lists them, so that the metal
 * platform's bootstrap over SSH and the routers' rendered configuration
 * run against them as against a real rack. Pure; network.ts builds it.
 *
 *             internet (n6-<c>_inet): the upstream, FRR AS 64999
 *              /         |          \          one /127 per router
 *        router       router       router     (n6-<c>_<router>): FRR running
 *           \           /             |         clusters/<c>/routers/<r>.frr.conf
 *        uplink A (a bridge)     uplink B      (n6-<c>_sw: one bridge per uplink)
 *         |    |    |              |    |
 *        machines (n6-<machine>): eth0, the address the spec gives, /64
 *
 * Each uplink is one link (a bridge in the switch namespace) where the
 * machines and the uplink's routers have the addresses the spec lists. The
 * uplink's gateway (and its IPv4 gateway) is held by its first router, the
 * lab's stand-in for the pair's shared address (VRRP on a real rack). The
 * routers peer with the internet namespace, the lab's upstream: it sends
 * them a default and learns the cluster's routes from them, so that a pod
 * on one uplink reaches a pod on another through it, as through a spine.
 */
import { containsAddress, formatAddress, formatPrefix, parseAddress } from '../../../net/ipv6.js';
import type { AddressPlan } from '../../../plan/addressPlan.js';
import type { ClusterSpec } from '../../../cluster/cluster.js';
import type { Inventory } from '../../../cluster/inventory.js';
import { LAB_INTERNET } from '../provider/provider.js';
import { hostLink, infraNs, machineNs, shortHash, type LabTopology, type MachineNode, type RackUplink, type RouterNode } from '../topology.js';

export type { RackFabric, RackUplink } from '../topology.js';

/** The upstream's (the internet namespace's) ASN: private, never a lab spec's. */
export const UPSTREAM_ASN = 64999;

/** The links between the routers and the internet: one /127 each, router even. */
const RACK_LINKS = parseAddress('2001:db8:ffff:4::');

/** A rack router: a router of the spec, with its place in the lab. */
export interface RackRouter extends RouterNode {
  readonly name: string;
  readonly asn: number;
  readonly uplink: RouterNode['uplink'];
  /** Its uplink's name, and its interface on it (in its namespace) and the switch's end. */
  readonly lan: { readonly uplink: string; readonly ifname: 'lan'; readonly switchIfname: string; readonly prefixLength: number };
  /** The uplink's gateways it holds besides its own address (its first router holds them). */
  readonly holds: { readonly gateway?: string; readonly ipv4Gateway?: string };
}

const routerId = (n: number) => `10.254.${(n >> 8) & 255}.${n & 255}`;

/** Router i's IPv4 /31 to the internet: 192.0.2.224 onwards (router even), as the lab's own routers have .240 and .242. */
function routerV4(i: number): { address: string; peer: string } {
  if (i >= 8) throw new Error(`the rack lab numbers IPv4 uplinks for 8 routers; router ${i + 1} has none`);
  return { address: `192.0.2.${224 + 2 * i}`, peer: `192.0.2.${225 + 2 * i}` };
}

/**
 * The lab's topology for a metal spec: its machines on their uplinks, its routers above them.
 * Refuses what the lab cannot build, naming the field: a machine without IPv4 (the lab's
 * internet is reached over NAT64 from it), an uplink IPv4 inside the lab internet's 192.0.2.0/24.
 */
export function rackTopology(spec: ClusterSpec, plan: AddressPlan, inventory: Inventory): LabTopology {
  const link = (n: number) => formatAddress(RACK_LINKS + BigInt(n));
  const routers: RackRouter[] = [];
  const uplinks: RackUplink[] = [];
  for (const u of inventory.uplinks) {
    const ipv4 = u.ipv4 ? { prefix: u.ipv4.prefix, gateway: u.ipv4.gateway, length: Number(u.ipv4.prefix.split('/')[1]) } : undefined;
    if (ipv4 && ipv4.prefix.startsWith('192.0.2.')) throw new Error(`${spec.file}: spec.uplinks (${u.name}).ipv4.prefix ${ipv4.prefix} is the lab internet's 192.0.2.0/24: use 198.51.100.0/24 or 203.0.113.0/24`);
    u.routers.forEach((r, j) => {
      const i = routers.length;
      const address = formatAddress(r.address);
      const gateway = formatAddress(u.gateway);
      routers.push({
        index: i + 1,
        name: r.name,
        asn: r.asn,
        ns: infraNs(spec.name, r.name),
        peerIP: address,
        uplink: { ifname: 'inet', address: link(2 * i), peer: link(2 * i + 1), prefixLength: 127 },
        uplinkV4: routerV4(i),
        routerId: routerId(i + 1),
        lan: { uplink: u.name, ifname: 'lan', switchIfname: `r${shortHash(`${spec.name}/${r.name}`)}`, prefixLength: u.prefix.length },
        holds: j === 0 ? { ...(gateway !== address ? { gateway } : {}), ...(ipv4 ? { ipv4Gateway: ipv4.gateway } : {}) } : {},
      });
    });
    uplinks.push({ name: u.name, bridge: `u${shortHash(`${spec.name}/${u.name}`)}`, prefix: formatPrefix(u.prefix), ...(ipv4 ? { ipv4 } : {}), routers: u.routers.map((r) => infraNs(spec.name, r.name)) });
  }
  const machines = plan.machines.map((m, i): MachineNode => {
    const listed = inventory.machines.find((x) => x.name === m.name);
    if (!listed) throw new Error(`${spec.file}: machine ${m.name} is planned but not in spec.machines`);
    const uplink = inventory.uplinks.find((u) => u.name === listed.uplink)!;
    if (!listed.ipv4 || !uplink.ipv4) throw new Error(`${spec.file}: spec.machines (${m.name}).ipv4 is missing: the lab's machines reach the lab's IPv4 internet through their IPv4 (NAT64)`);
    if (containsAddress(LAB_INTERNET, listed.address)) throw new Error(`${spec.file}: spec.machines (${m.name}).address is in the lab internet's ${formatPrefix(LAB_INTERNET)}`);
    return {
      machine: m,
      ns: machineNs(m.name),
      routerIfname: `m${shortHash(m.name)}`,
      address: formatAddress(listed.address),
      gateway: formatAddress(uplink.gateway),
      prefixLength: uplink.prefix.length,
      links: ['eth0'],
      ipv4: { address: listed.ipv4, gateway: uplink.ipv4.gateway, prefixLength: Number(uplink.ipv4.prefix.split('/')[1]) },
      routerId: routerId(0x100 + i + 1),
      uplink: uplink.name,
    };
  });
  return {
    cluster: spec.name,
    routers,
    internet: {
      ns: infraNs(spec.name, 'inet'),
      prefix: formatPrefix(LAB_INTERNET),
      client: formatAddress(LAB_INTERNET.address + 1n),
      metadata: formatAddress(LAB_INTERNET.address + 0xan),
      clientV4: '192.0.2.1',
    },
    interRouter: undefined,
    machines,
    block: formatPrefix(plan.block),
    host: hostLink(spec.name),
    rack: { switchNs: infraNs(spec.name, 'sw'), uplinks, upstream: { asn: UPSTREAM_ASN, routerId: routerId(0xffff) } },
  };
}

/** The routers of a rack lab (every router of a rack topology is one). */
export function rackRouters(t: LabTopology): readonly RackRouter[] {
  if (!t.rack) throw new Error(`${t.cluster} is not a rack lab`);
  return t.routers as readonly RackRouter[];
}

