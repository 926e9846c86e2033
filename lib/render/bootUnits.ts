/**
 * The bootstrap's systemd units and the small scripts they run (the API
 * handover, the peer routes, the host firewall): what lib/render/bootstrap.ts
 * writes beside its boot script.
 */
import type { Machine } from '../plan/addressPlan.js';
import { API_BOOTSTRAP_TABLE } from './apiBootstrap.js';
import { API_SERVER_PORT } from './kubeadm.js';
import { HOST_FIREWALL_FILE, PEER_ELEMENTS_PLACEHOLDER } from './hostFirewall.js';
import {
  API_BOOTSTRAP_FILE,
  BOOT_DONE,
  BOOT_RESTART_SEC,
  BOOT_SCRIPT,
  FIREWALL_SCRIPT,
  HANDOVER_SCRIPT,
  HANDOVER_SLEEP,
  HANDOVER_STATUS,
  HANDOVER_UNIT,
  JOIN_TOKEN_FILE,
  JOIN_TOKEN_SCRIPT,
  JOIN_TOKEN_TTL_HOURS,
  JOIN_TOKEN_UNIT,
  NODE_ADDRESS_PLACEHOLDER,
  PEER_ROUTES,
  ROUTES_SCRIPT,
} from './bootPaths.js';

const dirOf = (path: string) => path.slice(0, path.lastIndexOf('/'));

/** The control planes' handover: the ClusterIP answered here until kube-proxy serves it (every boot). */
export function handoverScript(machine: Machine, clusterIP: string): string {
  const endpoint = `[${clusterIP}]:${API_SERVER_PORT}`;
  return [
    '#!/bin/bash',
    `# native6 API handover: ${machine.name}. Run by ${HANDOVER_UNIT} at every boot once the machine is in the cluster.`,
    '# Until this machine\'s kube-proxy serves the API ClusterIP, the ClusterIP is answered by this machine\'s',
    '# own API server (a DNAT, for its own programs and for what the routers bring it): after a full',
    '# restart, kube-proxy and Calico reach the API through it. Translation, not an address: connections',
    '# made through it keep their translation when it goes.',
    'set -Eeuo pipefail',
    'log() { echo "native6-api-handover: $*"; }',
    `status() { mkdir -p ${dirOf(HANDOVER_STATUS)}; echo "$*" > ${HANDOVER_STATUS}; }`,
    `! grep -q '${NODE_ADDRESS_PLACEHOLDER}' ${API_BOOTSTRAP_FILE} || { log "${API_BOOTSTRAP_FILE} has no address yet (the bootstrap has not run)"; exit 1; }`,
    `nft -f ${API_BOOTSTRAP_FILE}`,
    `status "waiting: ${endpoint} answered here until kube-proxy serves it"`,
    `log "${endpoint} answered by this machine's API server until kube-proxy serves it"`,
    'looks=0',
    `until nft get element ip6 kube-proxy service-ips "{ ${clusterIP} . tcp . ${API_SERVER_PORT} }" >/dev/null 2>&1; do`,
    '  looks=$((looks + 1))',
    `  [ $((looks % ${60 / HANDOVER_SLEEP})) -ne 0 ] || log "kube-proxy does not serve ${endpoint} yet ($((looks * ${HANDOVER_SLEEP})) s): the translation stays"`,
    `  sleep ${HANDOVER_SLEEP}`,
    'done',
    `nft delete table ip6 ${API_BOOTSTRAP_TABLE}`,
    'status "handed over"',
    'log "API endpoint handed over to kube-proxy"',
    '',
  ].join('\n');
}

/** The peer routes the bootstrap learnt, (re)made: by the bootstrap, then at every boot by its unit. */
export function routesScript(): string {
  return [
    '#!/bin/bash',
    `# native6: the routes to the BGP peers that are off the link (${PEER_ROUTES}, written by the bootstrap),`,
    '# through their gateway. Run by the bootstrap, then at every boot: the kernel does not keep them.',
    'set -euo pipefail',
    'while read -r peer gw; do',
    '  [ -n "$peer" ] || continue',
    '  ip -6 route replace "$peer/128" via "$gw"',
    `done < ${PEER_ROUTES}`,
    '',
  ].join('\n');
}

export function firewallScript(): string {
  return [
    '#!/bin/sh',
    `# native6: the machine's own firewall (${HOST_FIREWALL_FILE}, its peers filled in by the bootstrap), loaded.`,
    'set -eu',
    `if grep -q '${PEER_ELEMENTS_PLACEHOLDER}' ${HOST_FIREWALL_FILE}; then echo "${HOST_FIREWALL_FILE} has no peers yet (the bootstrap has not run)" >&2; exit 1; fi`,
    `exec nft -f ${HOST_FIREWALL_FILE}`,
    '',
  ].join('\n');
}

export function firewallUnit(): string {
  return unit({
    Unit: ['Description=native6: the machine\'s own firewall', 'DefaultDependencies=no', 'Wants=network-pre.target', 'Before=network-pre.target kubelet.service', `ConditionPathExists=${HOST_FIREWALL_FILE}`],
    Service: ['Type=oneshot', 'RemainAfterExit=yes', `ExecStart=${FIREWALL_SCRIPT}`],
    Install: ['WantedBy=multi-user.target'],
  });
}

function unit(lines: Record<string, readonly string[]>): string {
  return `${Object.entries(lines)
    .map(([section, entries]) => `[${section}]\n${entries.join('\n')}\n`)
    .join('\n')}`;
}

export function bootUnit(machine: Machine): string {
  return unit({
    Unit: [
      `Description=native6 bootstrap of ${machine.name}: kubeadm init or join, at every boot until it succeeded once`,
      'Wants=network-online.target',
      'After=network-online.target',
      `ConditionPathExists=!${BOOT_DONE}`,
      // Never given up: a machine that cannot join yet keeps trying.
      'StartLimitIntervalSec=0',
    ],
    Service: ['Type=oneshot', `ExecStart=${BOOT_SCRIPT}`, 'Restart=on-failure', `RestartSec=${BOOT_RESTART_SEC}`, 'TimeoutStartSec=infinity'],
    Install: ['WantedBy=multi-user.target'],
  });
}

export function routesUnit(): string {
  return unit({
    Unit: [
      'Description=native6: the routes to the BGP peers, through the gateway',
      'Wants=network-online.target',
      'After=network-online.target',
      'Before=kubelet.service',
      `ConditionPathExists=${PEER_ROUTES}`,
    ],
    Service: ['Type=oneshot', 'RemainAfterExit=yes', `ExecStart=${ROUTES_SCRIPT}`, 'Restart=on-failure', 'RestartSec=10'],
    Install: ['WantedBy=multi-user.target'],
  });
}

export function handoverUnit(machine: Machine): string {
  return unit({
    Unit: [
      `Description=native6: the API ClusterIP answered by ${machine.name} until its kube-proxy serves it`,
      'Wants=network-online.target',
      'After=network-online.target',
      `ConditionPathExists=${BOOT_DONE}`,
      'StartLimitIntervalSec=0',
    ],
    Service: ['Type=simple', `ExecStart=${HANDOVER_SCRIPT}`, 'Restart=on-failure', 'RestartSec=10'],
    Install: ['WantedBy=multi-user.target'],
  });
}


/**
 * The join token kept valid by the cluster itself (every control plane):
 * its expiration moved JOIN_TOKEN_TTL_HOURS ahead, or the token made again
 * when it is gone (expired and cleaned up) or holds another secret. Through
 * this control plane's admin credentials; nothing of the token is printed.
 */
export function joinTokenScript(): string {
  return [
    '#!/bin/bash',
    `# native6: the stack's join token (${JOIN_TOKEN_FILE}) kept valid for ${JOIN_TOKEN_TTL_HOURS} hours from now, so that a machine`,
    `# added any time later joins. Run by ${JOIN_TOKEN_UNIT} (its timer) on every control plane.`,
    'set -euo pipefail',
    'export KUBECONFIG=/etc/kubernetes/admin.conf',
    `token=$(cat ${JOIN_TOKEN_FILE})`,
    'id=${token%%.*}',
    'secret=bootstrap-token-$id',
    `until=$(date -u -d "+${JOIN_TOKEN_TTL_HOURS} hours" +%Y-%m-%dT%H:%M:%SZ)`,
    'held=$(kubectl -n kube-system get secret "$secret" -o jsonpath=\'{.data.token-secret}\' 2>/dev/null | base64 -d) || held=',
    'if [ -n "$held" ] && [ "$held" = "${token#*.}" ]; then',
    '  kubectl -n kube-system patch secret "$secret" --type merge -p "{\\"stringData\\":{\\"expiration\\":\\"$until\\"}}" >/dev/null',
    'else',
    '  [ -z "$held" ] || kubectl -n kube-system delete secret "$secret" >/dev/null',
    `  kubeadm token create "$token" --ttl ${JOIN_TOKEN_TTL_HOURS}h0m0s --description "native6: the stack's join token, kept valid by ${JOIN_TOKEN_UNIT}" >/dev/null`,
    'fi',
    'echo "native6-join-token: join token $id valid until $until"',
    '',
  ].join('\n');
}

export function joinTokenUnit(): string {
  return unit({
    Unit: ['Description=native6: the stack\'s join token kept valid', 'Wants=network-online.target', 'After=network-online.target', `ConditionPathExists=${BOOT_DONE}`, `ConditionPathExists=${JOIN_TOKEN_FILE}`],
    Service: ['Type=oneshot', `ExecStart=${JOIN_TOKEN_SCRIPT}`],
  });
}

export function joinTokenTimer(renewal: { readonly afterBoot: string; readonly every: string }): string {
  return unit({
    Unit: [`Description=native6: the stack's join token renewed ${renewal.afterBoot} after boot, then every ${renewal.every}`],
    Timer: [`OnBootSec=${renewal.afterBoot}`, `OnUnitActiveSec=${renewal.every}`],
    Install: ['WantedBy=timers.target'],
  });
}
