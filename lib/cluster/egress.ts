/**
 * spec.egress: how the IPv6-only pods reach the IPv4 internet. Part of the
 * decoder (decode.ts): strict, every problem at its field. With nat64, the
 * cluster's DNS synthesizes AAAA records inside the NAT64 prefix (DNS64) and
 * each node translates its own pods' packets to that prefix into IPv4 with
 * the node's own IPv4 address; with none, IPv4-only hosts are out of reach.
 * The platform says which is the default and whether it can translate at
 * all (rules.ts); whether a given prefix overlaps the plan's ranges is the
 * address plan's check, in the loader (lib/platforms/load.ts). The cluster's
 * DNS must reach an upstream resolver from its IPv6-only pods: none is
 * refused where every resolver of the platform is IPv4
 * (unreachableResolvers, also asked by lib/render/coredns.ts).
 */
import { AddressError, formatPrefix, isIPv4, netmask, parsePrefix, prefixEquals, specialPurpose, type Prefix } from '../net/ipv6.js';
import { IPV4_EGRESS, LIMITS, NAT64_WELL_KNOWN, type EgressSpec, type IPv4Egress } from './cluster.js';
import { isNull, type Field, type Misplaced, type Path, type Reader } from './reader.js';
import { refuse, type Refusal, type SpecRules } from './rules.js';

const EGRESS_FIELDS = ['ipv4', 'nat64Prefix'] as const;

/** Where every egress option belongs, said wherever one is written in the wrong place. */
export const EGRESS_HOME = `egress options go under spec.egress: ${EGRESS_FIELDS.join(', ')}`;

const TO_IPV4 = { why: EGRESS_HOME, fix: 'write it as spec.egress.ipv4: nat64 or none' };
const TO_PREFIX = { why: EGRESS_HOME, fix: 'move it to spec.egress.nat64Prefix (an IPv6 /96)' };
const NESTED = { why: EGRESS_HOME, fix: 'write "ipv4: nat64" under spec.egress, and a prefix of your own, if any, as spec.egress.nat64Prefix (an IPv6 /96)' };

/** Egress options written where the decoder does not read them: under spec, under spec.network, or nested under spec.egress. */
export function misplacedEgress(where: 'spec' | 'network' | 'egress'): ReadonlyMap<string, Misplaced> {
  if (where === 'egress') {
    const flat = { why: 'the NAT64 prefix is spec.egress.nat64Prefix', fix: 'write "nat64Prefix: <IPv6 /96>" directly under spec.egress, beside "ipv4: nat64"' };
    return new Map([
      ['nat64', flat],
      ['prefix', flat],
      ['ipv4Egress', { why: 'spec.egress names it ipv4', fix: 'write it as ipv4: nat64 or none' }],
    ]);
  }
  const out = new Map<string, Misplaced>([
    ['ipv4', TO_IPV4],
    ['ipv4Egress', TO_IPV4],
    ['nat64', NESTED],
    ['nat64Prefix', TO_PREFIX],
  ]);
  if (where === 'network') out.set('egress', { why: EGRESS_HOME, fix: 'move the egress section out of spec.network, to spec.egress' });
  return out;
}

const IPV4_FIX = "use nat64 (pods reach IPv4-only hosts through DNS64 and each node's NAT64) or none (IPv4-only hosts are out of reach)";
const OWN_PREFIX = 'or remove nat64Prefix: the plan then takes a /96 of the block';

export function decodeEgress(r: Reader, field: Field | undefined, rules: SpecRules): EgressSpec | undefined {
  const path: Path = ['spec', 'egress'];
  const rule = rules.ipv4Egress;
  if (!field || isNull(field.value)) {
    // A platform whose default is none while all its resolvers are IPv4 contradicts itself: said all the same.
    if (refuse(r, [...path, 'ipv4'], field?.key, unreachableResolvers(rule.default, rules.name, rules.resolvers))) return undefined;
    return { ipv4: rule.default };
  }
  const f = r.fields(field.value, path, EGRESS_FIELDS, misplacedEgress('egress'));
  if (!f) return undefined;

  let ipv4: IPv4Egress | undefined = rule.default;
  const i = f.get('ipv4');
  const given = i !== undefined && !isNull(i.value);
  if (given) {
    const v = r.string(i.value, [...path, 'ipv4'], IPV4_FIX);
    ipv4 = IPV4_EGRESS.find((x) => x === v);
    if (v !== undefined && ipv4 === undefined) r.report([...path, 'ipv4'], i.value, `"${v}" is not a way to reach IPv4`, IPV4_FIX);
  }
  if (ipv4 === 'nat64' && refuse(r, [...path, 'ipv4'], given ? i.value : field.key, rule.nat64)) ipv4 = undefined;
  if (ipv4 === 'none' && refuse(r, [...path, 'ipv4'], given ? i.value : field.key, unreachableResolvers(ipv4, rules.name, rules.resolvers))) ipv4 = undefined;

  let ok = ipv4 !== undefined;
  let nat64Prefix: Prefix | undefined;
  const p = f.get('nat64Prefix');
  if (p && !isNull(p.value)) {
    const at: Path = [...path, 'nat64Prefix'];
    if (ipv4 === 'none') {
      r.report(at, p.value, `is set, but spec.egress.ipv4 is none${given ? '' : " (the platform's default)"}: nothing is translated`, rule.nat64 ? 'remove nat64Prefix: this platform has no NAT64' : 'remove nat64Prefix, or set "ipv4: nat64" to reach IPv4 through it');
      ok = false;
    } else {
      nat64Prefix = decodeNat64Prefix(r, p.value, at, rules);
      if (!nat64Prefix) ok = false;
    }
  }
  if (!ok || ipv4 === undefined) return undefined;
  return { ipv4, ...(nat64Prefix ? { nat64Prefix } : {}) };
}

/**
 * Why the cluster's DNS could reach none of the platform's resolvers: its
 * pods are IPv6-only, so an IPv4 resolver is reachable only as its address
 * under the NAT64 prefix, which spec.egress.ipv4: none does not have.
 * Undefined when one is reachable.
 */
export function unreachableResolvers(ipv4: IPv4Egress, platform: string, resolvers: readonly string[]): Refusal | undefined {
  if (ipv4 === 'nat64' || resolvers.some((a) => !isIPv4(a))) return undefined;
  const listed = resolvers.length > 0 ? `every resolver ${platform} gives its machines is IPv4 (${resolvers.join(', ')})` : `${platform} gives its machines no resolver`;
  return {
    message: `is none, but ${listed}: the cluster's DNS runs in IPv6-only pods, which reach an IPv4 resolver only through NAT64, so no name outside the cluster would resolve (Flux's git host included)`,
    fix: 'set "ipv4: nat64": the cluster\'s DNS then forwards to those resolvers through the NAT64 prefix',
  };
}

function decodeNat64Prefix(r: Reader, node: Field['value'], at: Path, rules: SpecRules): Prefix | undefined {
  const text = r.string(node, at, 'write the prefix as a string, e.g. 2001:db8:100:4::/96');
  if (text === undefined) return undefined;
  let prefix: Prefix;
  try {
    prefix = parsePrefix(text);
  } catch (e) {
    if (!(e instanceof AddressError)) throw e;
    r.report(at, node, e.message, 'write an IPv6 /96 with its host bits zero, e.g. 2001:db8:100:4::/96');
    return undefined;
  }
  const length = LIMITS.nat64PrefixLength;
  if (prefix.length !== length) {
    // The /96 at the start of what was written, when it would be taken.
    const first = { address: prefix.address & netmask(length), length };
    const example = refusedPurpose(first) || rules.ipv4Egress.nat64Prefix?.(first) ? '' : `, e.g. ${formatPrefix(first)}`;
    r.report(
      at,
      node,
      `a /${prefix.length} NAT64 prefix: RFC 6052 allows /32, /40, /48, /56, /64 and /96, but the nodes' translator takes only a /${length}`,
      `write a /${length}${example}, ${OWN_PREFIX}`,
    );
    return undefined;
  }
  const why = refusedPurpose(prefix);
  if (why) {
    r.report(at, node, `${formatPrefix(prefix)} is ${why}`, `use a /${length} of global unicast space routed to you, ${OWN_PREFIX}`);
    return undefined;
  }
  if (refuse(r, at, node, rules.ipv4Egress.nat64Prefix?.(prefix))) return undefined;
  return prefix;
}

/** Why a prefix cannot be a NAT64 prefix by its purpose: the well-known one is special-purpose by design, any other special-purpose prefix is refused. */
function refusedPurpose(prefix: Prefix): string | undefined {
  return prefixEquals(prefix, NAT64_WELL_KNOWN) ? undefined : specialPurpose(prefix);
}
