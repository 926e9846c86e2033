/**
 * What a platform decides about a cluster spec. The decoder (decode.ts) asks
 * these questions at the fields they concern and reports the answers at
 * those fields' lines; it never names a platform. Each platform answers them
 * in its own folder (lib/platforms/<platform>/platform.ts), and
 * lib/platforms/index.ts hands the decoder the table of them.
 */
import type { Node } from 'yaml';
import type { Prefix } from '../net/ipv6.js';
import type { IPv4Egress, NodeAddresses, NodeGroup } from './cluster.js';
import type { Bfd } from './inventory.js';
import type { Path, Reader } from './reader.js';

/** A value the platform refuses, with the fix. */
export interface Refusal {
  readonly message: string;
  readonly fix: string;
}

/** A field the platform either defaults or requires. */
export type WhenAbsent<T> = { readonly default: T } | { readonly required: Refusal };

export interface SpecRules {
  /** spec.platform's value. */
  readonly name: string;
  readonly nodeAddresses: NodeAddresses;
  /** spec.metro: absent, and a given value (undefined when accepted). */
  readonly metro: { readonly absent: WhenAbsent<string>; check(metro: string): Refusal | undefined };
  /** The machine plan of the control plane and of each worker pool. */
  readonly machinePlan: {
    readonly absent: WhenAbsent<string>;
    /** The fix when the plan is not a string. */
    readonly notAString: string;
    check(plan: string): Refusal | undefined;
  };
  /** spec.controlPlane absent. */
  readonly controlPlane: WhenAbsent<NodeGroup>;
  /** spec.network.block: a prefix the planner can carve (length and purpose already checked). */
  block(prefix: Prefix): Refusal | undefined;
  /** spec.network.blockSize: the size of a block to be assigned at apply (range already checked). */
  blockSize(size: number): Refusal | undefined;
  /** All the machines together (undefined when the platform takes them). */
  machines(count: number): Refusal | undefined;
  /**
   * spec.network.bfd and holdTime, the nodes' side of their BGP sessions
   * (lib/cluster/sessions.ts): the platform's defaults, or a refusal where
   * the spec cannot set them (its routers do not speak BFD, or say it
   * themselves).
   */
  readonly sessions: {
    readonly bfd: { readonly default?: Bfd } | { readonly refused: Refusal };
    readonly holdTime: { readonly default: number } | { readonly refused: Refusal };
  };
  /** spec.egress: how pods reach the IPv4 internet. */
  readonly ipv4Egress: {
    /** spec.egress.ipv4 absent (or the whole section). */
    readonly default: IPv4Egress;
    /** Set when the platform gives its machines no IPv4 address of their own to translate into: nat64 is refused with it. */
    readonly nat64?: Refusal;
    /** spec.egress.nat64Prefix: a /96 the platform refuses (length and purpose already checked). */
    nat64Prefix?(prefix: Prefix): Refusal | undefined;
  };
  /**
   * The recursive resolvers the platform gives its machines (what their
   * /etc/resolv.conf lists), as IPv6 or dotted-decimal IPv4 addresses: where
   * the cluster's DNS forwards every name outside the cluster
   * (lib/render/coredns.ts). CoreDNS runs in IPv6-only pods, which reach an
   * IPv4 resolver only as its address under the NAT64 prefix; so with
   * spec.egress.ipv4: none at least one of them must be IPv6 (egress.ts
   * refuses none otherwise). Not a field of the spec file: a fact of the
   * platform, as its machines' images have it.
   */
  readonly resolvers: readonly string[];
  /**
   * Set where the spec lists the machines and routers the cluster already
   * has (spec.uplinks, spec.machines, spec.resolvers: decodeInventory.ts)
   * instead of counting machines for the platform to make: the metal
   * platform. Its `resolvers` are then the spec's.
   */
  readonly inventory?: true;
  /** spec.dns, when the platform has no DNS provider. */
  readonly dns?: Refusal;
  /** spec.sshKeys, when the platform installs no SSH keys on its machines. */
  readonly sshKeys?: Refusal;
  /** spec.gitops and its url: absent, the repository the platform serves, or required. */
  readonly gitops: {
    /** The section absent: the platform's default repository, or required. */
    readonly absent?: Refusal;
    /** The url absent from the section. */
    readonly url: WhenAbsent<string>;
    /** An http:// url, when the platform's clusters reach their repository over a network nobody vouches for. */
    readonly cleartext?: Refusal;
  };
}

/** Reports a platform's refusal at the field (true when there was one). */
export function refuse(r: Reader, path: Path, node: Node | null | undefined, refusal: Refusal | undefined): boolean {
  if (refusal) r.report(path, node, refusal.message, refusal.fix);
  return refusal !== undefined;
}

/** A platform's default for an absent field, or its problem (reported at `node`). */
export function whenAbsent<T>(r: Reader, rule: WhenAbsent<T>, path: Path, node: Node | null | undefined): T | undefined {
  if ('default' in rule) return rule.default;
  refuse(r, path, node, rule.required);
  return undefined;
}
