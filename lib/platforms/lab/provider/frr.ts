/**
 * The lab's provider routers, as FRR configuration (one zebra, bgpd and bfdd
 * per router namespace). They behave like Equinix Metal's top-of-rack pair:
 *   - one eBGP session per machine, multihop from the router's loopback
 *     (the lab's fc00::e / fc00::f), MD5 password per machine;
 *   - accept only prefixes inside the cluster's block (routes_in);
 *   - send only a default route (routes_out: "downward default");
 *   - ECMP over every machine that announces a prefix (maximum-paths above
 *     the machine count);
 *   - BFD towards every machine when enabled.
 * Pure: returns file contents.
 */
import type { ClusterSpec } from '../../../cluster/cluster.js';
import { nodeSessions } from '../../../cluster/sessions.js';
import type { LabTopology, RouterNode } from '../topology.js';

export interface SessionTimers {
  /** BGP keepalive and hold time, seconds. */
  readonly keepalive: number;
  readonly hold: number;
  /** BFD transmit/receive interval (ms) and multiplier; undefined = no BFD. */
  readonly bfd?: { readonly intervalMs: number; readonly multiplier: number };
}

/** Short hold timers and no BFD: what the routers run when the spec turns BFD off and says no hold time. */
export const DEFAULT_TIMERS: SessionTimers = { keepalive: 3, hold: 9 };

/**
 * The routers' side of the sessions as the spec says the nodes' (spec.network.bfd and holdTime,
 * lib/cluster/sessions.ts): the same BFD, the same hold time with a keepalive of a third of it. The
 * nodes' BIRD runs them from Calico's templates as the cluster's ConfigMap extends them.
 */
export function labSessionTimers(spec: Pick<ClusterSpec, 'network' | 'inventory'>): SessionTimers {
  const { bfd, holdTime } = nodeSessions(spec);
  const hold = holdTime ?? DEFAULT_TIMERS.hold;
  return { keepalive: Math.floor(hold / 3), hold, ...(bfd ? { bfd } : {}) };
}

export interface RouterConfig {
  readonly zebra: string;
  readonly bgpd: string;
  readonly bfdd: string;
}

/** FRR's BGP multipath limit is at most 256 here; at least 16 and one above the machine count. */
export function multipathLimit(machines: number): number {
  return Math.min(256, Math.max(16, machines + 1));
}

export function routerConfig(
  t: LabTopology,
  router: RouterNode,
  asn: { readonly local: number; readonly peer: number },
  passwords: ReadonlyMap<string, string>,
  timers: SessionTimers = DEFAULT_TIMERS,
): RouterConfig {
  const lines = (xs: Array<string | false | undefined>) => `${xs.filter((x): x is string => typeof x === 'string').join('\n')}\n`;
  const zebra = lines([`hostname ${router.ns}`, '!']);
  const neighbors = t.machines.flatMap((m) => {
    const password = passwords.get(m.machine.name);
    if (!password) throw new Error(`no BGP password for ${m.machine.name}`);
    if (/\s/.test(password) || password.length > 80) throw new Error(`BGP password for ${m.machine.name} must be at most 80 characters without spaces`);
    return [` neighbor ${m.address} peer-group MACHINES`, ` neighbor ${m.address} description ${m.machine.name}`, ` neighbor ${m.address} password ${password}`];
  });
  const bgpd = lines([
    `hostname ${router.ns}`,
    '!',
    `ipv6 prefix-list CLUSTER seq 5 permit ${t.block} le 128`,
    '!',
    'route-map FROM-MACHINES permit 10',
    ' match ipv6 address prefix-list CLUSTER',
    '!',
    'route-map TO-MACHINES deny 10',
    '!',
    `router bgp ${asn.peer}`,
    ` bgp router-id ${router.routerId}`,
    ' no bgp default ipv4-unicast',
    ' bgp bestpath as-path multipath-relax',
    ' bgp log-neighbor-changes',
    ` timers bgp ${timers.keepalive} ${timers.hold}`,
    ' neighbor MACHINES peer-group',
    ` neighbor MACHINES remote-as ${asn.local}`,
    ' neighbor MACHINES ebgp-multihop 2',
    ` neighbor MACHINES update-source ${router.peerIP}`,
    ' neighbor MACHINES timers connect 5',
    timers.bfd && ' neighbor MACHINES bfd profile machines',
    ...neighbors,
    ' !',
    ' address-family ipv6 unicast',
    `  maximum-paths ${multipathLimit(t.machines.length)}`,
    '  neighbor MACHINES activate',
    '  neighbor MACHINES default-originate',
    '  neighbor MACHINES route-map FROM-MACHINES in',
    '  neighbor MACHINES route-map TO-MACHINES out',
    ' exit-address-family',
    '!',
  ]);
  const bfdd = timers.bfd
    ? lines([
        `hostname ${router.ns}`,
        '!',
        'bfd',
        ' profile machines',
        `  receive-interval ${timers.bfd.intervalMs}`,
        `  transmit-interval ${timers.bfd.intervalMs}`,
        `  detect-multiplier ${timers.bfd.multiplier}`,
        // BIRD 1.6 sends multihop BFD with the default TTL (64), not 255.
        '  minimum-ttl 60',
        ' !',
        '!',
      ])
    : lines([`hostname ${router.ns}`, '!']);
  return { zebra, bgpd, bfdd };
}
