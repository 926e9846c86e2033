/**
 * The lab's emulated provider: addresses the provider side of the lab uses
 * (routers, the internet behind them). All of it is documentation space
 * (RFC 3849) and disjoint from any cluster block a lab spec may hold.
 */
import { parseAddress, parsePrefix, type Prefix } from '../../../net/ipv6.js';

/** Everything the emulated provider numbers itself from. */
export const LAB_PROVIDER_RANGE: Prefix = parsePrefix('2001:db8:ffff::/48');

/**
 * The routers' BGP addresses, the lab's stand-ins for Equinix Metal's
 * multihop peers fc00::e and fc00::f: reached through each device's gateway.
 */
export const LAB_ROUTER_PEERS: readonly bigint[] = [parseAddress('2001:db8:ffff::e'), parseAddress('2001:db8:ffff::f')];

/** The internet namespace behind the routers. */
export const LAB_INTERNET: Prefix = parsePrefix('2001:db8:ffff:1::/64');

/**
 * The repository Flux reconciles from in the lab: the lab's git server, in
 * the internet namespace, by the name of its IPv4-only host (as github.com:
 * an A record, no AAAA), so that the lab's Flux reaches it as a real
 * cluster's does, through the cluster's DNS64 and the nodes' NAT64.
 */
export const LAB_GIT_URL = 'http://github.example/native6.git';

/**
 * The lab's IPv4 internet (RFC 5737 documentation space only): the internet's
 * own hosts in 192.0.2.0/24, the machines' /31s in 198.51.100.0/24 and then
 * 203.0.113.0/24 (gateway even, machine odd, as Equinix Metal gave every
 * device a public IPv4 /31). The routers route the machines' /31s
 * statically, as a provider routes its own space; nothing announces IPv4.
 */
export const LAB_INTERNET_V4 = '192.0.2.0/24';
export const LAB_MACHINE_V4_RANGES = ['198.51.100.0/24', '203.0.113.0/24'] as const;
/** The routers' IPv4 uplinks to the internet: r1 on .240/31, r2 on .242/31 (router even). */
export const LAB_ROUTER_UPLINK_V4 = { 1: { router: '192.0.2.240', peer: '192.0.2.241' }, 2: { router: '192.0.2.242', peer: '192.0.2.243' } } as const;

/** A host on the lab's internet: a name in the lab's DNS, and the addresses it answers on. */
export interface InternetHost {
  readonly name: string;
  readonly ipv4?: string;
  readonly ipv6?: string;
  readonly role: string;
}

/**
 * The lab's internet hosts, as today's internet has them: a git host that
 * answers over IPv4 only, under a name with only an A record (as github.com
 * in 2026), and one that answers over both under a name with both records
 * (as gitlab.com). Both serve the lab's git repositories. The resolver
 * answers for the zone `example.` (RFC 2606) from both of its addresses.
 */
export const LAB_INTERNET_HOSTS = {
  resolver: { name: 'ns.example', ipv4: '192.0.2.53', ipv6: '2001:db8:ffff:1::53', role: "the internet's DNS resolver" },
  gitV4: { name: 'github.example', ipv4: '192.0.2.10', role: 'git host, IPv4 only (as github.com)' },
  gitDual: { name: 'gitlab.example', ipv4: '192.0.2.11', ipv6: '2001:db8:ffff:1::2', role: 'git host, IPv4 and IPv6 (as gitlab.com)' },
} as const satisfies Record<string, InternetHost>;

/** The lab internet's DNS zone. */
export const LAB_DNS_ZONE = 'example';

/** A machine's IPv4 /31 by its position among the lab's machines (0-based). */
export function labMachineIPv4(index: number): { address: string; gateway: string; cidr: 31 } {
  const range = LAB_MACHINE_V4_RANGES[Math.floor(index / 128)];
  if (range === undefined) throw new Error(`the lab numbers IPv4 for ${LAB_MACHINE_V4_RANGES.length * 128} machines; machine ${index + 1} has none`);
  const base = range.split('/')[0]!.split('.').slice(0, 3).join('.');
  const low = (index % 128) * 2;
  return { gateway: `${base}.${low}`, address: `${base}.${low + 1}`, cidr: 31 };
}

/**
 * The NAT64 translators' node-local IPv4 pool in the lab (BootOptions.nat64Pool):
 * documentation space disjoint from every lab address (the machines' /31s in
 * 203.0.113.0/24 end at .43 for the lab's 150 machines).
 */
export const LAB_NAT64_POOL = '203.0.113.128/25';
