/**
 * spec.uplinks, spec.machines and spec.resolvers: the machines and routers a
 * metal cluster already has (inventory.ts). Part of the decoder (decode.ts):
 * strict, every problem at its field with the fix. Read only where the
 * platform lists its machines (SpecRules.inventory); elsewhere the fields
 * are refused. The control plane and the worker pools are derived from the
 * machines' `pool`, so spec.controlPlane and spec.workers are refused here.
 */
import type { Node } from 'yaml';
import { AddressError, containsAddress, formatAddress, formatPrefix, isIPv4, parseAddress, parsePrefix, specialPurpose, type Prefix } from '../net/ipv6.js';
import type { NodeGroup, WorkerPool } from './cluster.js';
import { INVENTORY, type Bfd, type BgpTimers, type Inventory, type InventoryMachine, type IPv4Link, type Router, type SshAccess, type Uplink } from './inventory.js';
import { isNull, type Field, type Path, type Reader } from './reader.js';

/** The pool name that makes a machine a control plane. */
export const CONTROL_PLANE_POOL = 'control-plane';
/** The plan every metal machine has: the user's own hardware. */
export const METAL_PLAN = 'metal';

const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;

export interface DecodedInventory {
  readonly inventory: Inventory;
  readonly controlPlane: NodeGroup;
  readonly workers: readonly WorkerPool[];
  readonly resolvers: readonly string[];
}

/** The IPv4 address as a number, or undefined. */
export function ipv4Number(text: string): number | undefined {
  if (!isIPv4(text)) return undefined;
  return text.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}

/** A dotted-decimal IPv4 prefix "a.b.c.d/n" with no host bits: its network and length, or why not. */
export function parseIPv4Prefix(text: string): { network: number; length: number } | string {
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(text);
  const network = m ? ipv4Number(m[1]!) : undefined;
  const length = m ? Number(m[2]) : NaN;
  if (network === undefined || !(length >= 0 && length <= 32)) return `"${text}" is not an IPv4 prefix`;
  const size = 2 ** (32 - length);
  if (network % size !== 0) return `"${text}" has host bits set`;
  return { network, length };
}

function inIPv4(prefix: { network: number; length: number }, address: number): boolean {
  return address >= prefix.network && address < prefix.network + 2 ** (32 - prefix.length);
}

export class InventoryDecoder {
  private ok = true;
  private readonly routerNames = new Map<string, Path>();

  constructor(
    private readonly r: Reader,
    private readonly localASN: number | undefined,
  ) {}

  private bad(path: Path, node: Node | null | undefined, message: string, fix: string): undefined {
    this.r.report(path, node, message, fix);
    this.ok = false;
    return undefined;
  }

  private str(f: Map<string, Field>, name: string, parent: Node, path: Path, fix: string, required = true): string | undefined {
    const field = f.get(name);
    if (!field || isNull(field.value)) {
      if (required) this.bad([...path, name], field?.key ?? parent, 'is required', fix);
      return undefined;
    }
    const v = this.r.string(field.value, [...path, name], fix);
    if (v === undefined) this.ok = false;
    return v;
  }

  private label(f: Map<string, Field>, parent: Node, path: Path, max: number, what: string): string | undefined {
    const fix = `use at most ${max} lower-case letters, digits and "-", starting and ending with a letter or digit`;
    const v = this.str(f, 'name', parent, path, `give the ${what} a name (${fix})`);
    if (v === undefined) return undefined;
    if (!LABEL.test(v) || v.length > max) return this.bad([...path, 'name'], f.get('name')!.value, `"${v}" is not a valid ${what} name`, fix);
    return v;
  }

  private address(f: Map<string, Field>, name: string, parent: Node, path: Path, fix: string, required = true): bigint | undefined {
    const text = this.str(f, name, parent, path, fix, required);
    if (text === undefined) return undefined;
    const node = f.get(name)!.value;
    try {
      if (text.includes('/')) return this.bad([...path, name], node, `"${text}" is a prefix, not an address`, fix);
      return parseAddress(text);
    } catch (e) {
      if (!(e instanceof AddressError)) throw e;
      return this.bad([...path, name], node, e.message, fix);
    }
  }

  private int(f: Map<string, Field>, name: string, path: Path, min: number, max: number, fix: string): number | undefined {
    const field = f.get(name);
    if (!field || isNull(field.value)) return undefined;
    const v = this.r.integer(field.value, [...path, name], min, max, fix);
    if (v === undefined) this.ok = false;
    return v;
  }

  uplinks(field: Field | undefined, spec: Node): Uplink[] | undefined {
    const path: Path = ['spec', 'uplinks'];
    if (!field || isNull(field.value)) {
      return this.bad(path, field?.key ?? spec, 'is required on metal', 'list the links your machines are on, each with its prefix and the routers above it: "- name: rack-a\\n  prefix: 2001:db8:7:a::/64\\n  routers: [{name: tor-a, address: 2001:db8:7:a::2, asn: 65010}]"');
    }
    const items = this.r.sequence(field.value, path, 'write uplinks as a list of links');
    if (!items) return (this.ok = false), undefined;
    if (items.length === 0) return this.bad(path, field.value, 'is empty', 'list at least one uplink');
    const out: Uplink[] = [];
    const names = new Map<string, number>();
    items.forEach((item, i) => {
      const u = this.uplink(item, [...path, i], names, i);
      if (u) out.push(u);
    });
    for (let a = 0; a < out.length; a++) {
      for (let b = a + 1; b < out.length; b++) {
        const pa = out[a]!.prefix;
        const pb = out[b]!.prefix;
        const [outer, inner] = pa.length <= pb.length ? [pa, pb] : [pb, pa];
        if (containsAddress(outer, inner.address)) {
          this.bad([...path, b, 'prefix'], items[b], `${formatPrefix(pb)} overlaps uplinks[${a}] (${out[a]!.name}, ${formatPrefix(pa)})`, 'give every uplink its own link prefix');
        }
      }
    }
    return this.ok ? out : undefined;
  }

  private uplink(item: Node, path: Path, names: Map<string, number>, index: number): Uplink | undefined {
    const f = this.r.fields(item, path, ['name', 'prefix', 'gateway', 'routers', 'ipv4']);
    if (!f) return (this.ok = false), undefined;
    const name = this.label(f, item, path, 20, 'uplink');
    if (name !== undefined) {
      if (names.has(name)) this.bad([...path, 'name'], f.get('name')!.value, `"${name}" is already the name of uplinks[${names.get(name)}]`, 'give every uplink its own name');
      else names.set(name, index);
    }
    let prefix: Prefix | undefined;
    const pText = this.str(f, 'prefix', item, path, "add the link's IPv6 prefix, e.g. \"prefix: 2001:db8:7:a::/64\"");
    if (pText !== undefined) {
      const node = f.get('prefix')!.value;
      try {
        prefix = parsePrefix(pText);
        const special = specialPurpose(prefix);
        if (special) prefix = this.bad([...path, 'prefix'], node, `${formatPrefix(prefix)} is ${special}`, "write the link's global unicast prefix");
        else if (prefix.length < 48 || prefix.length > 126) prefix = this.bad([...path, 'prefix'], node, `a /${prefix.length} is not a link prefix`, 'write the link\'s prefix, a /48 to /126 (usually a /64)');
      } catch (e) {
        if (!(e instanceof AddressError)) throw e;
        this.bad([...path, 'prefix'], node, e.message, 'write the prefix with its host bits zero, e.g. 2001:db8:7:a::/64');
      }
    }
    const inside = (address: bigint | undefined, at: Path, node: Node | null | undefined, what: string): bigint | undefined => {
      if (address === undefined || prefix === undefined) return address;
      if (containsAddress(prefix, address)) return address;
      return this.bad(at, node, `${formatAddress(address)} is outside the uplink's prefix ${formatPrefix(prefix)}`, `give ${what} an address on the link, inside ${formatPrefix(prefix)}`);
    };
    const routers = this.routers(f.get('routers'), item, [...path, 'routers'], inside);
    let gateway = this.address(f, 'gateway', item, path, "write the machines' IPv6 gateway on the link", false);
    gateway = inside(gateway, [...path, 'gateway'], f.get('gateway')?.value, 'the gateway');
    if (gateway === undefined && !f.get('gateway') && routers && routers.length > 0) gateway = routers[0]!.address;
    const ipv4 = this.ipv4Link(f.get('ipv4'), [...path, 'ipv4']);
    if (name === undefined || prefix === undefined || gateway === undefined || !routers || ipv4 === null) return (this.ok = false), undefined;
    return { name, prefix, gateway, routers, ...(ipv4 ? { ipv4 } : {}) };
  }

  private routers(field: Field | undefined, parent: Node, path: Path, inside: (a: bigint | undefined, at: Path, node: Node | null | undefined, what: string) => bigint | undefined): Router[] | undefined {
    if (!field || isNull(field.value)) return this.bad(path, field?.key ?? parent, 'is required', 'list the routers the machines on this link peer with: "- {name: tor-a, address: 2001:db8:7:a::2, asn: 65010}"');
    const items = this.r.sequence(field.value, path, 'write routers as a list');
    if (!items) return (this.ok = false), undefined;
    if (items.length === 0) return this.bad(path, field.value, 'is empty', 'list at least one router: every machine peers with the routers above it');
    const out: Router[] = [];
    const seen = new Map<bigint, number>();
    items.forEach((item, i) => {
      const at: Path = [...path, i];
      const f = this.r.fields(item, at, ['name', 'address', 'asn', 'bfd', 'timers']);
      if (!f) return void (this.ok = false);
      const name = this.label(f, item, at, 40, 'router');
      if (name !== undefined) {
        const other = this.routerNames.get(name);
        if (other) this.bad([...at, 'name'], f.get('name')!.value, `"${name}" is already the name of ${other.slice(1).join('.')}`, 'give every router its own name: its configuration is rendered as routers/<name>.*.conf');
        else this.routerNames.set(name, at);
      }
      let address = this.address(f, 'address', item, at, "add the router's IPv6 address on the link");
      address = inside(address, [...at, 'address'], f.get('address')?.value, 'the router');
      if (address !== undefined) {
        if (seen.has(address)) address = this.bad([...at, 'address'], f.get('address')!.value, `${formatAddress(address)} is already routers[${seen.get(address)}]'s address`, 'give every router its own address');
        else seen.set(address, i);
      }
      const asnFix = 'write the router\'s own AS number (a private ASN such as 65010), different from spec.network.localASN';
      const asnNode = f.get('asn');
      if (!asnNode || isNull(asnNode.value)) this.bad([...at, 'asn'], asnNode?.key ?? item, 'is required', asnFix);
      const asn = this.int(f, 'asn', at, 1, 4294967294, asnFix);
      if (asn !== undefined && asn === this.localASN) {
        this.bad([...at, 'asn'], asnNode!.value, `${asn} is the cluster's own ASN (spec.network.localASN): the nodes' sessions with the routers are external BGP`, `give the router its own ASN, or change spec.network.localASN`);
      }
      const bfd = this.bfd(f.get('bfd'), [...at, 'bfd']);
      const timers = this.timers(f.get('timers'), [...at, 'timers'], bfd !== undefined);
      if (name === undefined || address === undefined || asn === undefined || asn === this.localASN || bfd === null || !timers) return;
      out.push({ name, address, asn, ...(bfd ? { bfd } : {}), timers });
    });
    return out.length === items.length ? out : undefined;
  }

  private bfd(field: Field | undefined, path: Path): Bfd | undefined | null {
    if (!field || isNull(field.value)) return undefined;
    const f = this.r.fields(field.value, path, ['intervalMs', 'multiplier']);
    if (!f) return (this.ok = false), null;
    const { min, max } = INVENTORY.bfdIntervalMs;
    const intervalMs = this.int(f, 'intervalMs', path, min, max, `use ${min} to ${max} ms, e.g. 100 (a dead node is found in intervalMs × multiplier)`) ?? (f.get('intervalMs') ? undefined : 300);
    const multiplier = this.int(f, 'multiplier', path, INVENTORY.bfdMultiplier.min, INVENTORY.bfdMultiplier.max, 'use 2 to 255, e.g. 3') ?? (f.get('multiplier') ? undefined : 3);
    if (intervalMs === undefined || multiplier === undefined) return null;
    return { intervalMs, multiplier };
  }

  private timers(field: Field | undefined, path: Path, withBfd: boolean): BgpTimers | undefined {
    const dflt = INVENTORY.timers;
    if (!field || isNull(field.value)) return dflt;
    const f = this.r.fields(field.value, path, ['keepalive', 'hold']);
    if (!f) return (this.ok = false), undefined;
    const hold = this.int(f, 'hold', path, 0, INVENTORY.holdMax, `use 0 (never) or 3 to ${INVENTORY.holdMax} seconds`) ?? (f.get('hold') ? undefined : dflt.hold);
    if (hold === undefined) return undefined;
    if (hold > 0 && hold < 3) return this.bad([...path, 'hold'], f.get('hold')!.value, `a hold time of ${hold} s: BGP allows 0 or at least 3 (RFC 4271 §4.2)`, withBfd ? 'use 3 or more: BFD finds a dead node faster anyway' : 'use 3 or more, or add bfd to find a dead node in under a second');
    const keepalive = this.int(f, 'keepalive', path, 0, INVENTORY.holdMax, 'use a third of the hold time') ?? (f.get('keepalive') ? undefined : Math.floor(hold / 3));
    if (keepalive === undefined) return undefined;
    if (hold > 0 && keepalive * 3 > hold) return this.bad([...path, 'keepalive'], f.get('keepalive')?.value ?? field.value, `a keepalive of ${keepalive} s with a hold time of ${hold} s: at most a third of it (RFC 4271 §4.4)`, `use ${Math.floor(hold / 3)} or less`);
    return { keepalive, hold };
  }

  private ipv4Link(field: Field | undefined, path: Path): IPv4Link | undefined | null {
    if (!field || isNull(field.value)) return undefined;
    const f = this.r.fields(field.value, path, ['prefix', 'gateway']);
    if (!f) return (this.ok = false), null;
    const prefix = this.str(f, 'prefix', field.value!, path, 'add the link\'s IPv4 prefix, e.g. "prefix: 192.0.2.0/24"');
    const gateway = this.str(f, 'gateway', field.value!, path, 'add the link\'s IPv4 gateway, e.g. "gateway: 192.0.2.1"');
    if (prefix === undefined || gateway === undefined) return null;
    const p = parseIPv4Prefix(prefix);
    if (typeof p === 'string') return this.bad([...path, 'prefix'], f.get('prefix')!.value, p, 'write it as a.b.c.d/n with the host bits zero, e.g. 192.0.2.0/24') ?? null;
    const g = ipv4Number(gateway);
    if (g === undefined) return this.bad([...path, 'gateway'], f.get('gateway')!.value, `"${gateway}" is not an IPv4 address`, 'write it as four decimal octets, e.g. 192.0.2.1') ?? null;
    if (!inIPv4(p, g)) return this.bad([...path, 'gateway'], f.get('gateway')!.value, `${gateway} is outside ${prefix}`, `give the gateway's address inside ${prefix}`) ?? null;
    return { prefix, gateway };
  }

  machines(field: Field | undefined, spec: Node, uplinks: readonly Uplink[]): InventoryMachine[] | undefined {
    const path: Path = ['spec', 'machines'];
    if (!field || isNull(field.value)) {
      return this.bad(path, field?.key ?? spec, 'is required on metal', 'list your machines: "- name: node-1\\n  pool: control-plane\\n  address: 2001:db8:7:a::11\\n  ssh: {hostKey: SHA256:...}"');
    }
    const items = this.r.sequence(field.value, path, 'write machines as a list');
    if (!items) return (this.ok = false), undefined;
    if (items.length > INVENTORY.machinesMax) return this.bad(path, field.value, `lists ${items.length} machines, more than ${INVENTORY.machinesMax}`, 'split the machines into several clusters');
    const out: InventoryMachine[] = [];
    const names = new Map<string, number>();
    const addresses = new Map<string, string>();
    items.forEach((item, i) => {
      const m = this.machine(item, [...path, i], uplinks, names, addresses, i);
      if (m) out.push(m);
    });
    return this.ok && out.length === items.length ? out : undefined;
  }

  private machine(item: Node, path: Path, uplinks: readonly Uplink[], names: Map<string, number>, addresses: Map<string, string>, index: number): InventoryMachine | undefined {
    const f = this.r.fields(item, path, ['name', 'pool', 'uplink', 'address', 'ipv4', 'ssh']);
    if (!f) return (this.ok = false), undefined;
    const name = this.label(f, item, path, 63, 'machine');
    if (name !== undefined) {
      if (names.has(name)) this.bad([...path, 'name'], f.get('name')!.value, `"${name}" is already the name of machines[${names.get(name)}]`, 'give every machine its own name: it is its hostname and Node name');
      else names.set(name, index);
    }
    const poolFix = `write "${CONTROL_PLANE_POOL}" or the name of a worker pool (at most 20 lower-case letters, digits and "-")`;
    let pool = this.str(f, 'pool', item, path, poolFix);
    if (pool !== undefined) {
      if (pool === CONTROL_PLANE_POOL) pool = 'cp';
      else if (pool === 'cp') pool = this.bad([...path, 'pool'], f.get('pool')!.value, '"cp" is the control plane\'s short name', `write "${CONTROL_PLANE_POOL}" for a control plane, or another worker pool name`);
      else if (!LABEL.test(pool) || pool.length > 20) pool = this.bad([...path, 'pool'], f.get('pool')!.value, `"${pool}" is not a valid pool name`, poolFix);
    }
    let uplink: Uplink | undefined;
    const uName = this.str(f, 'uplink', item, path, `name the machine's uplink: one of ${uplinks.map((u) => u.name).join(', ')}`, uplinks.length !== 1);
    if (uName === undefined && uplinks.length === 1 && !f.get('uplink')) uplink = uplinks[0];
    else if (uName !== undefined) {
      uplink = uplinks.find((u) => u.name === uName);
      if (!uplink) this.bad([...path, 'uplink'], f.get('uplink')!.value, `"${uName}" is not an uplink of spec.uplinks`, `use one of: ${uplinks.map((u) => u.name).join(', ')}`);
    }
    let address = this.address(f, 'address', item, path, "add the machine's IPv6 address on its uplink");
    const aNode = f.get('address')?.value;
    if (address !== undefined && uplink) {
      if (!containsAddress(uplink.prefix, address)) address = this.bad([...path, 'address'], aNode, `${formatAddress(address)} is outside its uplink ${uplink.name}'s prefix ${formatPrefix(uplink.prefix)}`, `give the machine its address on ${uplink.name}, inside ${formatPrefix(uplink.prefix)}, or name the uplink it is on`);
      else if (address === uplink.gateway || uplink.routers.some((x) => x.address === address)) address = this.bad([...path, 'address'], aNode, `${formatAddress(address)} is ${address === uplink.gateway ? 'the gateway' : 'a router'} of ${uplink.name}`, "write the machine's own address");
    }
    if (address !== undefined) {
      const key = `6:${address}`;
      const other = addresses.get(key);
      if (other) address = this.bad([...path, 'address'], aNode, `${formatAddress(address)} is already ${other}'s address`, 'give every machine its own address');
      else addresses.set(key, `machines[${index}]`);
    }
    const ipv4 = this.machineIPv4(f, path, uplink, addresses, index);
    const ssh = this.ssh(f.get('ssh'), item, [...path, 'ssh'], address);
    if (name === undefined || pool === undefined || !uplink || address === undefined || ipv4 === null || !ssh) return (this.ok = false), undefined;
    return { name, pool, uplink: uplink.name, address, ...(ipv4 ? { ipv4 } : {}), ssh };
  }

  private machineIPv4(f: Map<string, Field>, path: Path, uplink: Uplink | undefined, addresses: Map<string, string>, index: number): string | undefined | null {
    const field = f.get('ipv4');
    if (!field || isNull(field.value)) return undefined;
    const at: Path = [...path, 'ipv4'];
    const text = this.r.string(field.value, at, 'write the address as four decimal octets, e.g. 192.0.2.11');
    if (text === undefined) return (this.ok = false), null;
    const n = ipv4Number(text);
    if (n === undefined) return this.bad(at, field.value, `"${text}" is not an IPv4 address`, 'write it as four decimal octets, without a length, e.g. 192.0.2.11') ?? null;
    if (!uplink) return null;
    if (!uplink.ipv4) return this.bad(at, field.value, `uplink ${uplink.name} has no ipv4 link`, `add "ipv4: {prefix: <a.b.c.d/n>, gateway: <a.b.c.d>}" to uplink ${uplink.name}, or remove the machine's ipv4`) ?? null;
    const p = parseIPv4Prefix(uplink.ipv4.prefix) as { network: number; length: number };
    if (!inIPv4(p, n)) return this.bad(at, field.value, `${text} is outside uplink ${uplink.name}'s IPv4 prefix ${uplink.ipv4.prefix}`, `give the machine its IPv4 address inside ${uplink.ipv4.prefix}`) ?? null;
    if (text === uplink.ipv4.gateway) return this.bad(at, field.value, `${text} is uplink ${uplink.name}'s IPv4 gateway`, "write the machine's own IPv4 address") ?? null;
    const other = addresses.get(`4:${text}`);
    if (other) return this.bad(at, field.value, `${text} is already ${other}'s IPv4 address`, 'give every machine its own IPv4 address') ?? null;
    addresses.set(`4:${text}`, `machines[${index}]`);
    return text;
  }

  private ssh(field: Field | undefined, parent: Node, path: Path, address: bigint | undefined): SshAccess | undefined {
    const keyFix = 'add the host key\'s fingerprint as `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` prints it on the machine, e.g. "hostKey: SHA256:…" (43 characters after SHA256:)';
    if (!field || isNull(field.value)) return this.bad(path, field?.key ?? parent, 'is required: the apply reaches every machine over SSH and checks its host key', `add "ssh: {hostKey: SHA256:…}" (${keyFix})`);
    const f = this.r.fields(field.value, path, ['host', 'port', 'user', 'hostKey']);
    if (!f) return (this.ok = false), undefined;
    const hostKey = this.str(f, 'hostKey', field.value!, path, keyFix);
    if (hostKey !== undefined && !FINGERPRINT.test(hostKey)) return this.bad([...path, 'hostKey'], f.get('hostKey')!.value, `"${hostKey}" is not a SHA256 host key fingerprint`, keyFix);
    const host = this.str(f, 'host', field.value!, path, 'write the name or address the apply connects to', false);
    if (host !== undefined && !/^[A-Za-z0-9.:-]+$/.test(host)) return this.bad([...path, 'host'], f.get('host')!.value, `"${host}" is not a host name or address`, 'write a DNS name or an IPv6 address, without user or port');
    if (host !== undefined && isIPv4(host)) {
      return this.bad([...path, 'host'], f.get('host')!.value, `${host} is an IPv4 address: once bootstrapped, the machine's firewall lets SSH in over IPv6 only (from the cluster and spec.policy.trustedSources)`, "remove host (the machine's IPv6 address is used) or write an IPv6 address or a name with an AAAA record");
    }
    const port = this.int(f, 'port', path, 1, 65535, 'use the TCP port the machine\'s sshd listens on, 1 to 65535') ?? (f.get('port') && !isNull(f.get('port')!.value) ? undefined : INVENTORY.sshPort);
    const user = this.str(f, 'user', field.value!, path, 'write the user the apply logs in as', false) ?? INVENTORY.sshUser;
    if (user !== undefined && !/^[a-z_][a-z0-9_-]*$/.test(user)) return this.bad([...path, 'user'], f.get('user')!.value, `"${user}" is not a user name`, 'write a login name, e.g. root');
    if (hostKey === undefined || port === undefined || address === undefined) return undefined;
    return { host: host ?? formatAddress(address), port, user, hostKey };
  }

  /** The control plane and the worker pools, in the order the machines name them. */
  pools(machines: readonly InventoryMachine[], node: Node): { controlPlane: NodeGroup; workers: WorkerPool[] } | undefined {
    const counts = new Map<string, number>();
    for (const m of machines) counts.set(m.pool, (counts.get(m.pool) ?? 0) + 1);
    const cps = counts.get('cp') ?? 0;
    if (cps === 0) return this.bad(['spec', 'machines'], node, 'has no control plane', `give one, three or five machines "pool: ${CONTROL_PLANE_POOL}"`);
    if (cps % 2 === 0 || cps > 7) {
      return this.bad(['spec', 'machines'], node, `has ${cps} control planes: etcd keeps quorum through a failure only with an odd count, at most 7`, `make ${cps % 2 === 0 ? `${cps - 1} or ${cps + 1}` : '7 or fewer'} of the machines "pool: ${CONTROL_PLANE_POOL}"`);
    }
    const workers = [...counts].filter(([p]) => p !== 'cp').map(([name, count]) => ({ name, count, plan: METAL_PLAN }));
    return { controlPlane: { count: cps, plan: METAL_PLAN }, workers };
  }

  resolvers(field: Field | undefined, spec: Node): string[] | undefined {
    const path: Path = ['spec', 'resolvers'];
    const fix = "list the recursive resolvers your machines use (their /etc/resolv.conf), IPv6 or IPv4 addresses: the cluster's DNS forwards to them, e.g. resolvers: [2001:db8:53::1]";
    if (!field || isNull(field.value)) return this.bad(path, field?.key ?? spec, 'is required on metal', fix);
    const items = this.r.sequence(field.value, path, fix);
    if (!items) return (this.ok = false), undefined;
    if (items.length === 0) return this.bad(path, field.value, 'is empty', fix);
    const out: string[] = [];
    items.forEach((item, i) => {
      const v = this.r.string(item, [...path, i], fix);
      if (v === undefined) return void (this.ok = false);
      if (isIPv4(v)) return void out.push(v);
      try {
        out.push(formatAddress(parseAddress(v)));
      } catch (e) {
        if (!(e instanceof AddressError)) throw e;
        this.bad([...path, i], item, `"${v}" is not an IPv6 or IPv4 address`, fix);
      }
    });
    return out.length === items.length ? out : undefined;
  }

  get valid(): boolean {
    return this.ok;
  }
}
