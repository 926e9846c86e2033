/**
 * The metal platform's rules for a cluster spec: machines and routers the
 * user already has, listed in the spec (spec.uplinks, spec.machines,
 * spec.resolvers: lib/cluster/decodeInventory.ts), so no metro, no machine
 * plans, no provider to assign a block (the user's own prefix, any global
 * unicast one), and no counts. Pods reach IPv4 through NAT64 by default,
 * into each machine's own IPv4 address (the decoder then requires every
 * machine to have one). Flux reads the repository the spec names: there is
 * no default, and a cleartext http:// one is refused, as on Equinix Metal.
 */
import type { SpecRules } from '../../cluster/rules.js';
import { METAL_PLAN } from '../../cluster/decodeInventory.js';

export const METAL = 'metal';

const none = (what: string, fix: string) => ({ message: `is not read on ${METAL}: ${what}`, fix });

export const metalRules: SpecRules = {
  name: METAL,
  nodeAddresses: 'given',
  inventory: true,
  metro: {
    absent: { default: METAL },
    check: () => none('the machines are where they are (spec.uplinks says which links)', 'remove spec.metro'),
  },
  machinePlan: {
    absent: { default: METAL_PLAN },
    notAString: 'remove the field: metal machines are your own',
    check: () => none('metal machines are your own hardware', 'remove the plan'),
  },
  // Never asked: the decoder derives the control plane from spec.machines on this platform.
  controlPlane: { required: none('the control planes are listed in spec.machines', 'give the control planes "pool: control-plane" in spec.machines') },
  block: () => undefined,
  blockSize: () => ({ message: `${METAL} has no provider to assign a block`, fix: 'write block: with the prefix routed to you, e.g. 2001:db8:4200::/48' }),
  machines: () => undefined,
  // Each router says its own (spec.uplinks[].routers[].bfd and timers); the nodes follow them (lib/cluster/sessions.ts).
  sessions: {
    bfd: { refused: { message: 'on metal the routers say whether their sessions run BFD', fix: 'set bfd on the routers that run it (spec.uplinks[].routers[].bfd): the nodes run BFD whenever one of their routers does' } },
    holdTime: { refused: { message: 'on metal the routers say their sessions\' hold time', fix: 'set timers on the routers (spec.uplinks[].routers[].timers): the nodes offer the longest, and each session negotiates its router\'s' } },
  },
  ipv4Egress: { default: 'nat64' },
  // The spec's own (spec.resolvers): the decoder reads them on this platform.
  resolvers: [],
  dns: { message: `is for Equinix Metal clusters: ${METAL} has no DNS provider`, fix: "remove spec.dns; give the API ClusterIP a name in your own zone if you want one (npm run plan shows it)" },
  sshKeys: { message: `is for Equinix Metal clusters: ${METAL} installs no keys on your machines (it logs in with the key of the Pulumi config native6:sshPrivateKey)`, fix: 'remove spec.sshKeys' },
  gitops: {
    absent: { message: `is required on ${METAL}`, fix: 'add "gitops: {url: https://<git host>/<owner>/<repo>}", the repository Flux reconciles from' },
    url: { required: { message: `is required on ${METAL}`, fix: 'add the repository URL Flux reconciles from' } },
    cleartext: {
      message: 'is http://, cleartext: anyone on the way between the cluster and the git host could change what Flux applies, as cluster-admin',
      fix: 'use the https:// URL of the repository (or ssh:// with spec.gitops.secretRef)',
    },
  },
};
