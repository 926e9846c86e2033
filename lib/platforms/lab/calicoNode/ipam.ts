/**
 * Calico IPAM's data model for block claims (crd.projectcalico.org/v1
 * IPAMBlock and BlockAffinity, as Calico's Kubernetes datastore keeps
 * them): names, objects, and the choice of a free block. Pure; the lab's
 * node agent does the API calls.
 *
 * A node claims a block by creating the IPAMBlock named after its CIDR
 * (creation is the lock: a second claimer gets 409 Conflict and tries the
 * next block), then a confirmed BlockAffinity for itself, as Calico's IPAM
 * does (libcalico-go/lib/ipam: claimAffineBlock).
 */
import { formatAddress, formatPrefix, parseAddress, type Prefix } from '../../../net/ipv6.js';

/** Calico's KDD name for a CIDR: '.', ':' and '/' become '-' (libcalico-go names.CIDRToName). */
export function cidrToName(cidr: string): string {
  return cidr.replace(/[.:/]/g, '-');
}

/** The BlockAffinity's name: "<node>-<cidr name>" (libcalico-go: the KDD block affinity client). */
export function affinityName(node: string, cidr: string): string {
  return `${node}-${cidrToName(cidr)}`;
}

export interface IpamBlock {
  apiVersion: 'crd.projectcalico.org/v1';
  kind: 'IPAMBlock';
  metadata: { name: string };
  spec: {
    cidr: string;
    affinity: string;
    allocations: Array<number | null>;
    unallocated: number[];
    attributes: unknown[];
    strictAffinity: boolean;
    deleted: boolean;
  };
}

export interface BlockAffinity {
  apiVersion: 'crd.projectcalico.org/v1';
  kind: 'BlockAffinity';
  metadata: { name: string };
  spec: { state: 'pending' | 'confirmed' | 'pendingDeletion'; node: string; cidr: string; deleted: 'false' | 'true' };
}

export function blockSizeOf(block: Prefix): number {
  return 2 ** (128 - block.length);
}

/** An empty block with an affinity to `node` (every ordinal free). */
export function emptyBlock(block: Prefix, node: string): IpamBlock {
  const cidr = formatPrefix(block);
  const n = blockSizeOf(block);
  if (n > 4096) throw new Error(`IPAM block ${cidr} has ${n} addresses; Calico blocks hold at most 4096 (block size /116)`);
  return {
    apiVersion: 'crd.projectcalico.org/v1',
    kind: 'IPAMBlock',
    metadata: { name: cidrToName(cidr) },
    spec: {
      cidr,
      affinity: `host:${node}`,
      allocations: new Array<null>(n).fill(null),
      unallocated: Array.from({ length: n }, (_, i) => i),
      attributes: [],
      strictAffinity: false,
      deleted: false,
    },
  };
}

export function confirmedAffinity(block: Prefix, node: string): BlockAffinity {
  const cidr = formatPrefix(block);
  return {
    apiVersion: 'crd.projectcalico.org/v1',
    kind: 'BlockAffinity',
    metadata: { name: affinityName(node, cidr) },
    spec: { state: 'confirmed', node, cidr, deleted: 'false' },
  };
}

/**
 * Free blocks of the pool in order, skipping the taken CIDRs. Calico starts
 * the search at a random block; we start at a node-specific offset (a hash
 * of the node's name), so that claims do not all contend for block 0 and a
 * node that re-joins tends to get the same block back. Yields at most
 * `limit` candidates.
 */
export function* freeBlocks(pool: Prefix, blockSize: number, taken: ReadonlySet<string>, node: string, limit = 64): Generator<Prefix> {
  if (blockSize < pool.length) throw new Error(`block size /${blockSize} is larger than the pool ${formatPrefix(pool)}`);
  const count = 1n << BigInt(blockSize - pool.length);
  const step = 1n << BigInt(128 - blockSize);
  let h = 0x811c9dc5;
  for (const c of node) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  const start = BigInt(h) % count;
  let yielded = 0;
  for (let i = 0n; i < count && yielded < limit; i++) {
    const index = (start + i) % count;
    const block = { address: pool.address + index * step, length: blockSize };
    if (taken.has(formatPrefix(block))) continue;
    yielded++;
    yield block;
  }
}

/** The address of ordinal `i` in the block. */
export function ordinalAddress(block: Prefix, i: number): string {
  return formatAddress(block.address + BigInt(i));
}

/**
 * The block's allocations as Calico IPAM records them, from the addresses
 * the host-local plugin handed out inside it (its files: address -> the
 * container ID, the pod's UID in the lab): ordinal -> attribute index, the
 * free ordinals in order, one attribute per allocation with Calico's handle
 * ("k8s-pod-network.<container ID>"). The block's network address (ordinal
 * 0) is reserved, as host-local never hands it out.
 */
export function blockAllocations(block: Prefix, leases: ReadonlyMap<string, string>): Pick<IpamBlock['spec'], 'allocations' | 'unallocated' | 'attributes'> {
  const n = blockSizeOf(block);
  const allocations = new Array<number | null>(n).fill(null);
  const attributes: Array<{ handle_id: string; secondary: Record<string, string> }> = [];
  const entries = [...leases].map(([ip, id]) => [Number(parseAddress(ip) - block.address), id] as const).filter(([i]) => i >= 0 && i < n).sort((a, b) => a[0] - b[0]);
  for (const [i, id] of entries) {
    allocations[i] = attributes.length;
    attributes.push({ handle_id: `k8s-pod-network.${id}`, secondary: { note: 'allocated by host-local in the lab' } });
  }
  allocations[0] ??= attributes.length;
  if (allocations[0] === attributes.length) attributes.push({ handle_id: 'native6-reserved-network-address', secondary: {} });
  const unallocated = allocations.flatMap((a, i) => (a === null ? [i] : []));
  return { allocations, unallocated, attributes };
}
