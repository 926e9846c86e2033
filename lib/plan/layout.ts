/**
 * Where each range sits inside the reserved block, in units of /64.
 *
 * The layout is fixed so that a range never moves when another one changes:
 * turning on a LoadBalancer range, adding pools or nodes never renumbers
 * anything that exists.
 *
 *   /64 #0     node addresses (the provider's /127 per device)
 *   /64 #1     Service ClusterIPs (the first /serviceRangeSize of it)
 *   /64 #2     LoadBalancer IPs (when configured)
 *   /64 #3     external IPs (when configured)
 *   /64 #4     the NAT64 prefix (its first /96), when pods reach IPv4 through
 *              NAT64 and the spec gives no prefix of its own
 *   /64 #5-7   kept free for ranges to come
 *   /64 #8...  the pod pool, at the first offset aligned to its size
 */
export const SLOT = {
  nodes: 0n,
  services: 1n,
  loadBalancers: 2n,
  externalIPs: 3n,
  nat64: 4n,
  /** The first /64 no range takes: #5 to #7 are kept free. */
  firstFree: 5n,
  pods: 8n,
} as const;

export interface PoolPlacement {
  readonly fits: boolean;
  /** Index of the pool's first /64 inside the block. */
  readonly firstSlot: bigint;
  /** The largest pool (smallest prefix length) that would fit, for the fix. */
  readonly largestFitting: number;
  readonly reason: string;
}

function alignUp(value: bigint, to: bigint): bigint {
  return ((value + to - 1n) / to) * to;
}

/** Where a /poolSize pod pool goes in a /blockLength block, and whether it fits. */
export function podPoolPlacement(blockLength: number, poolSize: number): PoolPlacement {
  const slots = 1n << BigInt(64 - blockLength);
  const footprint = poolSize >= 64 ? 1n : 1n << BigInt(64 - poolSize);
  const firstSlot = alignUp(SLOT.pods, footprint);
  let largestFitting = 64;
  for (let size = 64; size >= blockLength; size--) {
    const fp = size >= 64 ? 1n : 1n << BigInt(64 - size);
    if (alignUp(SLOT.pods, fp) + fp <= slots) largestFitting = size;
  }
  const fits = firstSlot + footprint <= slots;
  return {
    fits,
    firstSlot,
    largestFitting,
    reason: fits
      ? 'fits'
      : `the block has ${slots} /64s, the first ${SLOT.pods} are fixed ranges, and the pool needs ${footprint} /64s aligned to its size`,
  };
}
