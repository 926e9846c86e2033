/**
 * IPv6 addresses and prefixes as 128-bit bigints.
 *
 * Parsing accepts every RFC 4291 text form (including an embedded IPv4 tail);
 * formatting always produces the RFC 5952 canonical form (lower case, longest
 * run of two or more zero groups compressed, first run on a tie), so the same
 * address is written the same way everywhere in generated files. IPv4 appears
 * only where it is embedded in IPv6: an address synthesized under a NAT64
 * prefix (RFC 6052), which is how the IPv6-only pods reach IPv4.
 */

export const ADDRESS_BITS = 128;
const MAX = (1n << 128n) - 1n;

export interface Prefix {
  /** The network address (host bits are zero). */
  readonly address: bigint;
  /** Prefix length, 0..128. */
  readonly length: number;
}

export class AddressError extends Error {
  override name = 'AddressError';
}

/** Parses an IPv6 address; throws AddressError with the reason. */
export function parseAddress(text: string): bigint {
  const s = text.trim();
  if (s.length === 0) throw new AddressError('empty address');
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(s)) throw new AddressError(`"${text}" is an IPv4 address; native6 is IPv6-only`);
  if (s.includes('%')) throw new AddressError(`"${text}" has a zone index; use a global address`);
  if (!/^[0-9a-fA-F:.]+$/.test(s)) throw new AddressError(`"${text}" is not an IPv6 address`);

  let groups: string[];
  const doubleColon = s.indexOf('::');
  if (doubleColon !== s.lastIndexOf('::')) throw new AddressError(`"${text}" has "::" more than once`);

  const expandTail = (parts: string[]): string[] => {
    // An embedded IPv4 address in the last group counts as two groups.
    const last = parts[parts.length - 1];
    if (last !== undefined && last.includes('.')) {
      const octets = last.split('.');
      if (octets.length !== 4 || octets.some((o) => !/^\d{1,3}$/.test(o) || Number(o) > 255)) {
        throw new AddressError(`"${text}" has an invalid embedded IPv4 part "${last}"`);
      }
      const [a, b, c, d] = octets.map(Number) as [number, number, number, number];
      return [...parts.slice(0, -1), ((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
    }
    return parts;
  };

  if (doubleColon >= 0) {
    const head = s.slice(0, doubleColon);
    const tail = s.slice(doubleColon + 2);
    const headParts = head === '' ? [] : head.split(':');
    const tailParts = tail === '' ? [] : expandTail(tail.split(':'));
    const missing = 8 - headParts.length - tailParts.length;
    if (missing < 1) throw new AddressError(`"${text}" has too many groups`);
    groups = [...headParts, ...Array<string>(missing).fill('0'), ...tailParts];
  } else {
    groups = expandTail(s.split(':'));
    if (groups.length !== 8) throw new AddressError(`"${text}" has ${groups.length} groups, an IPv6 address has 8`);
  }

  let value = 0n;
  for (const g of groups) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw new AddressError(`"${text}" has an invalid group "${g}"`);
    value = (value << 16n) | BigInt(parseInt(g, 16));
  }
  return value;
}

/** RFC 5952 canonical text form. */
export function formatAddress(value: bigint): string {
  if (value < 0n || value > MAX) throw new AddressError(`address value out of range: ${value}`);
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((value >> BigInt(i * 16)) & 0xffffn));

  // Longest run of zero groups (length >= 2), first one on a tie.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  const head = hex.slice(0, bestStart).join(':');
  const tail = hex.slice(bestStart + bestLen).join(':');
  return `${head}::${tail}`;
}

/** Parses "addr/len". Host bits must be zero unless `allowHostBits`. */
export function parsePrefix(text: string, allowHostBits = false): Prefix {
  const s = text.trim();
  const slash = s.indexOf('/');
  if (slash < 0) throw new AddressError(`"${text}" has no prefix length (write it as address/length, e.g. 2001:db8::/56)`);
  const lenText = s.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lenText) || Number(lenText) > 128) {
    throw new AddressError(`"${text}" has an invalid prefix length "${lenText}" (0 to 128)`);
  }
  const length = Number(lenText);
  const address = parseAddress(s.slice(0, slash));
  const network = address & netmask(length);
  if (network !== address && !allowHostBits) {
    throw new AddressError(`"${text}" has host bits set; the network is ${formatPrefix({ address: network, length })}`);
  }
  return { address: network, length };
}

export function formatPrefix(p: Prefix): string {
  return `${formatAddress(p.address)}/${p.length}`;
}

export function netmask(length: number): bigint {
  if (length === 0) return 0n;
  return (MAX << BigInt(128 - length)) & MAX;
}

export function prefixSize(p: Prefix): bigint {
  return 1n << BigInt(128 - p.length);
}

export function lastAddress(p: Prefix): bigint {
  return p.address + prefixSize(p) - 1n;
}

export function contains(outer: Prefix, inner: Prefix): boolean {
  return inner.length >= outer.length && (inner.address & netmask(outer.length)) === outer.address;
}

export function containsAddress(p: Prefix, address: bigint): boolean {
  return (address & netmask(p.length)) === p.address;
}

export function overlaps(a: Prefix, b: Prefix): boolean {
  return contains(a, b) || contains(b, a);
}

/**
 * The `index`-th subnet of length `length` inside `parent`.
 * Throws when the subnet does not fit.
 */
export function subnet(parent: Prefix, length: number, index: bigint): Prefix {
  if (length < parent.length) throw new AddressError(`a /${length} does not fit in ${formatPrefix(parent)}`);
  const count = 1n << BigInt(length - parent.length);
  if (index < 0n || index >= count) {
    throw new AddressError(`${formatPrefix(parent)} has ${count} /${length}s; index ${index} is outside it`);
  }
  return { address: parent.address + index * (1n << BigInt(128 - length)), length };
}

export function prefixEquals(a: Prefix, b: Prefix): boolean {
  return a.address === b.address && a.length === b.length;
}

export function isDocumentation(p: Prefix): boolean {
  return contains(DOCUMENTATION, p);
}

/** 2001:db8::/32, RFC 3849: the only addresses the lab ever uses. */
export const DOCUMENTATION: Prefix = { address: 0x20010db8n << 96n, length: 32 };

/** True for addresses that cannot be a public, globally routed unicast range. */
export function specialPurpose(p: Prefix): string | undefined {
  const specials: Array<[string, string]> = [
    ['::/8', 'reserved by the IETF (loopback, unspecified, IPv4-mapped)'],
    ['fc00::/7', 'unique local (ULA), not routed on the internet'],
    ['fe80::/10', 'link-local'],
    ['ff00::/8', 'multicast'],
    ['64:ff9b::/96', 'NAT64 well-known prefix'],
  ];
  for (const [text, why] of specials) {
    if (overlaps(parsePrefix(text), p)) return why;
  }
  return undefined;
}

/** True for an IPv4 address in dotted-decimal form (four decimal octets, 0..255, no leading zeros). */
export function isIPv4(text: string): boolean {
  const octets = text.split('.');
  return octets.length === 4 && octets.every((o) => /^(0|[1-9]\d{0,2})$/.test(o) && Number(o) <= 255);
}

/**
 * The address DNS64 synthesizes for an IPv4 address under a /96 NAT64
 * prefix (RFC 6052 §2.2: the IPv4 address in the last 32 bits), which the
 * nodes' translators take back to that IPv4 address.
 */
export function synthesize(prefix: Prefix, ipv4: string): string {
  if (prefix.length !== 96) throw new AddressError(`the NAT64 prefix must be a /96, not a /${prefix.length}`);
  if (!isIPv4(ipv4)) throw new AddressError(`"${ipv4}" is not an IPv4 address (four decimal octets, e.g. 192.0.2.53)`);
  const v4 = ipv4.split('.').reduce((n, octet) => (n << 8n) | BigInt(Number(octet)), 0n);
  return formatAddress(prefix.address | v4);
}
