/**
 * The lab's topology, computed from the spec and plan: which network
 * namespaces exist, how they are wired and numbered. Pure; the machinery
 * that builds it (netns.ts) and the routers' configuration (frr.ts) read it.
 *
 *              internet (n6-<c>_inet)  2001:db8:ffff:1::/64 (clients, metadata, git)
 *               /                 \
 *   router 1 (n6-<c>_r1) ---- router 2 (n6-<c>_r2)      ASN peerASN, BGP on ::e / ::f
 *      |  \  \                  /  /  |
 *      machines (n6-<machine>): eth0 (to router 1), eth1 (to router 2)
 *
 * Like an Equinix Metal device on a pair of top-of-rack switches: the
 * machine holds the odd address of its /127 on both links, each router holds
 * the even one (the gateway) on its side, and the machine peers with both
 * routers' loopbacks (multihop, through the gateway), as devices peer with
 * fc00::e and fc00::f. (Equinix bonds the two links; this kernel has no
 * bonding driver, so the lab uses the same /127 on two interfaces and ECMP
 * over them, which gives the same paths at layer 3.)
 */
import { formatAddress, formatPrefix, parseAddress, type Prefix } from '../../net/ipv6.js';
import type { AddressPlan, Machine } from '../../plan/addressPlan.js';
import type { ClusterSpec } from '../../cluster/cluster.js';
import { LAB_INTERNET, LAB_ROUTER_PEERS, LAB_ROUTER_UPLINK_V4, labMachineIPv4 } from './provider/provider.js';

/** Every namespace the lab makes starts with this, so `down` can find them all. */
export const NS_PREFIX = 'n6-';

export interface RouterNode {
  /** 1-based; the lab's own pair is 1 and 2, a rack lab numbers the spec's routers in order. */
  readonly index: number;
  readonly ns: string;
  /** The BGP address on its loopback (the lab's fc00::e / fc00::f). */
  readonly peerIP: string;
  /** Its own link to the internet namespace. */
  readonly uplink: { readonly ifname: string; readonly address: string; readonly peer: string; readonly prefixLength: 127 };
  /** The same uplink's IPv4 /31 (router even, internet odd). */
  readonly uplinkV4: { readonly address: string; readonly peer: string };
  readonly routerId: string;
}

export interface MachineNode {
  readonly machine: Machine;
  readonly ns: string;
  /** Interface name of the machine's link on each router's side (≤ 15 characters). */
  readonly routerIfname: string;
  readonly address: string;
  readonly gateway: string;
  /** The length of its address's prefix: 127 (the lab's point-to-point links), its uplink's in a rack lab. */
  readonly prefixLength: number;
  /** Its links: eth0 and eth1 (one to each router) in the lab, eth0 (its uplink) in a rack lab. */
  readonly links: readonly string[];
  /** Its public IPv4 (egress only): a /31 on both links in the lab (labMachineIPv4), its uplink's in a rack lab. */
  readonly ipv4: { readonly address: string; readonly gateway: string; readonly prefixLength: number };
  readonly routerId: string;
  /** Its uplink's name (a rack lab). */
  readonly uplink?: string;
}

export interface LabTopology {
  readonly cluster: string;
  readonly routers: readonly RouterNode[];
  readonly internet: {
    readonly ns: string;
    readonly prefix: string;
    /** The client address used for tests and the host's entry into the lab. */
    readonly client: string;
    /** Where the emulated metadata service answers (Equinix: metadata.platformequinix.com). */
    readonly metadata: string;
    /** The internet's IPv4 client address (the source of what it sends over IPv4). */
    readonly clientV4: string;
  };
  /** The link between the lab's two routers (none in a rack lab: its routers meet at the upstream). */
  readonly interRouter: { readonly r1: string; readonly r2: string } | undefined;
  readonly machines: readonly MachineNode[];
  /** The cluster's block, which the internet reaches through both routers. */
  readonly block: string;
  /**
   * The host's way into the lab: a veth from the host to the internet
   * namespace, and a host route for the cluster's block only. It is what
   * lets a kubeconfig pointing at the API server's ClusterIP work from the host.
   */
  readonly host: { readonly ifname: string; readonly address: string; readonly inetAddress: string; readonly linkPrefix: string };
  /** A rack lab's switch, uplinks and upstream (a metal spec: rack/topology.ts). */
  readonly rack?: RackFabric;
}

export interface RackUplink {
  readonly name: string;
  /** Its bridge in the switch namespace. */
  readonly bridge: string;
  readonly prefix: string;
  readonly ipv4?: { readonly prefix: string; readonly gateway: string; readonly length: number };
  /** Its routers' namespaces. */
  readonly routers: readonly string[];
}

/** What a rack lab has besides the lab's own pieces (rack/topology.ts builds it). */
export interface RackFabric {
  readonly switchNs: string;
  readonly uplinks: readonly RackUplink[];
  readonly upstream: { readonly asn: number; readonly routerId: string };
}

/** 32-bit FNV-1a, hex: short stable names from long ones. */
export function shortHash(text: string): string {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

/** Network namespace of a machine, or of the lab's provider pieces (which carry a "_", never in a machine name). */
export function machineNs(name: string): string {
  return `${NS_PREFIX}${name}`;
}

/** A provider piece's namespace: r1, r2, inet, run, sw, or a rack lab's router by its name. */
export function infraNs(cluster: string, part: string): string {
  return `${NS_PREFIX}${cluster}_${part}`;
}

/** IPv4-shaped router IDs (BGP needs one; the lab has no IPv4), unique per speaker. */
function routerId(index: number): string {
  return `10.${(index >> 16) & 255}.${(index >> 8) & 255}.${index & 255}`;
}

const LINKS = parseAddress('2001:db8:ffff:2::'); // /127s between provider pieces

export function labTopology(spec: ClusterSpec, plan: AddressPlan): LabTopology {
  if (spec.platform !== 'lab') throw new Error(`${spec.name} is not a lab cluster`);
  const link = (n: number) => formatAddress(LINKS + BigInt(n));
  const internet: LabTopology['internet'] = {
    ns: infraNs(spec.name, 'inet'),
    prefix: formatPrefix(LAB_INTERNET),
    client: formatAddress(LAB_INTERNET.address + 1n),
    metadata: formatAddress(LAB_INTERNET.address + 0xan),
    clientV4: '192.0.2.1',
  };
  const router = (index: 1 | 2): RouterNode => ({
    index,
    ns: infraNs(spec.name, index === 1 ? 'r1' : 'r2'),
    peerIP: formatAddress(LAB_ROUTER_PEERS[index - 1]!),
    // r1 <-> internet on :2::0/127, r2 <-> internet on :2::2/127 (router holds the even address).
    uplink: { ifname: 'inet', address: link(index === 1 ? 0 : 2), peer: link(index === 1 ? 1 : 3), prefixLength: 127 },
    uplinkV4: { address: LAB_ROUTER_UPLINK_V4[index].router, peer: LAB_ROUTER_UPLINK_V4[index].peer },
    routerId: routerId(0xff0000 + index),
  });
  const machines = plan.machines.map((m, i): MachineNode => {
    if (!m.link) throw new Error(`lab machine ${m.name} has no planned address`);
    return {
      machine: m,
      ns: machineNs(m.name),
      routerIfname: `m${shortHash(m.name)}`,
      address: formatAddress(m.link.address),
      gateway: formatAddress(m.link.gateway),
      prefixLength: 127,
      links: ['eth0', 'eth1'],
      ipv4: { ...labMachineIPv4(i), prefixLength: 31 },
      routerId: routerId(i + 1),
    };
  });
  return {
    cluster: spec.name,
    routers: [router(1), router(2)],
    internet,
    interRouter: { r1: link(4), r2: link(5) },
    machines,
    block: formatPrefix(plan.block),
    host: hostLink(spec.name),
  };
}

/** Host links live in 2001:db8:ffff:3::/64, one /127 per cluster (by name hash), so two labs do not collide. */
export const HOST_LINKS: Prefix = { address: parseAddress('2001:db8:ffff:3::'), length: 64 };

export function hostLink(cluster: string): LabTopology['host'] {
  const h = shortHash(cluster);
  const base = HOST_LINKS.address + (BigInt(`0x${h}`) << 32n);
  return { ifname: `n6h${h}`, address: formatAddress(base + 1n), inetAddress: formatAddress(base), linkPrefix: formatPrefix(HOST_LINKS) };
}

/** The routers a machine peers with: both of the lab's, its uplink's in a rack lab. */
export function routersAbove(t: Pick<LabTopology, 'routers' | 'rack'>, m: Pick<MachineNode, 'uplink'>): readonly RouterNode[] {
  if (!t.rack) return t.routers;
  const ns = t.rack.uplinks.find((u) => u.name === m.uplink)?.routers ?? [];
  return t.routers.filter((r) => ns.includes(r.ns));
}

/** The machines a router has sessions with: every machine in the lab, its uplink's in a rack lab. */
export function machinesBelow(t: Pick<LabTopology, 'machines' | 'rack'>, router: Pick<RouterNode, 'ns'>): readonly MachineNode[] {
  if (!t.rack) return t.machines;
  const uplink = t.rack.uplinks.find((u) => u.routers.includes(router.ns));
  return t.machines.filter((m) => m.uplink === uplink?.name);
}

/** The lab's own router pair and the link between them (refused for a rack lab, whose routers are the spec's). */
export function routerPair(t: LabTopology): { r1: RouterNode; r2: RouterNode; interRouter: { readonly r1: string; readonly r2: string } } {
  const [r1, r2] = t.routers;
  if (t.rack || !r1 || !r2 || t.routers.length !== 2 || !t.interRouter) throw new Error(`${t.cluster}: not the lab's own pair of routers (a rack lab's routers are its spec's)`);
  return { r1, r2, interRouter: t.interRouter };
}

export function allNamespaces(t: LabTopology): string[] {
  return [t.internet.ns, ...t.routers.map((r) => r.ns), ...t.machines.map((m) => m.ns)];
}

/** Prefix of the inter-provider links, for the routers' and internet's routing. */
export const PROVIDER_LINKS: Prefix = { address: LINKS, length: 64 };
