/**
 * NAT64 on every node (spec.egress.ipv4: nat64): the node translates its own
 * pods' packets to the cluster's NAT64 prefix into IPv4, with its own IPv4
 * address, and the replies back. DNS64 in the cluster's DNS gives pods
 * those addresses for names with only an A record; IPv6 is never
 * translated.
 *
 * The translator is TAYGA (Debian's `tayga`): stateless NAT64 on a TUN
 * device, each pod address mapped to an address of a pool that never leaves
 * the node, then masqueraded to the node's IPv4 by the kernel (nftables),
 * as TAYGA's documentation pairs it. Why on every node, not on chosen
 * egress nodes (docs/egress.md): no extra hop and no second failure domain
 * (a node's pods lose their translator only with the node), nothing to
 * announce (the prefix is routed to the TUN device on each node and never
 * leaves it: the cluster is no open relay), and every Equinix Metal device
 * had a public IPv4. Which pods may use it is policy's business (the
 * baseline's guard at order 10).
 *
 * Pure: files for the bootstrap (lib/render/bootstrap.ts).
 */
import { formatPrefix, type Prefix } from '../net/ipv6.js';

export const NAT64_CONFIG = '/etc/native6/tayga.conf';
export const NAT64_RULES = '/etc/native6/nat64.nft';
export const NAT64_SCRIPT = '/usr/local/sbin/native6-nat64';
export const NAT64_UNIT = 'native6-nat64.service';
export const NAT64_TABLE = 'n6-nat64';
export const NAT64_DEVICE = 'nat64';
/** TAYGA's dynamic map (pod address to pool address) survives a restart of the translator here. */
export const NAT64_DATA_DIR = '/var/lib/native6/tayga';
/**
 * The node-local IPv4 pool (TAYGA's dynamic-pool): one address per pod that
 * talks to IPv4, kept 2 h 4 min after its last packet, so a /20 (4094)
 * outlasts any node's pod churn. Never seen outside the node (masqueraded).
 */
export const DEFAULT_NAT64_POOL = '192.168.240.0/20';

/** The pool's first address: TAYGA's own IPv4 (its ICMP errors), which TAYGA takes out of the pool. */
function poolFirst(pool: string): string {
  const [net, len] = pool.split('/');
  const parts = net!.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255) || !/^\d+$/.test(len ?? '') || Number(len) > 30) {
    throw new Error(`NAT64 pool ${pool} is not an IPv4 prefix of /30 or shorter`);
  }
  parts[3] = parts[3]! + 1;
  return parts.join('.');
}

export function taygaConfig(prefix: Prefix, pool: string): string {
  return [
    '# native6: NAT64 for this node\'s pods (TAYGA). Written by the bootstrap; started by native6-nat64.service.',
    `tun-device ${NAT64_DEVICE}`,
    `ipv4-addr ${poolFirst(pool)}`,
    `prefix ${formatPrefix(prefix)}`,
    `dynamic-pool ${pool}`,
    `data-dir ${NAT64_DATA_DIR}`,
    '',
  ].join('\n');
}

/** Forwarding of IPv4 only from the translator out and its replies back; the pool masqueraded to the node's IPv4. */
export function nat64Rules(pool: string): string {
  return [
    `# native6: the node's IPv4 is for its translated pods only (loaded by ${NAT64_SCRIPT}).`,
    `table ip ${NAT64_TABLE} {}`,
    `delete table ip ${NAT64_TABLE}`,
    `table ip ${NAT64_TABLE} {`,
    '  chain forward {',
    '    type filter hook forward priority filter; policy drop;',
    `    iifname "${NAT64_DEVICE}" oifname != "${NAT64_DEVICE}" ip saddr ${pool} accept comment "translated pods' packets go out"`,
    `    oifname "${NAT64_DEVICE}" ct state established,related accept comment "and their replies come back"`,
    '  }',
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    `    ip saddr ${pool} oifname != "${NAT64_DEVICE}" masquerade comment "the node's own IPv4"`,
    '  }',
    '}',
    '',
  ].join('\n');
}

/** The translator's start, at every boot: the TUN device, its routes, the IPv4 rules, then TAYGA in the foreground. */
export function nat64Script(prefix: Prefix, pool: string): string {
  const p = formatPrefix(prefix);
  return [
    '#!/bin/bash',
    `# native6 NAT64: pods' packets to ${p} leave this node as IPv4 from its own address.`,
    `# Run by ${NAT64_UNIT} at every boot (and again when TAYGA exits).`,
    'set -euo pipefail',
    'log() { echo "native6-nat64: $*"; }',
    'if [ -z "$(ip -4 route show default)" ]; then',
    '  log "no IPv4 default route: this machine has no IPv4 to translate to (spec.egress.ipv4: nat64 needs one on every node)"',
    '  exit 1',
    'fi',
    'sysctl -q -w net.ipv4.ip_forward=1',
    `mkdir -p ${NAT64_DATA_DIR}`,
    `ip link show ${NAT64_DEVICE} >/dev/null 2>&1 || tayga --config ${NAT64_CONFIG} --mktun`,
    `ip link set ${NAT64_DEVICE} up`,
    `ip -4 route replace ${pool} dev ${NAT64_DEVICE}`,
    `ip -6 route replace ${p} dev ${NAT64_DEVICE}`,
    `nft -f ${NAT64_RULES}`,
    `log "translating ${p} to IPv4 through ${NAT64_DEVICE} (pool ${pool}, masqueraded)"`,
    `exec tayga --config ${NAT64_CONFIG} --nodetach`,
    '',
  ].join('\n');
}

export function nat64Unit(): string {
  return [
    '[Unit]',
    'Description=native6: NAT64 for this node\'s pods (TAYGA), to IPv4 with the node\'s own address',
    'Wants=network-online.target',
    'After=network-online.target',
    `ConditionPathExists=${NAT64_CONFIG}`,
    'StartLimitIntervalSec=0',
    '',
    '[Service]',
    `ExecStart=${NAT64_SCRIPT}`,
    'Restart=always',
    'RestartSec=2',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

/** The translator's files, for the bootstrap. */
export function nat64Files(prefix: Prefix, pool: string = DEFAULT_NAT64_POOL): Array<{ path: string; mode: '0644' | '0700'; content: string }> {
  return [
    { path: NAT64_CONFIG, mode: '0644', content: taygaConfig(prefix, pool) },
    { path: NAT64_RULES, mode: '0644', content: nat64Rules(pool) },
    { path: NAT64_SCRIPT, mode: '0700', content: nat64Script(prefix, pool) },
    { path: `/etc/systemd/system/${NAT64_UNIT}`, mode: '0644', content: nat64Unit() },
  ];
}
