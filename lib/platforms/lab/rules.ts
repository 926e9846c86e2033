/**
 * The lab's rules for a cluster spec: one metro and one machine plan, both
 * "lab"; a block inside documentation space and clear of the lab provider's
 * own range; no provider to assign a block; at most 150 machines; no DNS
 * provider; Flux reads the lab's own git server unless told otherwise; pods
 * reach the lab's IPv4 internet through NAT64 by default, behind a prefix
 * in documentation space (never the well-known one: the lab's IPv4 hosts
 * have documentation addresses, which RFC 6052 §3.1 forbids behind it);
 * the machines' resolver is the provider's, over IPv4 only.
 */
import { contains, DOCUMENTATION, formatPrefix, overlaps, prefixEquals } from '../../net/ipv6.js';
import { DEFAULTS, NAT64_WELL_KNOWN } from '../../cluster/cluster.js';
import type { SpecRules } from '../../cluster/rules.js';
import { LAB_GIT_URL, LAB_INTERNET_HOSTS, LAB_PROVIDER_RANGE } from './provider/provider.js';

export const LAB = 'lab';
/** The lab's one metro and one machine plan. */
export const LAB_METRO = 'lab';
export const LAB_PLAN = 'lab';
/** Lab machines share one kernel: its IPv6 neighbour table holds about 190 lab nodes. */
export const LAB_MACHINES_MAX = 150;
/** BFD on the lab's sessions, both ends: a hung node found in 300 ms. */
export const LAB_BFD = { intervalMs: 100, multiplier: 3 } as const;
/** The lab routers' hold time, seconds (keepalive a third of it). */
export const LAB_HOLD_TIME = 9;

export const labRules: SpecRules = {
  name: LAB,
  nodeAddresses: 'planned',
  metro: {
    absent: { default: LAB_METRO },
    check: (m) => (m === LAB_METRO ? undefined : { message: `the lab platform has one metro, "${LAB_METRO}"`, fix: `remove the field or set it to "${LAB_METRO}"` }),
  },
  machinePlan: {
    absent: { default: LAB_PLAN },
    notAString: 'remove the field; lab machines have one plan',
    check: (p) => (p === LAB_PLAN ? undefined : { message: `"${p}" is not a lab machine plan`, fix: `remove the field; lab machines have one plan, "${LAB_PLAN}"` }),
  },
  controlPlane: { default: { count: DEFAULTS.controlPlaneCount, plan: LAB_PLAN } },
  block(prefix) {
    if (!contains(DOCUMENTATION, prefix)) {
      return { message: `the lab only uses documentation addresses and ${formatPrefix(prefix)} is outside 2001:db8::/32`, fix: 'pick a block inside 2001:db8::/32, e.g. 2001:db8:100::/56' };
    }
    if (overlaps(LAB_PROVIDER_RANGE, prefix)) {
      return { message: `${formatPrefix(prefix)} overlaps the lab provider's own range ${formatPrefix(LAB_PROVIDER_RANGE)}`, fix: 'pick a block elsewhere in 2001:db8::/32, e.g. 2001:db8:100::/56' };
    }
    return undefined;
  },
  blockSize: () => ({ message: 'the lab has no provider to allocate a block from', fix: 'write block: with a prefix inside 2001:db8::/32 instead' }),
  machines: (count) =>
    count > LAB_MACHINES_MAX
      ? { message: `the lab would run ${count} machines; its shared kernel's IPv6 neighbour table holds about ${LAB_MACHINES_MAX}`, fix: `keep the lab at ${LAB_MACHINES_MAX} machines or fewer` }
      : undefined,
  // The lab's routers run FRR's bfdd: BFD at 100 ms × 3 finds a hung node in 300 ms; the hold time is the routers' 9 s.
  sessions: { bfd: { default: LAB_BFD }, holdTime: { default: LAB_HOLD_TIME } },
  ipv4Egress: {
    // Each lab machine has an IPv4 address of its own on the lab's IPv4 internet: its pods' packets are translated into it.
    default: 'nat64',
    nat64Prefix(prefix) {
      const own = 'remove nat64Prefix (the plan then takes a /96 of the block) or pick a /96 inside 2001:db8::/32';
      if (prefixEquals(prefix, NAT64_WELL_KNOWN)) {
        return {
          message: `the lab's IPv4 hosts have documentation addresses, which RFC 6052 §3.1 forbids behind the well-known prefix ${formatPrefix(NAT64_WELL_KNOWN)}`,
          fix: own,
        };
      }
      if (!contains(DOCUMENTATION, prefix)) return { message: `the lab only uses documentation addresses and ${formatPrefix(prefix)} is outside 2001:db8::/32`, fix: own };
      if (overlaps(LAB_PROVIDER_RANGE, prefix)) return { message: `${formatPrefix(prefix)} overlaps the lab provider's own range ${formatPrefix(LAB_PROVIDER_RANGE)}`, fix: own };
      return undefined;
    },
  },
  // The lab machines' /etc/resolv.conf lists the provider's resolver by its IPv4 address only, as Equinix
  // Metal's list only IPv4 resolvers: the lab is no kinder than the real world (its IPv6 address stays unused).
  resolvers: [LAB_INTERNET_HOSTS.resolver.ipv4],
  dns: { message: 'is for Equinix Metal clusters: the lab has no DNS provider', fix: 'remove spec.dns from the lab spec' },
  sshKeys: { message: 'is for Equinix Metal clusters: the lab\'s machines run no SSH server (they are reached with nsenter on this host)', fix: 'remove spec.sshKeys from the lab spec' },
  gitops: { url: { default: LAB_GIT_URL } },
};
