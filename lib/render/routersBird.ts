/**
 * One router's BIRD 2 configuration for a metal cluster (routers.ts says
 * what every router does): a file the router's bird.conf includes, holding
 * the cluster's filters, a template per uplink and a session per node. What
 * it leaves to the including file (router id, protocol device, protocol bfd,
 * the kernel protocol with ECMP) is in its header and README.md. Pure.
 */
import { formatAddress, formatPrefix } from '../net/ipv6.js';
import { birdPasswordSymbol, birdSecretFile, birdSymbol, fileHeader, neighbourLines, timersText, type AcceptedRange, type RouterSite } from './routersModel.js';

export function birdNames(site: RouterSite): { nets: string; fromNodes: string; toNodes: string; template: string; password: string } {
  const c = site.cluster;
  return {
    nets: birdSymbol(c, 'from_nodes_nets'),
    fromNodes: birdSymbol(c, 'from_nodes'),
    toNodes: birdSymbol(c, 'to_nodes'),
    template: birdSymbol(c, site.uplink.name),
    password: birdPasswordSymbol(c),
  };
}

/** The protocol of one node's session. */
export function birdProtocolName(site: RouterSite, machine: string): string {
  return birdSymbol(site.cluster, machine);
}

/** A prefix set's item: the prefix, with {min,max} only where it differs from the prefix itself. */
export function birdPattern(r: AcceptedRange): string {
  const p = formatPrefix(r.prefix);
  return r.min === r.prefix.length && r.max === r.prefix.length ? p : `${p}{${r.min},${r.max}}`;
}

export function renderBird(site: RouterSite): string {
  const n = birdNames(site);
  const r = site.router;
  const items = site.accepted.map((a, i) => `  ${birdPattern(a)}${i < site.accepted.length - 1 ? ',' : ''}`.padEnd(40) + `  # ${a.what}`);
  const lines: string[] = [
    ...fileHeader(site, 'BIRD 2'),
    '#',
    `# Sessions: ${timersText(r)}.`,
    '# Neighbours:',
    ...neighbourLines(site).map((l) => `#   ${l}`),
    '#',
    "# The router's bird.conf includes this file and has what it leaves out:",
    '#   router id <the router\'s IPv4-formatted id>;',
    '#   protocol device {}',
    ...(r.bfd ? ['#   protocol bfd {}                      (the sessions below ask it for BFD)'] : []),
    `#   protocol kernel { ipv6 { export all; }; merge paths on limit ${site.multipath}; }`,
    `# merge paths: every node announces each Service range, up to ${site.multipath} equal paths (one per`,
    `# machine on ${site.uplink.name}): the kernel gets them all as one multipath route (ECMP).`,
    '',
    `# The MD5 password, by reference: this root-only file defines ${n.password} (README.md).`,
    `include "${birdSecretFile(site.cluster)}";`,
    '',
    "# What the nodes may announce: exactly the cluster's ranges, with the lengths Calico announces.",
    `define ${n.nets} = [`,
    ...items.map((l) => l.trimEnd()),
    '];',
    '',
    `filter ${n.fromNodes} {`,
    `  if net ~ ${n.nets} then accept;`,
    '  reject;',
    '}',
    '',
    "# The nodes get ::/0 only, and only while this router has one (its upstream's): it exports its own",
    "# best ::/0, withdrawn when that goes. Its AS path is cleared, so the nodes see this router's AS alone",
    '# (an upstream path through their own private AS would be dropped by them as a loop).',
    `filter ${n.toNodes} {`,
    '  if net = ::/0 then {',
    '    bgp_path = +empty+;',
    '    accept;',
    '  }',
    '  reject;',
    '}',
    '',
    `template bgp ${n.template} {`,
    `  description "native6 cluster ${site.cluster}, uplink ${site.uplink.name}";`,
    `  local ${formatAddress(r.address)} as ${r.asn};`,
    `  neighbor as ${site.nodeAsn};`,
    `  password ${n.password};`,
    // BIRD takes a keepalive of 1 s or more: 0 (with a hold time of 0, never) is left to it.
    ...(r.timers.keepalive > 0 ? [`  keepalive time ${r.timers.keepalive};`] : []),
    `  hold time ${r.timers.hold};`,
    ...(r.bfd ? [`  bfd { interval ${r.bfd.intervalMs} ms; multiplier ${r.bfd.multiplier}; };`] : []),
    '  ipv6 {',
    `    import filter ${n.fromNodes};`,
    `    export filter ${n.toNodes};`,
    '  };',
    '}',
    ...site.machines.flatMap((m) => ['', `protocol bgp ${birdProtocolName(site, m.name)} from ${n.template} {`, `  description "${m.name}";`, `  neighbor ${formatAddress(m.address)};`, '}']),
  ];
  return `${lines.join('\n')}\n`;
}
