/**
 * The nodes' side of their BGP sessions with the routers above them: BFD
 * (interval and multiplier) and BGP's hold time, as every node's BIRD runs
 * them (lib/render/birdTemplates.ts extends Calico's templates with them).
 *
 * On the lab and on Equinix Metal the spec says them (spec.network.bfd and
 * holdTime, with the platform's defaults). On metal each router says its own
 * (spec.uplinks[].routers[].bfd and timers), and a node's BIRD has one
 * setting for all its sessions, so the nodes take:
 *
 * - BFD when any router runs it, at the shortest interval and the smallest
 *   multiplier any router asks for. BFD negotiates each direction's rate up
 *   to the slower end's (RFC 5880 §6.8.7), so a router asking for a longer
 *   interval gets it, and a router that runs no BFD leaves its session with
 *   the node down, which BIRD acts on only once it has been up: that
 *   router's BGP session is not held down by it.
 * - The longest hold time any router asks for: BGP negotiates the smaller of
 *   the two ends' (RFC 4271 §4.2), so each session gets its router's. The
 *   keepalive is not set: BIRD sends one every third of the negotiated hold
 *   time, which stays within every router's.
 */
import type { ClusterSpec } from './cluster.js';
import type { Bfd } from './inventory.js';

export interface NodeSessions {
  /** BFD on every session, when set. */
  readonly bfd?: Bfd;
  /** The hold time the nodes offer, seconds; undefined leaves BIRD's default (240 s; the routers' shorter one is negotiated). */
  readonly holdTime?: number;
}

export function nodeSessions(spec: Pick<ClusterSpec, 'network' | 'inventory'>): NodeSessions {
  const routers = spec.inventory?.uplinks.flatMap((u) => u.routers);
  if (!routers) {
    return { ...(spec.network.bfd ? { bfd: spec.network.bfd } : {}), ...(spec.network.holdTime !== undefined ? { holdTime: spec.network.holdTime } : {}) };
  }
  const bfds = routers.flatMap((r) => (r.bfd ? [r.bfd] : []));
  const bfd = bfds.length > 0 ? { intervalMs: Math.min(...bfds.map((b) => b.intervalMs)), multiplier: Math.min(...bfds.map((b) => b.multiplier)) } : undefined;
  // A router with hold 0 (never expire) negotiates 0 whatever the node offers; the others want theirs.
  const holds = routers.map((r) => r.timers.hold).filter((h) => h > 0);
  return { ...(bfd ? { bfd } : {}), ...(holds.length > 0 ? { holdTime: Math.max(...holds) } : {}) };
}
