/**
 * One router's FRR configuration for a metal cluster (routers.ts says what
 * every router does). Written to be merged into a running FRR with
 * `vtysh -f` (every line is a command of FRR's configuration; `router bgp`
 * enters the router's existing instance, as its AS is the router's), after
 * the password placeholder is replaced (README.md). Pure.
 */
import { formatAddress, formatPrefix } from '../net/ipv6.js';
import { FRR_PASSWORD_PLACEHOLDER, FRR_PASSWORD_VARIABLE, fileHeader, frrSecretFile, neighbourLines, timersText, type AcceptedRange, type RouterSite } from './routersModel.js';

/** The names the file gives its objects: the cluster's name in each, so two clusters on one router do not meet. */
export function frrNames(site: RouterSite): { fromNodes: string; toNodes: string; hasDefault: string; defaultList: string; peerGroup: string; bfdProfile: string } {
  const c = site.cluster;
  return {
    fromNodes: `N6-${c}-FROM-NODES`,
    toNodes: `N6-${c}-TO-NODES`,
    hasDefault: `N6-${c}-HAS-DEFAULT`,
    defaultList: `N6-${c}-DEFAULT`,
    peerGroup: `N6-${c}-${site.uplink.name}`,
    bfdProfile: `n6-${c}-${site.uplink.name}`,
  };
}

/** A prefix-list entry's match: the prefix, with ge/le only where they differ from it. */
export function frrMatch(r: AcceptedRange): string {
  const p = formatPrefix(r.prefix);
  if (r.min === r.prefix.length && r.max === r.prefix.length) return p;
  if (r.min === r.prefix.length) return `${p} le ${r.max}`;
  if (r.max === 128) return `${p} ge ${r.min}`;
  return `${p} ge ${r.min} le ${r.max}`;
}

export function renderFrr(site: RouterSite): string {
  const n = frrNames(site);
  const r = site.router;
  const pg = n.peerGroup;
  const lines: string[] = [
    ...fileHeader(site, 'FRR'),
    '#',
    `# Sessions: ${timersText(r)}.`,
    '# Neighbours:',
    ...neighbourLines(site).map((l) => `#   ${l}`),
    '#',
    `# No password here: the placeholder of the password line below (the variable ${FRR_PASSWORD_VARIABLE}) is`,
    `# replaced at install by the one in ${frrSecretFile(site.cluster)} (root-only on the router;`,
    '# README.md). Applied as it is, the placeholder would be the password and no session would come up.',
    '!',
    '# What the nodes may announce: exactly the cluster\'s ranges, with the lengths Calico announces.',
    ...site.accepted.flatMap((a, i) => [`# ${a.what}`, `ipv6 prefix-list ${n.fromNodes} seq ${(i + 1) * 5} permit ${frrMatch(a)}`]),
    '# The default route, matched where it is the router\'s own (its BGP table), never from the nodes.',
    `ipv6 prefix-list ${n.defaultList} seq 5 permit ::/0`,
    '!',
    `route-map ${n.fromNodes} permit 10`,
    ` match ipv6 address prefix-list ${n.fromNodes}`,
    'exit',
    '!',
    '# Nothing but the default goes to the nodes, and the default does not go through this route-map:',
    '# default-originate below sends it.',
    `route-map ${n.toNodes} deny 10`,
    'exit',
    '!',
    '# The condition of default-originate: a ::/0 in this router\'s BGP table (from its upstream).',
    `route-map ${n.hasDefault} permit 10`,
    ` match ipv6 address prefix-list ${n.defaultList}`,
    'exit',
    '!',
    `router bgp ${r.asn}`,
    ' no bgp default ipv4-unicast',
    ' bgp ebgp-requires-policy',
    ` neighbor ${pg} peer-group`,
    ` neighbor ${pg} remote-as ${site.nodeAsn}`,
    ` neighbor ${pg} description native6 cluster ${site.cluster}, uplink ${site.uplink.name}`,
    ` neighbor ${pg} update-source ${formatAddress(r.address)}`,
    ` neighbor ${pg} password ${FRR_PASSWORD_PLACEHOLDER}`,
    ` neighbor ${pg} timers ${r.timers.keepalive} ${r.timers.hold}`,
    ...(r.bfd ? [` neighbor ${pg} bfd profile ${n.bfdProfile}`] : []),
    ...site.machines.flatMap((m) => [` neighbor ${formatAddress(m.address)} peer-group ${pg}`, ` neighbor ${formatAddress(m.address)} description ${m.name}`]),
    ' !',
    ' address-family ipv6 unicast',
    `  # Every node announces each Service range: up to ${site.multipath} equal paths (one per machine on ${site.uplink.name}), all installed.`,
    `  maximum-paths ${site.multipath}`,
    `  neighbor ${pg} activate`,
    `  neighbor ${pg} default-originate route-map ${n.hasDefault}`,
    `  neighbor ${pg} route-map ${n.fromNodes} in`,
    `  neighbor ${pg} route-map ${n.toNodes} out`,
    ' exit-address-family',
    'exit',
    '!',
    ...(r.bfd
      ? [
          'bfd',
          ` profile ${n.bfdProfile}`,
          `  detect-multiplier ${r.bfd.multiplier}`,
          `  receive-interval ${r.bfd.intervalMs}`,
          `  transmit-interval ${r.bfd.intervalMs}`,
          ' exit',
          'exit',
          '!',
        ]
      : []),
  ];
  return `${lines.join('\n')}\n`;
}
