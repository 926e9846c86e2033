/**
 * The machines and routers a metal cluster already has (spec.uplinks and
 * spec.machines, platform "metal"): the user's own servers, each on an
 * uplink (a link with its routers above it, e.g. a rack's top-of-rack
 * pair), reached over SSH and checked by their host key's fingerprint. The
 * decoded, defaulted types; decodeInventory.ts decodes them.
 *
 * On the other platforms the provider makes the machines and the spec only
 * counts them (spec.controlPlane.count, spec.workers[].count); here the
 * spec lists them, and the counts are derived.
 */
import type { Prefix } from '../net/ipv6.js';

/** BFD on a session: the interval both ends transmit and expect at, and how many missed packets declare the peer down. */
export interface Bfd {
  /** Milliseconds (BFD's desired min TX and required min RX). */
  readonly intervalMs: number;
  readonly multiplier: number;
}

/** BGP's own timers, in seconds (hold 0 = never expire; else hold ≥ 3 and keepalive ≤ hold / 3, RFC 4271 §4.2). */
export interface BgpTimers {
  readonly keepalive: number;
  readonly hold: number;
}

export interface Router {
  /** The router's name, for the rendered configuration's file and comments. */
  readonly name: string;
  /** Its IPv6 address on the uplink: the nodes' BGP neighbour. */
  readonly address: bigint;
  /** Its ASN: never the cluster's (the sessions are external). */
  readonly asn: number;
  /** BFD on the router's sessions with the nodes, when set. */
  readonly bfd?: Bfd;
  readonly timers: BgpTimers;
}

export interface IPv4Link {
  /** Dotted-decimal network/length, e.g. 192.0.2.0/24. */
  readonly prefix: string;
  /** Dotted-decimal gateway inside it. */
  readonly gateway: string;
}

export interface Uplink {
  readonly name: string;
  /** The link's IPv6 prefix: the machines' and routers' addresses are inside it. */
  readonly prefix: Prefix;
  /** The machines' default route before BGP brings one (a router's address, or the link's gateway). */
  readonly gateway: bigint;
  readonly routers: readonly Router[];
  /** The link's IPv4, when its machines have IPv4 addresses (for NAT64 egress and the API's IPv4 door). */
  readonly ipv4?: IPv4Link;
}

export interface SshAccess {
  /** Where the apply connects: the machine's address unless given (a name or an address). */
  readonly host: string;
  readonly port: number;
  readonly user: string;
  /** The host key's fingerprint as `ssh-keygen -lf` prints it: SHA256:<base64, no padding>. */
  readonly hostKey: string;
}

export interface InventoryMachine {
  /** Hostname, Kubernetes Node name and Calico node name. */
  readonly name: string;
  /** "cp" for a control plane, else its worker pool's name. */
  readonly pool: string;
  readonly uplink: string;
  readonly address: bigint;
  /** Its IPv4 address on the uplink's IPv4 link, when it has one. */
  readonly ipv4?: string;
  readonly ssh: SshAccess;
}

export interface Inventory {
  readonly uplinks: readonly Uplink[];
  /** In the spec's order. */
  readonly machines: readonly InventoryMachine[];
}

/** The uplink a machine is on (the decoder checked it exists). */
export function uplinkOf(inventory: Inventory, machine: Pick<InventoryMachine, 'uplink'>): Uplink {
  const u = inventory.uplinks.find((x) => x.name === machine.uplink);
  if (!u) throw new Error(`no uplink named "${machine.uplink}" in the inventory`);
  return u;
}

/** Defaults and limits of the inventory's fields; the decoder names them in its errors. */
export const INVENTORY = {
  sshPort: 22,
  sshUser: 'root',
  /**
   * BGP's timers when a router sets none, with BFD or without: a dead node withdrawn within 9 s, as
   * in the lab, on a router without BFD, or should BFD not come up. The nodes run BFD whenever one
   * of their routers does and offer the longest hold of their routers (lib/cluster/sessions.ts).
   */
  timers: { keepalive: 3, hold: 9 },
  bfdIntervalMs: { min: 10, max: 60_000 },
  bfdMultiplier: { min: 2, max: 255 },
  holdMax: 65_535,
  machinesMax: 5000,
} as const;
