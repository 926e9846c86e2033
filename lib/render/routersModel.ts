/**
 * The routers' side of a metal cluster, as a model both daemons' renderers
 * read (routersFrr.ts, routersBird.ts, routersReadme.ts; routers.ts puts
 * them together): every router with its neighbours, what it accepts from
 * the nodes, its ECMP width, and the names the files share.
 */
import { formatAddress, formatPrefix, type Prefix } from '../net/ipv6.js';
import type { ClusterSpec } from '../cluster/cluster.js';
import type { InventoryMachine, Router, Uplink } from '../cluster/inventory.js';
import type { AddressPlan } from '../plan/addressPlan.js';
import { GENERATED_MARKER, header } from './yaml.js';

/** The folder of the cluster's tree the router files are in. */
export const ROUTERS_DIR = 'routers';

/** FRR (bgpd) and the kernel take at most this many next hops for one route on Debian's build (maximum-paths 1-256). */
export const MULTIPATH_MAX = 256;

/**
 * One range the router accepts from the nodes: `prefix` itself or any
 * prefix inside it whose length is between `min` and `max`, inclusive
 * (FRR: `permit prefix ge min le max`; BIRD: `prefix{min,max}`).
 */
export interface AcceptedRange {
  readonly prefix: Prefix;
  readonly min: number;
  readonly max: number;
  /** What it is, for the comments and the README. */
  readonly what: string;
}

/** One router with everything its files need. */
export interface RouterSite {
  readonly cluster: string;
  /** infra/<cluster>.yaml: where the files say they come from. */
  readonly source: string;
  readonly uplink: Uplink;
  readonly router: Router;
  /** The machines on the router's uplink, its neighbours, in the spec's order. */
  readonly machines: readonly InventoryMachine[];
  /** The nodes' AS: spec.network.localASN. */
  readonly nodeAsn: number;
  readonly accepted: readonly AcceptedRange[];
  /** maximum-paths (FRR) and merge paths limit (BIRD's kernel protocol). */
  readonly multipath: number;
}

export interface RouterFile {
  readonly path: string;
  readonly content: string;
}

/**
 * What the nodes announce, so exactly what the routers accept (Calico v3.28's
 * BIRD templates, bird6_ipam.cfg.template and bird6_aggr.cfg.template, and
 * its route generator, which lib/platforms/lab/calicoNode/confd.ts
 * reproduces):
 *   - the pod pool's IPAM blocks (/blockSize, from the node holding each),
 *     and /128s of addresses a node borrowed from another node's block
 *     (calico_aggr rejects only what lies inside the node's own blocks);
 *   - each Service range of the BGPConfiguration (serviceClusterIPs,
 *     serviceLoadBalancerIPs, serviceExternalIPs) whole, from every node,
 *     and a /128 per address of an externalTrafficPolicy Local Service from
 *     the nodes with an endpoint.
 * The NAT64 prefix is never announced (translated on each node), nor are the
 * nodes' own addresses.
 */
export function acceptedRanges(plan: AddressPlan): AcceptedRange[] {
  const service = (prefix: Prefix, what: string): AcceptedRange[] =>
    prefix.length === 128
      ? [{ prefix, min: 128, max: 128, what }]
      : [
          { prefix, min: prefix.length, max: prefix.length, what: `${what}, whole, from every node` },
          { prefix, min: 128, max: 128, what: `${what}, a /128 per address of a Local Service, from nodes with an endpoint` },
        ];
  return [
    {
      prefix: plan.pods.pool,
      min: plan.pods.blockSize,
      max: 128,
      what: `pod pool: its /${plan.pods.blockSize} IPAM blocks, and /128s of borrowed addresses`,
    },
    ...service(plan.services, 'Service ClusterIPs'),
    ...(plan.loadBalancers ? service(plan.loadBalancers, 'LoadBalancer IPs') : []),
    ...(plan.externalIPs ? service(plan.externalIPs, 'Service externalIPs') : []),
  ];
}

/**
 * The router's ECMP width: the number of machines on its uplink. Every one
 * of them announces each Service range, and every one is this router's
 * neighbour, so that many equal paths can arrive; at most MULTIPATH_MAX.
 */
export function multipathLimit(machines: number): number {
  return Math.max(1, Math.min(MULTIPATH_MAX, machines));
}

/** Every router of the inventory with its neighbours, uplinks and routers in the spec's order. */
export function routerSites(spec: ClusterSpec, plan: AddressPlan): RouterSite[] {
  const inventory = spec.inventory;
  if (!inventory) {
    throw new Error(`${spec.file}: cluster "${spec.name}" has no inventory (spec.uplinks and spec.machines, platform "metal"): there are no routers to render a configuration for`);
  }
  if (!plan.resolved) {
    throw new Error(`${spec.file}: the block of cluster "${spec.name}" is not known yet (spec.network.blockSize): the routers' prefix filters need the real ranges`);
  }
  const accepted = acceptedRanges(plan);
  const seen = new Set<string>();
  const sites: RouterSite[] = [];
  for (const uplink of inventory.uplinks) {
    const machines = inventory.machines.filter((m) => m.uplink === uplink.name);
    for (const router of uplink.routers) {
      if (seen.has(router.name)) throw new Error(`${spec.file}: router "${router.name}" is named twice in the inventory`);
      seen.add(router.name);
      sites.push({
        cluster: spec.name,
        source: `infra/${spec.name}.yaml`,
        uplink,
        router,
        machines,
        nodeAsn: spec.network.localASN,
        accepted,
        multipath: multipathLimit(machines.length),
      });
    }
  }
  return sites;
}

// ------------------------------------------------------------------ shared by the renderers

/** The README's first line: render's marker, as the YAML files start (lib/repo/workspace.ts removes a stale file that has it). */
export function generatedLine(source: string): string {
  return `${GENERATED_MARKER}${source}. Do not edit by hand: change the source and run \`npm run render\` to regenerate.`;
}

/** The comment every router file starts with (# is a comment to FRR and BIRD alike; the first line is render's marker). */
export function fileHeader(site: RouterSite, daemon: string): string[] {
  const u = site.uplink;
  return [
    ...header(site.source).split('\n'),
    '#',
    `# ${daemon} configuration of router ${site.router.name} (AS ${site.router.asn}) for cluster ${site.cluster}:`,
    `# its eBGP sessions with the ${site.machines.length} node(s) of uplink ${u.name} (${formatPrefix(u.prefix)}), AS ${site.nodeAsn}.`,
    `# How to apply it, and where the MD5 password goes: README.md beside this file.`,
  ];
}

/** One line per session, for the comments: "address  machine (pool)". */
export function neighbourLines(site: RouterSite): string[] {
  return site.machines.map((m) => `${formatAddress(m.address)}  ${m.name} (${m.pool === 'cp' ? 'control plane' : `pool ${m.pool}`})`);
}

/** The session timers as words, for the comments. */
export function timersText(router: Router): string {
  const t = `BGP keepalive ${router.timers.keepalive} s, hold ${router.timers.hold} s`;
  return router.bfd ? `BFD every ${router.bfd.intervalMs} ms, down after ${router.bfd.multiplier} missed; ${t}` : `${t}, no BFD`;
}

/** The name of the root-only file that holds the cluster's BGP password on a router running FRR. */
export function frrSecretFile(cluster: string): string {
  return `/etc/frr/native6-${cluster}.bgp-password`;
}

/** The root-only file a router running BIRD includes: it defines birdPasswordSymbol(cluster). */
export function birdSecretFile(cluster: string): string {
  return `/etc/bird/native6-${cluster}.secret.conf`;
}

/** The placeholder FRR's file carries where the password goes; envsubst replaces it at install. */
export const FRR_PASSWORD_VARIABLE = 'N6_BGP_PASSWORD';
export const FRR_PASSWORD_PLACEHOLDER = `\${${FRR_PASSWORD_VARIABLE}}`;

/** BIRD's symbols are at most 64 characters of [A-Za-z0-9_]: a longer one is cut and given a hash of the whole. */
export function birdSymbol(...parts: string[]): string {
  const s = ['n6', ...parts].join('_').replace(/[^A-Za-z0-9_]/g, '_');
  if (s.length <= 64) return s;
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(s)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return `${s.slice(0, 55)}_${h.toString(16).padStart(8, '0')}`;
}

/** The string constant BIRD's password option names; the secret file defines it. */
export function birdPasswordSymbol(cluster: string): string {
  return birdSymbol(cluster, 'bgp_password');
}
