/**
 * Equinix Metal's rules for a cluster spec: a two-letter metro, plan slugs
 * such as c3.small.x86, the project's /56 per metro (given, or found at
 * apply), and a repository for Flux, all required; pods reach IPv4 through
 * NAT64 by default; the devices' resolvers are IPv4 only.
 */
import type { SpecRules } from '../../cluster/rules.js';

export const EQUINIX_METAL = 'equinix-metal';

const required = (fix: string) => ({ required: { message: `is required on ${EQUINIX_METAL}`, fix } });

export const equinixMetalRules: SpecRules = {
  name: EQUINIX_METAL,
  nodeAddresses: 'provider',
  metro: {
    absent: required('add the two-letter metro code, e.g. "metro: da"'),
    check: (m) => (/^[a-z]{2}$/.test(m) ? undefined : { message: `"${m}" is not an Equinix Metal metro code`, fix: 'use the two-letter metro code, e.g. "da", "ny", "sv", "am"' }),
  },
  machinePlan: {
    absent: { required: { message: 'is required', fix: 'add the Equinix Metal machine plan, e.g. "plan: c3.small.x86"' } },
    notAString: 'write the plan as a string, e.g. c3.small.x86',
    check: (p) =>
      /^[a-z][a-z0-9]*\.[a-z0-9]+\.[a-z0-9_]+$/.test(p) ? undefined : { message: `"${p}" is not an Equinix Metal plan name`, fix: 'use a plan slug such as c3.small.x86 or m3.large.x86' },
  },
  controlPlane: required('add "controlPlane: {count: 3, plan: c3.small.x86}"'),
  block: (prefix) => (prefix.length === 56 ? undefined : { message: `Equinix Metal reserves a /56 per project and metro, not a /${prefix.length}`, fix: "write the project's /56 for this metro" }),
  blockSize: (size) => (size === 56 ? undefined : { message: `Equinix Metal reserves a /56 per project and metro, not a /${size}`, fix: 'use blockSize: 56' }),
  machines: () => undefined,
  // Each device's own IPv4 address is what its pods' packets are translated into.
  sessions: {
    bfd: {
      refused: {
        message: "Equinix Metal's routers ran no BFD on their customers' BGP sessions (its BGP documentation names none)",
        fix: 'remove bfd: the hold time (holdTime, 9 s by default) is what finds a dead node there',
      },
    },
    holdTime: { default: 9 },
  },
  ipv4Egress: { default: 'nat64' },
  // Equinix Metal's recursive resolvers, IPv4 only: what its images write into every device's
  // /etc/resolv.conf. No page of Equinix's documentation found lists them: they are the nameservers
  // in published configurations of Equinix Metal machines (e.g. NixOS's ofborg builders, and the
  // static networking of a public guide to Single Node OpenShift on Equinix Metal), none of which
  // lists an IPv6 resolver.
  resolvers: ['147.75.207.207', '147.75.207.208'],
  gitops: {
    absent: { message: `is required on ${EQUINIX_METAL}`, fix: 'add "gitops: {url: https://github.com/<owner>/<repo>}", the repository Flux reconciles from' },
    url: required('add the repository URL Flux reconciles from'),
    cleartext: {
      message: 'is http://, cleartext over the internet: anyone on the way between the cluster and the git host could change what Flux applies, as cluster-admin',
      fix: 'use the https:// URL of the repository (or ssh:// with spec.gitops.secretRef)',
    },
  },
};
