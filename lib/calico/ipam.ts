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
import { formatAddress, formatPrefix, type Prefix } from '../net/ipv6.js';

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
