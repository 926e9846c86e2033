/**
 * The cluster spec: one versioned file per cluster under infra/, decoded
 * strictly, defaulted, then validated (see decode.ts). These are the decoded,
 * defaulted types every other module works from.
 */
import type { Prefix } from '../net/ipv6.js';
import type { Bfd, Inventory } from './inventory.js';

export const API_VERSION = 'native6.dev/v1alpha1';
export const KIND = 'Cluster';

/** Kubernetes minor versions the project renders kubeadm v1beta4 configuration for. */
export const SUPPORTED_MINORS = { min: 33, max: 36 } as const;

/**
 * Who gives the machines their addresses: the address plan (one /127 per
 * machine from the node range, gateway even, machine odd), or the provider
 * (recorded in the provider facts at apply), or the spec (the machines a
 * metal cluster lists, spec.machines).
 */
export type NodeAddresses = 'planned' | 'provider' | 'given';

export interface NodeGroup {
  readonly count: number;
  /** The machine plan, as the platform names it (e.g. c3.small.x86). */
  readonly plan: string;
}

export interface WorkerPool extends NodeGroup {
  readonly name: string;
}

export interface ReservedBlock {
  /** The block, when the spec names it (Equinix Metal: the project's /56 in the metro). */
  readonly prefix?: Prefix;
  /** Its prefix length (given, or the size to request from the provider). */
  readonly length: number;
}

export interface NetworkSpec {
  readonly block: ReservedBlock;
  readonly localASN: number;
  readonly peerASN: number;
  /** Prefix length of the Service ClusterIP range (108..120). */
  readonly serviceRangeSize: number;
  /** Prefix length of the pod IPPool. */
  readonly podPoolSize: number;
  /** Calico IPAM block size (116..128; 122 is Calico's IPv6 default). */
  readonly podBlockSize: number;
  /** Prefix length of the LoadBalancer IP range, when one is wanted. */
  readonly loadBalancerRangeSize?: number;
  /** Prefix length of the externalIPs range, when one is wanted. */
  readonly externalIPRangeSize?: number;
  /**
   * BFD on the nodes' BGP sessions (spec.network.bfd: the platform's default where its routers
   * speak BFD). Never set on metal, whose routers say it themselves (nodeSessions()).
   */
  readonly bfd?: Bfd;
  /** The nodes' BGP hold time, seconds (spec.network.holdTime); never set on metal, whose routers' timers say it. */
  readonly holdTime?: number;
}

export interface PolicySpec {
  /** Sources allowed to reach workloads labelled public. */
  readonly publicSources: readonly Prefix[];
  /** Extra sources trusted like the cluster itself (e.g. the operators' network). */
  readonly trustedSources: readonly Prefix[];
}

export interface GitOpsSpec {
  /** The repository Flux reconciles from (given, or the platform's default). */
  readonly url: string;
  readonly branch: string;
  readonly interval: string;
  /**
   * A private repository: the name of the Secret in flux-system that Flux
   * reads it with (username/password for https, identity/known_hosts for
   * ssh). Its content never enters git: the user creates it in the cluster.
   */
  readonly secretRef?: string;
  /**
   * Flux verifies the signature of the commit at the branch's HEAD before it
   * applies anything: the name of the Secret in flux-system holding the
   * trusted keys (`<name>.asc` OpenPGP, `<name>.sshpub` SSH). Apply's own
   * commits are then signed (its commit-signing-key).
   */
  readonly verify?: { readonly secretRef: string };
}

/**
 * How pods reach the IPv4 internet. Pods are IPv6-only: with nat64, the
 * cluster's DNS answers an IPv4-only name with AAAA records inside the NAT64
 * prefix (DNS64), and each node translates its own pods' packets to that
 * prefix into IPv4 from the node's own IPv4 address (NAT64). With none,
 * IPv4-only hosts are out of reach.
 */
export type IPv4Egress = 'nat64' | 'none';

export const IPV4_EGRESS = ['nat64', 'none'] as const satisfies readonly IPv4Egress[];

/** 64:ff9b::/96, NAT64's well-known prefix (RFC 6052 §2.1): for global IPv4 addresses only (§3.1). */
export const NAT64_WELL_KNOWN: Prefix = { address: 0x64ff9bn << 96n, length: 96 };

export interface EgressSpec {
  readonly ipv4: IPv4Egress;
  /** The NAT64 prefix (a /96), when the spec gives one; else the plan takes one from the block (AddressPlan.nat64). */
  readonly nat64Prefix?: Prefix;
}

export interface DnsSpec {
  /** The DNS zone (a DigitalOcean domain) that gets the API endpoint's AAAA record. */
  readonly zone: string;
  /** The record's name in the zone (default api.<cluster>). */
  readonly name: string;
}

export interface ClusterSpec {
  /** The file it was read from, for messages. */
  readonly file: string;
  readonly name: string;
  /** The platform's name (lib/platforms/index.ts chooses its code from it). */
  readonly platform: string;
  /** Who gives the machines their addresses, as the platform decides. */
  readonly nodeAddresses: NodeAddresses;
  readonly metro: string;
  readonly kubernetesVersion: string;
  readonly controlPlane: NodeGroup;
  readonly workers: readonly WorkerPool[];
  readonly network: NetworkSpec;
  readonly policy: PolicySpec;
  readonly gitops: GitOpsSpec;
  /** How pods reach the IPv4 internet (the platform's default when the spec says nothing). */
  readonly egress: EgressSpec;
  /** The recursive resolvers the platform gives its machines (SpecRules.resolvers), where the cluster's DNS forwards; never written in the spec file. */
  readonly resolvers: readonly string[];
  /** An AAAA record for the API endpoint, when a zone is configured (Equinix Metal only). */
  readonly dns?: DnsSpec;
  /** The operators' SSH public keys ("type base64[ comment]"), installed for root on every machine the platform provisions (Equinix Metal only; sshKeys.ts). */
  readonly sshKeys?: readonly string[];
  /** The machines and routers the spec lists (nodeAddresses "given": the metal platform); the counts above are derived from it. */
  readonly inventory?: Inventory;
}

export const DEFAULTS = {
  localASN: 65000,
  peerASN: 65530,
  serviceRangeSize: 112,
  podPoolSize: 64,
  podBlockSize: 122,
  controlPlaneCount: 3,
  branch: 'main',
  interval: '5m',
  publicSources: ['::/0'],
} as const;

/** Limits, with where each comes from; decode.ts names them in its errors. */
export const LIMITS = {
  /** kube-apiserver refuses an IPv6 --service-cluster-ip-range wider than a /108. */
  serviceRangeMin: 108,
  /** Smallest Service range we accept: 256 addresses, the API server's ClusterIP included. */
  serviceRangeMax: 120,
  /** Calico accepts IPv6 IPAM block sizes from /116 to /128. */
  podBlockMin: 116,
  podBlockMax: 128,
  podPoolMin: 48,
  podPoolMax: 112,
  /** Equinix Metal hands out a /56 per project and metro; larger blocks are accepted for other providers. */
  blockMin: 32,
  blockMax: 60,
  rangeMin: 64,
  /** At least 16 addresses: the demo's public Services take the first ones. */
  rangeMax: 124,
  /** Nodes a pool can address: one /127 each inside the pool's 16-bit slot. */
  poolCountMax: 32767,
  /**
   * The NAT64 prefix's length: RFC 6052 allows /32, /40, /48, /56, /64 and
   * /96, but the nodes' translator takes only a /96 (the IPv4 address in the
   * last 32 bits, no u-octet).
   */
  nat64PrefixLength: 96,
} as const;

export function nodeCount(spec: ClusterSpec): number {
  return spec.controlPlane.count + spec.workers.reduce((n, w) => n + w.count, 0);
}
