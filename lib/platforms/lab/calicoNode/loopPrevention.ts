/**
 * Felix's service loop prevention (FelixConfiguration
 * serviceLoopPrevention), as nftables: traffic to an advertised Service
 * range that kube-proxy did not translate (no such Service, no endpoints,
 * rules not yet programmed) is dropped (Drop, Felix's default) or rejected
 * (Reject) instead of being routed back to the routers, which send it to
 * another node, and so on until its hop limit runs out. As Felix v3.28.5,
 * which jumps to its cali-cidr-block chain from filter FORWARD only
 * (felix/rules/static.go), it drops forwarded traffic only: a node's own
 * traffic to a ClusterIP its kube-proxy does not serve yet leaves for the
 * routers, which send it to a node that serves it. A full restart depends
 * on that: a worker's kubelet reaches the API through the ClusterIP before
 * its kube-proxy, a pod the kubelet runs, can serve it.
 *
 * Dropping in the forward hook matters beyond the loop: a forwarded packet
 * leaves a confirmed conntrack entry without NAT behind, and a later
 * connection that reuses the same addresses and ports would match that
 * entry and never be translated; a dropped packet's entry is never
 * confirmed.
 *
 * OURS, in place of Felix (README, "Calico in the lab"). Pure: the lab's
 * BGP agent applies the script with `nft -f -`.
 */
import { formatPrefix, parsePrefix } from '../../../net/ipv6.js';
import type { CalicoObject } from './confd.js';

export const LOOP_TABLE = 'n6-felix-loop-prevention';

export type LoopMode = 'Drop' | 'Reject' | 'Disabled';

export function loopPreventionMode(felixConfigurations: readonly CalicoObject[]): LoopMode {
  const spec = felixConfigurations.find((f) => f.metadata?.name === 'default')?.spec ?? {};
  const mode = spec.serviceLoopPrevention ?? 'Drop';
  if (mode !== 'Drop' && mode !== 'Reject' && mode !== 'Disabled') throw new Error(`FelixConfiguration default: serviceLoopPrevention "${String(mode)}" is not Drop, Reject or Disabled`);
  return mode;
}

export function advertisedServiceRanges(bgpConfigurations: readonly CalicoObject[]): string[] {
  const spec = bgpConfigurations.find((c) => c.metadata?.name === 'default')?.spec ?? {};
  const out: string[] = [];
  for (const field of ['serviceClusterIPs', 'serviceExternalIPs', 'serviceLoadBalancerIPs']) {
    for (const c of (spec[field] as Array<{ cidr?: string }> | undefined) ?? []) {
      if (c.cidr?.includes(':')) out.push(formatPrefix(parsePrefix(c.cidr, true)));
    }
  }
  return [...new Set(out)].sort();
}

/** The nft script that makes the table what it should be (created, replaced or deleted). */
export function loopPreventionScript(mode: LoopMode, ranges: readonly string[]): string {
  const lines = [`table ip6 ${LOOP_TABLE}`, `delete table ip6 ${LOOP_TABLE}`];
  if (mode === 'Disabled' || ranges.length === 0) return `${lines.join('\n')}\n`;
  const verdict = mode === 'Drop' ? 'drop' : 'reject with icmpv6 type admin-prohibited';
  const set = `{ ${ranges.join(', ')} }`;
  lines.push(
    `table ip6 ${LOOP_TABLE} {`,
    '  chain forward {',
    '    type filter hook forward priority filter; policy accept;',
    `    ip6 daddr ${set} ${verdict}`,
    '  }',
    '}',
  );
  return `${lines.join('\n')}\n`;
}
