/**
 * The spec's addresses: spec.network (the reserved block, ASNs, the sizes of
 * the ranges the address plan carves) and spec.policy (the sources let in).
 * Part of the decoder (decode.ts): strict, every problem at its field.
 */
import { isScalar, type Node } from 'yaml';
import { AddressError, formatPrefix, parsePrefix, specialPurpose, type Prefix } from '../net/ipv6.js';
import { DEFAULTS, LIMITS, type NetworkSpec, type PolicySpec } from './cluster.js';
import { INVENTORY, type Bfd } from './inventory.js';
import { misplacedEgress } from './egress.js';
import { isNull, type Field, type Path, type Reader } from './reader.js';
import { refuse, type SpecRules } from './rules.js';

const NETWORK_FIELDS = [
  'block',
  'blockSize',
  'localASN',
  'peerASN',
  'serviceRangeSize',
  'podPoolSize',
  'podBlockSize',
  'loadBalancerRangeSize',
  'externalIPRangeSize',
  'bfd',
  'holdTime',
] as const;

/** The length a `block:` holds when it is only a size: `/56`, or 56. */
function sizeOnly(node: Node | null | undefined): number | undefined {
  if (!isScalar(node)) return undefined;
  if (typeof node.value === 'number' && Number.isInteger(node.value)) return node.value;
  const m = typeof node.value === 'string' ? /^\s*\/(\d{1,3})\s*$/.exec(node.value) : null;
  return m ? Number(m[1]) : undefined;
}

function isPrivateASN(asn: number): boolean {
  return (asn >= 64512 && asn <= 65534) || (asn >= 4200000000 && asn <= 4294967294);
}

export function decodeNetwork(r: Reader, field: Field | undefined, spec: Node, rules: SpecRules): NetworkSpec | undefined {
  const path: Path = ['spec', 'network'];
  if (!field || isNull(field.value)) {
    r.report(path, field?.key ?? spec, 'is required', 'add a network section with at least the reserved block, e.g. "block: 2001:db8:100::/56"');
    return undefined;
  }
  const node = field.value!;
  const f = r.fields(node, path, NETWORK_FIELDS, misplacedEgress('network'));
  if (!f) return undefined;
  let ok = true;
  const int = (name: (typeof NETWORK_FIELDS)[number], dflt: number | undefined, min: number, max: number, fix: string): number | undefined => {
    const fld = f.get(name);
    if (!fld || isNull(fld.value)) return dflt;
    const v = r.integer(fld.value, [...path, name], min, max, fix);
    if (v === undefined) ok = false;
    return v;
  };

  // The reserved block: a prefix, or the size to request.
  let block: NetworkSpec['block'] | undefined;
  const bField = f.get('block');
  const sField = f.get('blockSize');
  const hasBlock = bField !== undefined && !isNull(bField.value);
  const hasSize = sField !== undefined && !isNull(sField.value);
  if (hasBlock && hasSize) {
    r.report([...path, 'blockSize'], sField!.key, 'is set together with block', 'keep block (the prefix you hold) or blockSize (the size to request), not both');
    ok = false;
  } else if (hasBlock && sizeOnly(bField!.value) !== undefined) {
    // `block: /56` (or 56): a size where a prefix goes; blockSize says "learn it" where the platform can.
    const n = sizeOnly(bField!.value)!;
    const inRange = n >= LIMITS.blockMin && n <= LIMITS.blockMax;
    const learn = inRange && !rules.blockSize(n);
    r.report(
      [...path, 'block'],
      bField!.value,
      `is only a size (/${n}); block is the prefix itself`,
      learn
        ? `write "blockSize: ${n}" instead of block to use the block the provider assigns (apply records it), or the prefix you hold, e.g. 2001:db8:100::/${n}`
        : inRange
          ? `write the prefix you hold, e.g. 2001:db8:100::/${n}`
          : `write the prefix you hold, a /${LIMITS.blockMin} to /${LIMITS.blockMax}, e.g. 2001:db8:100::/56`,
    );
    ok = false;
  } else if (hasBlock) {
    const text = r.string(bField!.value, [...path, 'block'], 'write the prefix as a string, e.g. 2001:db8:100::/56');
    if (text !== undefined) {
      let prefix: Prefix | undefined;
      try {
        prefix = parsePrefix(text);
      } catch (e) {
        if (!(e instanceof AddressError)) throw e;
        r.report([...path, 'block'], bField!.value, e.message, 'write an IPv6 network prefix with its host bits zero, e.g. 2001:db8:100::/56');
      }
      if (prefix) {
        const why = specialPurpose(prefix);
        if (prefix.length < LIMITS.blockMin || prefix.length > LIMITS.blockMax) {
          r.report([...path, 'block'], bField!.value, `a /${prefix.length} block is outside what the planner carves (/${LIMITS.blockMin} to /${LIMITS.blockMax})`, 'use the /56 your provider reserved (Equinix Metal: the project\'s IPv6 block in the metro)');
        } else if (why) {
          r.report([...path, 'block'], bField!.value, `${formatPrefix(prefix)} is ${why}`, 'use a global unicast block your provider routes to you');
        } else if (!refuse(r, [...path, 'block'], bField!.value, rules.block(prefix))) block = { prefix, length: prefix.length };
      }
    }
    if (!block) ok = false;
  } else if (hasSize) {
    const size = r.integer(sField!.value, [...path, 'blockSize'], LIMITS.blockMin, LIMITS.blockMax, 'use 56, the size Equinix Metal reserves per project and metro');
    if (size !== undefined && refuse(r, [...path, 'blockSize'], sField!.value, rules.blockSize(size))) {
      ok = false;
    } else if (size !== undefined) block = { length: size };
    else ok = false;
  } else {
    r.report([...path, 'block'], node, 'is required', 'add "block: <prefix>/56" (the block you hold) or, on equinix-metal, "blockSize: 56" to use the project\'s block found at apply');
    ok = false;
  }

  const asnFix = 'use a private ASN: 64512-65534 or 4200000000-4294967294';
  const localASN = int('localASN', DEFAULTS.localASN, 1, 4294967294, asnFix);
  if (localASN !== undefined && !isPrivateASN(localASN)) {
    r.report([...path, 'localASN'], f.get('localASN')?.value, `${localASN} is not a private ASN`, `${asnFix} (Equinix Metal local BGP defaults to ${DEFAULTS.localASN})`);
    ok = false;
  }
  const peerASN = int('peerASN', DEFAULTS.peerASN, 1, 4294967294, `use the provider's ASN (Equinix Metal: ${DEFAULTS.peerASN})`);
  if (localASN !== undefined && peerASN !== undefined && localASN === peerASN) {
    const peerField = f.get('peerASN');
    if (peerField && !isNull(peerField.value)) {
      r.report([...path, 'peerASN'], peerField.value, `is the same as localASN (${localASN}); the nodes peer with the provider over eBGP`, `set peerASN to the provider's ASN (Equinix Metal: ${DEFAULTS.peerASN})`);
    } else {
      // peerASN is the default, the provider's: it is localASN that is wrong.
      r.report([...path, 'localASN'], f.get('localASN')?.value, `is ${localASN}, the provider's ASN (peerASN, ${DEFAULTS.peerASN} by default); the nodes peer with the provider over eBGP`, `set localASN to a private ASN of the cluster's own, e.g. ${DEFAULTS.localASN}`);
    }
    ok = false;
  }
  const serviceRangeSize = int(
    'serviceRangeSize',
    DEFAULTS.serviceRangeSize,
    LIMITS.serviceRangeMin,
    LIMITS.serviceRangeMax,
    `use ${LIMITS.serviceRangeMin} to ${LIMITS.serviceRangeMax}: kube-apiserver refuses an IPv6 Service range wider than a /${LIMITS.serviceRangeMin}, and a range narrower than a /${LIMITS.serviceRangeMax} leaves too few ClusterIPs`,
  );
  const podPoolSize = int('podPoolSize', DEFAULTS.podPoolSize, LIMITS.podPoolMin, LIMITS.podPoolMax, `use ${LIMITS.podPoolMin} to ${LIMITS.podPoolMax} (${DEFAULTS.podPoolSize} by default)`);
  const podBlockSize = int('podBlockSize', DEFAULTS.podBlockSize, LIMITS.podBlockMin, LIMITS.podBlockMax, `Calico accepts IPv6 block sizes from ${LIMITS.podBlockMin} to ${LIMITS.podBlockMax}; ${DEFAULTS.podBlockSize} is its default`);
  const rangeFix = `use ${LIMITS.rangeMin} to ${LIMITS.rangeMax}, e.g. 120 for 256 addresses`;
  const loadBalancerRangeSize = int('loadBalancerRangeSize', undefined, LIMITS.rangeMin, LIMITS.rangeMax, rangeFix);
  const externalIPRangeSize = int('externalIPRangeSize', undefined, LIMITS.rangeMin, LIMITS.rangeMax, rangeFix);

  if (podPoolSize !== undefined && podBlockSize !== undefined && podBlockSize < podPoolSize) {
    r.report([...path, 'podBlockSize'], f.get('podBlockSize')?.value ?? f.get('podPoolSize')?.value, `a /${podBlockSize} block does not fit in the /${podPoolSize} pod pool`, `use a podBlockSize of at least ${podPoolSize}`);
    ok = false;
  }
  const sessions = decodeSessions(r, f, path, rules);
  if (!sessions) ok = false;
  if (!ok || !sessions || !block || localASN === undefined || peerASN === undefined || serviceRangeSize === undefined || podPoolSize === undefined || podBlockSize === undefined) {
    return undefined;
  }
  return {
    block,
    localASN,
    peerASN,
    serviceRangeSize,
    podPoolSize,
    podBlockSize,
    ...(loadBalancerRangeSize !== undefined ? { loadBalancerRangeSize } : {}),
    ...(externalIPRangeSize !== undefined ? { externalIPRangeSize } : {}),
    ...sessions,
  };
}

/**
 * spec.network.bfd (`{intervalMs, multiplier}`, or `false` for none) and
 * holdTime (seconds), the nodes' side of their sessions, where the platform
 * lets the spec say them (lib/cluster/sessions.ts).
 */
function decodeSessions(r: Reader, f: Map<string, Field>, path: Path, rules: SpecRules): { bfd?: Bfd; holdTime?: number } | undefined {
  const given = (name: string) => {
    const fld = f.get(name);
    return fld && !isNull(fld.value) ? fld : undefined;
  };
  let ok = true;
  let bfd: Bfd | undefined;
  const bField = given('bfd');
  const off = bField !== undefined && isScalar(bField.value) && bField.value.value === false;
  if (off) {
    bfd = undefined; // "no BFD" is true on every platform
  } else if ('refused' in rules.sessions.bfd) {
    if (bField) {
      refuse(r, [...path, 'bfd'], bField.value, rules.sessions.bfd.refused);
      ok = false;
    }
  } else if (!bField) {
    bfd = rules.sessions.bfd.default;
  } else if (isScalar(bField.value) && bField.value.value === true) {
    r.report([...path, 'bfd'], bField.value, 'is true; BFD is its interval and multiplier', `remove the field for the platform's (${rules.sessions.bfd.default ? `${rules.sessions.bfd.default.intervalMs} ms × ${rules.sessions.bfd.default.multiplier}` : 'none'}), write "bfd: {intervalMs: 100, multiplier: 3}", or "bfd: false" for none`);
    ok = false;
  } else {
    const bPath = [...path, 'bfd'];
    const bf = r.fields(bField.value, bPath, ['intervalMs', 'multiplier']);
    const { min, max } = INVENTORY.bfdIntervalMs;
    const num = (name: 'intervalMs' | 'multiplier', dflt: number, lo: number, hi: number, fix: string) => {
      const x = bf?.get(name);
      return !x || isNull(x.value) ? dflt : r.integer(x.value, [...bPath, name], lo, hi, fix);
    };
    const intervalMs = bf && num('intervalMs', 300, min, max, `use ${min} to ${max} ms, e.g. 100 (a dead node is found in intervalMs × multiplier); or write "bfd: false" for none`);
    const multiplier = bf && num('multiplier', 3, INVENTORY.bfdMultiplier.min, INVENTORY.bfdMultiplier.max, 'use 2 to 255, e.g. 3');
    if (intervalMs === undefined || multiplier === undefined) ok = false;
    else bfd = { intervalMs, multiplier };
  }
  let holdTime: number | undefined;
  const hField = given('holdTime');
  if ('refused' in rules.sessions.holdTime) {
    if (hField) {
      refuse(r, [...path, 'holdTime'], hField.value, rules.sessions.holdTime.refused);
      ok = false;
    }
  } else if (!hField) {
    holdTime = rules.sessions.holdTime.default;
  } else {
    holdTime = r.integer(hField.value, [...path, 'holdTime'], 3, INVENTORY.holdMax, `use 3 to ${INVENTORY.holdMax} seconds (BGP's minimum is 3, RFC 4271 §4.2; the keepalive is a third of it)${bfd ? '' : ', or turn bfd on to find a dead node in under a second'}`);
    if (holdTime === undefined) ok = false;
  }
  return ok ? { ...(bfd ? { bfd } : {}), ...(holdTime !== undefined ? { holdTime } : {}) } : undefined;
}

function decodePrefixList(r: Reader, field: Field | undefined, path: Path, dflt: readonly string[]): Prefix[] | undefined {
  if (!field || isNull(field.value)) return dflt.map((p) => parsePrefix(p));
  const items = r.sequence(field.value, path, 'write a list of IPv6 prefixes, e.g. ["2001:db8:ab00::/40"]');
  if (!items) return undefined;
  const out: Prefix[] = [];
  let ok = true;
  items.forEach((item, i) => {
    const text = r.string(item, [...path, i], 'write the prefix as a string');
    if (text === undefined) {
      ok = false;
      return;
    }
    try {
      out.push(parsePrefix(text));
    } catch (e) {
      if (!(e instanceof AddressError)) throw e;
      r.report([...path, i], item, e.message, 'write an IPv6 prefix with its host bits zero, e.g. 2001:db8:ab00::/40');
      ok = false;
    }
  });
  return ok ? out : undefined;
}

export function decodePolicy(r: Reader, field: Field | undefined): PolicySpec | undefined {
  const path: Path = ['spec', 'policy'];
  if (!field || isNull(field.value)) {
    return { publicSources: DEFAULTS.publicSources.map((p) => parsePrefix(p)), trustedSources: [] };
  }
  const f = r.fields(field.value, path, ['publicSources', 'trustedSources']);
  if (!f) return undefined;
  const publicSources = decodePrefixList(r, f.get('publicSources'), [...path, 'publicSources'], DEFAULTS.publicSources);
  const trustedSources = decodePrefixList(r, f.get('trustedSources'), [...path, 'trustedSources'], []);
  if (!publicSources || !trustedSources) return undefined;
  if (publicSources.length === 0) {
    r.report([...path, 'publicSources'], f.get('publicSources')?.value, 'is empty, so no workload could be public', 'remove the field (default ::/0, the whole internet) or list the networks allowed in');
    return undefined;
  }
  return { publicSources, trustedSources };
}
