/**
 * routers/README.md of a metal cluster: which file is for which router, what
 * every router accepts and sends, and how the network team applies the files
 * with FRR or BIRD 2, the MD5 password put in from a root-only file. Pure.
 */
import { formatAddress, formatPrefix } from '../net/ipv6.js';
import type { ClusterSpec } from '../cluster/cluster.js';
import { BGP_SECRET, CALICO_NAMESPACE } from './calico.js';
import { birdNames, birdPattern } from './routersBird.js';
import { frrMatch, frrNames } from './routersFrr.js';
import { FRR_PASSWORD_PLACEHOLDER, FRR_PASSWORD_VARIABLE, generatedLine, birdSecretFile, frrSecretFile, timersText, type RouterSite } from './routersModel.js';

export function routersReadme(spec: ClusterSpec, sites: readonly RouterSite[]): string {
  const c = spec.name;
  const first = sites[0];
  const accepted = first?.accepted ?? [];
  const frr = first ? frrNames(first) : undefined;
  const bird = first ? birdNames(first) : undefined;
  const birdConf = `/etc/bird/native6-${c}.conf`;
  const frrTmp = `/etc/frr/native6-${c}.conf`;
  const rows = sites.map(
    (s) =>
      `| ${s.router.name} | ${s.uplink.name} (${formatPrefix(s.uplink.prefix)}) | ${s.router.asn} (${formatAddress(s.router.address)}) | ${s.machines.map((m) => m.name).join(', ') || '(none)'} | ${timersText(s.router)} | ${s.multipath} | [${s.router.name}.frr.conf](${s.router.name}.frr.conf), [${s.router.name}.bird.conf](${s.router.name}.bird.conf) |`,
  );
  const lines: string[] = [
    generatedLine(`infra/${c}.yaml`),
    '',
    `## The routers of cluster ${c}`,
    '',
    `The nodes (AS ${spec.network.localASN}) peer over eBGP, IPv6 only, with every router above their uplink. One file per`,
    'router and daemon: FRR (`.frr.conf`) or BIRD 2 (`.bird.conf`); take the one your router runs.',
    '',
    '| router | uplink | its AS (address) | neighbours: the nodes on the uplink | sessions | ECMP paths | files |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    '## What every router accepts and sends',
    '',
    "It accepts from the nodes exactly the cluster's ranges, with the prefix lengths Calico announces, and",
    "nothing else (never a node's own address, never a default):",
    '',
    '| range | FRR prefix-list entry | BIRD prefix set item |',
    '| --- | --- | --- |',
    ...accepted.map((a) => `| ${a.what} | \`${frrMatch(a)}\` | \`${birdPattern(a)}\` |`),
    '',
    'It sends the nodes one route, `::/0`, and only while it has a default itself, from its upstream:',
    '',
    `- FRR: \`neighbor <group> default-originate route-map ${frr?.hasDefault ?? ''}\` announces \`::/0\` only while a`,
    '  `::/0` is in the router\'s BGP table (learned from its upstream; a static default is not in that',
    '  table: redistribute or `network` it into BGP, filtered towards the upstream). Plain',
    '  `default-originate`, without the route-map, would send `::/0` regardless, and a router that has',
    '  lost its upstream would draw the nodes\' traffic into a blackhole: do not shorten it to that.',
    `- BIRD: the export filter \`${bird?.toNodes ?? ''}\` sends the router's own best \`::/0\` (from any protocol:`,
    '  upstream BGP, static, or the kernel protocol with `learn`), and withdraws it when that goes.',
    '',
    'ECMP: every node announces each Service range, so one router can get as many equal paths as there',
    'are machines on its uplink; `maximum-paths` (FRR) and the kernel protocol\'s `merge paths on limit`',
    '(BIRD) are set to that count (at most 256) so the router installs every node as a next hop. In FRR',
    '`maximum-paths` is the whole instance\'s: if yours is already larger, keep yours.',
    '',
    '## The MD5 password',
    '',
    `One password for the cluster, the one its nodes use (Calico reads it from the Secret \`${BGP_SECRET}\` in`,
    `\`${CALICO_NAMESPACE}\`; apply creates it). It is never in these files, nor anywhere in git: ask the cluster's`,
    'operators for it, and keep it on the router in a root-only file. Linux takes TCP MD5 keys of at most',
    '80 characters; keep it printable, without spaces, quotes or backslashes.',
    '',
    '## FRR',
    '',
    'FRR\'s configuration has no include, so the file carries a placeholder where the password goes,',
    `\`${FRR_PASSWORD_PLACEHOLDER}\`, which \`envsubst\` (gettext-base) replaces at install. Applied as it is, the`,
    'placeholder would be the password and no session would come up. On the router, as root:',
    '',
    '```sh',
    `# once: the password, root-only`,
    `install -m 600 /dev/null ${frrSecretFile(c)}`,
    `printf '%s' "$PASSWORD" > ${frrSecretFile(c)}`,
    '# each time the file changes: substitute, merge into the running configuration, save',
    `(umask 077; ${FRR_PASSWORD_VARIABLE}="$(cat ${frrSecretFile(c)})" envsubst '${FRR_PASSWORD_PLACEHOLDER}' < <router>.frr.conf > ${frrTmp})`,
    `vtysh -C -f ${frrTmp} && vtysh -f ${frrTmp} && vtysh -c 'write memory'`,
    `rm ${frrTmp}`,
    '```',
    '',
    '`vtysh -f` adds the file\'s commands to the running configuration: `router bgp <AS>` enters the',
    'router\'s existing BGP instance (the AS in the file is the router\'s own). Every name carries the',
    `cluster's (\`${frr?.fromNodes ?? ''}\`, the peer group \`${frr?.peerGroup ?? ''}\`…), so two clusters on one`,
    'router do not meet. The file sets no `bgp router-id`: a router without an IPv4 address must have one in',
    'its own configuration. With BFD, bfdd must run (`bfdd=yes` in `/etc/frr/daemons`). A node removed from',
    'the inventory is not removed by a merge: `no neighbor <address>` it, or reload the whole configuration.',
    '',
    '## BIRD 2',
    '',
    `BIRD's file includes the password from \`${birdSecretFile(c)}\`, which defines the string constant`,
    `\`${bird?.password ?? ''}\` that the sessions' \`password\` option names. On the router, as root:`,
    '',
    '```sh',
    '# once: the password, readable by BIRD only',
    `install -m 640 -o root -g bird /dev/null ${birdSecretFile(c)}`,
    `printf 'define ${bird?.password ?? ''} = "%s";\\n' "$PASSWORD" > ${birdSecretFile(c)}`,
    '# each time the file changes',
    `install -m 640 -o root -g bird <router>.bird.conf ${birdConf}`,
    'bird -p -c /etc/bird/bird.conf && birdc configure',
    '```',
    '',
    `The router's \`/etc/bird/bird.conf\` includes it (\`include "${birdConf}";\`) and has what it leaves out:`,
    'a `router id`, `protocol device`, `protocol bfd` when the sessions use BFD, and the kernel protocol',
    'with ECMP, e.g. `protocol kernel { ipv6 { export all; }; merge paths on limit <ECMP paths>; }`.',
    '',
  ];
  return `${lines.join('\n')}`;
}
