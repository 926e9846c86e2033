/**
 * The address plan: the reserved block carved into disjoint ranges, and the
 * machines of the cluster with their names and (where the platform numbers
 * them itself) their addresses. Pure and deterministic; see layout.ts for
 * why nothing is renumbered when the spec grows.
 */
import { formatAddress, formatPrefix, overlaps, subnet, type Prefix } from '../net/ipv6.js';
import { LIMITS, type ClusterSpec } from '../cluster/cluster.js';
import { uplinkOf, type Inventory } from '../cluster/inventory.js';
import { podPoolPlacement, SLOT } from './layout.js';
import { prefixText } from './relativeText.js';

export type Role = 'control-plane' | 'worker';

export interface Machine {
  /** Hostname, Kubernetes Node name and Calico node name. */
  readonly name: string;
  readonly role: Role;
  /** Pool name; "cp" for the control planes. */
  readonly pool: string;
  /** 1-based index inside the pool. */
  readonly index: number;
  readonly plan: string;
  /**
   * The machine's /127 (gateway = even address, machine = odd), when the
   * platform lets us choose it (the lab); its address on its uplink's
   * prefix, with the uplink's gateway, when the spec lists it (metal). On
   * Equinix Metal the provider assigns it inside the node range and apply
   * records it.
   */
  readonly link?: { readonly address: bigint; readonly gateway: bigint; readonly prefix: Prefix };
}

export type RangeName = 'block' | 'nodes' | 'services' | 'apiserver' | 'load-balancers' | 'external-ips' | 'nat64' | 'pods';

export interface Range {
  readonly name: RangeName;
  readonly prefix: Prefix;
  readonly purpose: string;
}

export interface AddressPlan {
  readonly cluster: string;
  /** False when the block is only a size to request: prefixes are then relative to ::/length. */
  readonly resolved: boolean;
  readonly block: Prefix;
  readonly nodes: Prefix;
  readonly services: Prefix;
  /** The `kubernetes` Service ClusterIP: the first host of the Service range. */
  readonly apiServer: bigint;
  readonly loadBalancers?: Prefix;
  readonly externalIPs?: Prefix;
  /**
   * The NAT64 prefix, when pods reach IPv4 through NAT64 (spec.egress.ipv4):
   * spec.egress.nat64Prefix, else the first /96 of the block's /64 #4.
   * Translated on each node; never announced.
   */
  readonly nat64?: Prefix;
  readonly pods: { readonly pool: Prefix; readonly blockSize: number; readonly blocks: bigint };
  readonly machines: readonly Machine[];
  /**
   * Every range, with what it is for: in address order, but for the NAT64
   * prefix, which comes before the pods wherever it is (a prefix the spec
   * gives may lie outside the block).
   */
  readonly ranges: readonly Range[];
}

/**
 * The slot (bits 16..47 of the node /64) of a pool: 0 for the control
 * planes, a 32-bit FNV-1a hash of the pool name for worker pools, so a pool
 * keeps its addresses whatever other pools are added, removed or reordered.
 */
export function poolSlot(pool: string): bigint {
  if (pool === 'cp') return 0n;
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(pool)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return BigInt(h === 0 ? 1 : h);
}

function machineLink(nodes: Prefix, pool: string, index: number): NonNullable<Machine['link']> {
  const gateway = nodes.address + (poolSlot(pool) << 16n) + BigInt(index) * 2n;
  return { gateway, address: gateway + 1n, prefix: { address: gateway, length: 127 } };
}

/** Machines in a stable order: control planes, then pools in spec order. */
export function planMachines(spec: ClusterSpec, nodes: Prefix): Machine[] {
  if (spec.inventory) return listedMachines(spec, spec.inventory);
  const numbered = spec.nodeAddresses === 'planned';
  const out: Machine[] = [];
  const add = (pool: string, role: Role, count: number, plan: string): void => {
    for (let i = 1; i <= count; i++) {
      out.push({
        name: `${spec.name}-${pool}-${i}`,
        role,
        pool,
        index: i,
        plan,
        ...(numbered ? { link: machineLink(nodes, pool, i) } : {}),
      });
    }
  };
  add('cp', 'control-plane', spec.controlPlane.count, spec.controlPlane.plan);
  for (const w of spec.workers) add(w.name, 'worker', w.count, w.plan);
  return out;
}

/** The machines a spec lists (metal), named as listed: control planes, then the pools in the order the machines first name them; each in the spec's order. */
function listedMachines(spec: ClusterSpec, inventory: Inventory): Machine[] {
  const pools = ['cp', ...spec.workers.map((w) => w.name)];
  return pools.flatMap((pool) =>
    inventory.machines
      .filter((m) => m.pool === pool)
      .map((m, i): Machine => {
        const uplink = uplinkOf(inventory, m);
        return {
          name: m.name,
          role: pool === 'cp' ? 'control-plane' : 'worker',
          pool,
          index: i + 1,
          plan: pool === 'cp' ? spec.controlPlane.plan : spec.workers.find((w) => w.name === pool)!.plan,
          link: { address: m.address, gateway: uplink.gateway, prefix: uplink.prefix },
        };
      }),
  );
}

export class PlanError extends Error {
  override name = 'PlanError';
}

/** Distinct pools whose slots collide (the hash is 32 bits; practically never). */
export function slotCollisions(spec: ClusterSpec): Array<[string, string]> {
  const seen = new Map<bigint, string>([[0n, 'cp']]);
  const out: Array<[string, string]> = [];
  for (const w of spec.workers) {
    const s = poolSlot(w.name);
    const other = seen.get(s);
    if (other !== undefined) out.push([other, w.name]);
    else seen.set(s, w.name);
  }
  return out;
}

const NODES_PURPOSE = {
  planned: 'node addresses: one /127 per machine (gateway even, machine odd)',
  provider: "node addresses: the provider's /127 per device",
  given: "unused: the machines keep their own addresses on their uplinks (spec.machines)",
} as const;

export function planAddresses(spec: ClusterSpec): AddressPlan {
  const n = spec.network;
  const resolved = n.block.prefix !== undefined;
  const block: Prefix = n.block.prefix ?? { address: 0n, length: n.block.length };
  const slot64 = (index: bigint): Prefix => subnet(block, 64, index);

  const collisions = slotCollisions(spec);
  if (collisions.length > 0) {
    const [a, b] = collisions[0]!;
    throw new PlanError(`worker pools "${a}" and "${b}" hash to the same address slot; rename one of them`);
  }

  const nodes = slot64(SLOT.nodes);
  const services = subnet(slot64(SLOT.services), n.serviceRangeSize, 0n);
  const apiServer = services.address + 1n;
  const loadBalancers = n.loadBalancerRangeSize !== undefined ? subnet(slot64(SLOT.loadBalancers), n.loadBalancerRangeSize, 0n) : undefined;
  const externalIPs = n.externalIPRangeSize !== undefined ? subnet(slot64(SLOT.externalIPs), n.externalIPRangeSize, 0n) : undefined;
  const nat64 = spec.egress.ipv4 === 'nat64' ? (spec.egress.nat64Prefix ?? nat64Default(block)) : undefined;

  const placement = podPoolPlacement(block.length, n.podPoolSize);
  if (!placement.fits) throw new PlanError(`a /${n.podPoolSize} pod pool does not fit in ${formatPrefix(block)}: ${placement.reason}`);
  const pool: Prefix =
    n.podPoolSize >= 64 ? subnet(slot64(placement.firstSlot), n.podPoolSize, 0n) : { address: block.address + (placement.firstSlot << 64n), length: n.podPoolSize };
  const pods = { pool, blockSize: n.podBlockSize, blocks: 1n << BigInt(n.podBlockSize - n.podPoolSize) };

  const ranges: Range[] = [
    { name: 'block', prefix: block, purpose: resolved ? 'reserved block (spec.network.block)' : `reserved block: the /${block.length} the provider assigns, recorded at apply (x: its bits, not known yet)` },
    {
      name: 'nodes',
      prefix: nodes,
      purpose: NODES_PURPOSE[spec.nodeAddresses],
    },
    { name: 'services', prefix: services, purpose: 'Service ClusterIPs, announced from every node (ECMP)' },
    { name: 'apiserver', prefix: { address: apiServer, length: 128 }, purpose: 'the kubernetes Service ClusterIP: the API endpoint, reachable from outside' },
  ];
  if (loadBalancers) ranges.push({ name: 'load-balancers', prefix: loadBalancers, purpose: 'LoadBalancer IPs, /128 per Service from nodes with endpoints when Local' });
  if (externalIPs) ranges.push({ name: 'external-ips', prefix: externalIPs, purpose: 'Service externalIPs, /128 per Service from nodes with endpoints when Local' });
  if (nat64) {
    ranges.push({
      name: 'nat64',
      prefix: nat64,
      purpose: `NAT64${spec.egress.nat64Prefix ? ' (spec.egress.nat64Prefix)' : ''}: pods reach IPv4-only hosts through it (DNS64 answers), translated on each node with its own IPv4; never announced`,
    });
  }
  ranges.push({ name: 'pods', prefix: pool, purpose: `pod pool: Calico IPAM blocks of /${n.podBlockSize} (${countText(n.podBlockSize - n.podPoolSize)} blocks), announced by the node that holds each` });

  return {
    cluster: spec.name,
    resolved,
    block,
    nodes,
    services,
    apiServer,
    ...(loadBalancers ? { loadBalancers } : {}),
    ...(externalIPs ? { externalIPs } : {}),
    ...(nat64 ? { nat64 } : {}),
    pods,
    machines: planMachines(spec, nodes),
    ranges,
  };
}

/** The plan of a spec that gives only its block's size, inside a given block of that size (the provider's, or a stand-in). */
export function planInBlock(spec: ClusterSpec, prefix: Prefix): AddressPlan {
  if (prefix.length !== spec.network.block.length) throw new PlanError(`${spec.file}: the block ${formatPrefix(prefix)} is not a /${spec.network.block.length}, the size spec.network.blockSize asks for`);
  const plan = planAddresses({ ...spec, network: { ...spec.network, block: { prefix, length: prefix.length } } });
  return { ...plan, ranges: plan.ranges.map((r) => (r.name === 'block' ? { ...r, purpose: "reserved block: the provider's, recorded at apply (spec.network.blockSize)" } : r)) };
}

/** The NAT64 prefix the plan takes when the spec gives none: the first /96 of the block's /64 #4. */
export function nat64Default(block: Prefix): Prefix {
  return subnet(subnet(block, 64, SLOT.nat64), LIMITS.nat64PrefixLength, 0n);
}

/**
 * The ranges of the plan its NAT64 prefix overlaps: a prefix the spec gives
 * may lie anywhere, inside the block (but outside its ranges) or outside it.
 * The API server's address is left to the Service range that holds it.
 */
export function nat64Overlaps(plan: AddressPlan): Range[] {
  const nat64 = plan.nat64;
  if (!nat64) return [];
  return plan.ranges.filter((r) => r.name !== 'block' && r.name !== 'nat64' && r.name !== 'apiserver' && overlaps(r.prefix, nat64));
}

/**
 * What of the plan a link's prefix overlaps (metal's spec.uplinks[].prefix):
 * the block, the ranges carved from it, and the NAT64 prefix wherever it
 * is. The API server's address is left to the Service range that holds it.
 */
export function linkOverlaps(plan: AddressPlan, link: Prefix): Range[] {
  return plan.ranges.filter((r) => r.name !== 'apiserver' && overlaps(r.prefix, link));
}

/** 2^bits written for people: 1024, or 2^58 when large. */
function countText(bits: number): string {
  return bits <= 20 ? String(1 << bits) : `2^${bits}`;
}

/** The plan's ranges as rows of text, for tables and comments. */
export function planRows(plan: AddressPlan): Array<{ range: string; prefix: string; purpose: string }> {
  return plan.ranges.map((r) => ({ range: r.name, prefix: prefixText(plan, r.prefix), purpose: r.purpose }));
}

export function machineRows(plan: AddressPlan): Array<{ machine: string; role: string; plan: string; address: string; gateway: string }> {
  return plan.machines.map((m) => ({
    machine: m.name,
    role: m.role,
    plan: m.plan,
    address: m.link ? `${formatAddress(m.link.address)}/${m.link.prefix.length}` : 'assigned by the provider',
    gateway: m.link ? formatAddress(m.link.gateway) : '-',
  }));
}
