/**
 * The user-data an Equinix Metal device boots with (cloud-init, Ubuntu):
 * containerd, kubelet and kubeadm from the Kubernetes package repository at
 * the spec's minor version, the node's own address and BGP peer routes read
 * from the metadata service, then kubeadm init (the first control plane) or
 * kubeadm join (every other machine) with the kubeadm configuration the lab
 * runs too.
 *
 * The device's IPv6 address is the provider's choice (a /127 out of the
 * project's /56), known only once the device boots: the configuration
 * carries NODE_ADDRESS_PLACEHOLDER and the boot script puts the address in.
 *
 * Order of operations (README, "The API endpoint's chicken and egg"): the
 * first control plane answers on the API ClusterIP itself (an nftables
 * DNAT) until kube-proxy serves it; the other machines keep trying to join
 * (kubeadm's discovery timeout, not a retry loop of ours) until the first
 * control plane's Calico announces the Service range, which apply installs
 * right after up.
 *
 * The script is run, not only read: test/lab/bootScript.test.ts
 * boots it as cloud-init would, in namespaces, with stubs for what a
 * machine installs or reaches (docs/bootstrap.md).
 */
import { formatAddress } from '../../net/ipv6.js';
import type { AddressPlan, Machine } from '../../plan/addressPlan.js';
import { API_BOOTSTRAP_TABLE, apiBootstrapNat } from '../../render/apiBootstrap.js';
import { API_SERVER_PORT, kubeadmInit, kubeadmJoin, type JoinSecrets } from '../../render/kubeadm.js';
import { toYaml } from '../../yaml/write.js';
import type { ClusterSpec } from '../../cluster/cluster.js';

/** Replaced by the boot script with the device's public IPv6 address. */
export const NODE_ADDRESS_PLACEHOLDER = '@NODE_ADDRESS@';
export const METADATA_URL = 'https://metadata.platformequinix.com/metadata';
export const KUBEADM_CONFIG = '/etc/native6/kubeadm.yaml';
export const BOOT_SCRIPT = '/usr/local/sbin/native6-boot';
export const API_BOOTSTRAP_FILE = '/etc/native6/api-bootstrap.nft';
/** The boot's outcome: `running`, `done`, or `failed: <what>` (for a failed command: its exit status, line and text). */
export const BOOT_STATUS = '/var/lib/native6/boot-status';
/** accept_ra = 2 on the uplink, kept for the next boots. */
export const UPLINK_SYSCTL = '/etc/sysctl.d/91-native6-uplink.conf';
/** Joins wait this long for the endpoint (see the header). */
export const JOIN_DISCOVERY_TIMEOUT = '45m0s';
/**
 * apt waits this long (seconds) for dpkg's lock, which unattended-upgrades
 * often holds right after a first boot.
 */
export const APT_LOCK_TIMEOUT = 600;
/** apt-get tried this often, 10 s apart: the lists' lock (apt-daily) is one no apt option waits for. */
export const APT_TRIES = 30;
/** The handover waits this long for kube-proxy (tries × seconds), then fails the boot. */
export const HANDOVER_TRIES = 120;
export const HANDOVER_SLEEP = 5;
const SWAP_COMMENT = '# (native6: the kubelet runs without swap) ';

export interface DeviceSecrets extends JoinSecrets {
  /** The cluster CA (PEM), given to the first control plane so that joins can pin its hash. */
  readonly caCertPem: string;
  readonly caKeyPem: string;
  /** sha256:<hex> of the CA's public key, as kubeadm join's discovery pins it. */
  readonly caCertHash: string;
}

/** The Kubernetes package repository's minor channel for a version like v1.35.4. */
export function packageChannel(kubernetesVersion: string): string {
  const m = /^v(\d+)\.(\d+)\.\d+$/.exec(kubernetesVersion);
  if (!m) throw new Error(`kubernetesVersion "${kubernetesVersion}" is not vMAJOR.MINOR.PATCH`);
  return `v${m[1]}.${m[2]}`;
}

/** Logging, the status file, and a trap that records any failed command with its line. */
function prelude(machine: Machine, first: boolean): string[] {
  const role = first ? 'first control plane: kubeadm init' : machine.role === 'control-plane' ? 'control plane: kubeadm join' : 'worker: kubeadm join';
  return [
    '#!/bin/bash',
    `# native6 boot: ${machine.name} (${role})`,
    // -E: the ERR trap holds inside functions too.
    'set -Eeuo pipefail',
    'export DEBIAN_FRONTEND=noninteractive',
    'log() { echo "native6-boot: $*" | systemd-cat -t native6-boot -p info; echo "native6-boot: $*"; }',
    `status() { mkdir -p ${BOOT_STATUS.slice(0, BOOT_STATUS.lastIndexOf('/'))}; echo "$*" > ${BOOT_STATUS}; }`,
    'fail() { status "failed: $*"; log "failed: $*"; exit 1; }',
    // Once, in the script itself (not again in the subshell of a failed $(...)).
    `trap 'rc=$?; if [ "$BASH_SUBSHELL" = 0 ]; then status "failed: exit $rc at line $LINENO: $BASH_COMMAND"; log "failed: exit $rc at line $LINENO: $BASH_COMMAND"; fi' ERR`,
    'status running',
    '',
    '# apt at a first boot: unattended-upgrades holds dpkg\'s lock for minutes (apt waits for it),',
    '# apt-daily the lists\' lock, which no apt option waits for (tried again).',
    'apt_get() {',
    '  local try',
    `  for try in $(seq 1 ${APT_TRIES}); do`,
    `    apt-get -o DPkg::Lock::Timeout=${APT_LOCK_TIMEOUT} "$@" && return 0`,
    `    log "apt-get $1 failed (try $try of ${APT_TRIES}), again in 10 s"`,
    '    sleep 10',
    '  done',
    '  return 1',
    '}',
    '',
  ];
}

/** The device as the provider numbered it: its address, its BGP peers' routes, its uplink. */
function device(first: boolean): string[] {
  const publicV6 = '[.network.addresses[] | select(.address_family == 6 and .public)][0]';
  return [
    '# The device, as the provider numbered it.',
    `meta=$(curl -fsS --retry 20 --retry-delay 3 --retry-all-errors ${METADATA_URL})`,
    `addr=$(jq -r '${publicV6}.address' <<<"$meta")`,
    `gw=$(jq -r '${publicV6}.gateway' <<<"$meta")`,
    '[ -n "$addr" ] && [ "$addr" != null ] || fail "no public IPv6 address in the metadata"',
    '# Multihop BGP: the peers (fc00::e, fc00::f) are reached through the gateway.',
    `for peer in $(jq -r '.bgp_neighbors[] | select(.address_family == 6) | .peer_ips[]' <<<"$meta"); do`,
    '  ip -6 route replace "$peer/128" via "$gw"',
    'done',
    '# Forwarding is on (90-native6.conf): the uplink still takes router advertisements, now and at every boot.',
    'uplink=$(ip -6 -o route get "$gw" | sed -n \'s/.* dev \\([^ ]*\\).*/\\1/p\')',
    '[ -n "$uplink" ] || fail "no interface towards the gateway $gw"',
    `echo "net/ipv6/conf/$uplink/accept_ra = 2" > ${UPLINK_SYSCTL}`,
    'sysctl -q -w "net/ipv6/conf/$uplink/accept_ra=2"',
    `sed -i "s/${NODE_ADDRESS_PLACEHOLDER}/$addr/g" ${KUBEADM_CONFIG}${first ? ` ${API_BOOTSTRAP_FILE}` : ''}`,
    '',
  ];
}

/** containerd, then kubelet, kubeadm and kubectl pinned to the spec's version; swap off for good. */
function runtime(spec: ClusterSpec): string[] {
  const channel = packageChannel(spec.kubernetesVersion);
  const pkgVersion = `${spec.kubernetesVersion.slice(1)}-*`;
  const repo = `https://pkgs.k8s.io/core:/stable:/${channel}/deb/`;
  return [
    '# Container runtime and the Kubernetes packages, pinned to the spec\'s version.',
    'mkdir -p /etc/containerd /etc/apt/keyrings',
    'containerd config default | sed "s/SystemdCgroup = false/SystemdCgroup = true/" > /etc/containerd/config.toml',
    'systemctl restart containerd',
    `curl -fsSL ${repo}Release.key | gpg --batch --yes --dearmor -o /etc/apt/keyrings/kubernetes.gpg`,
    `echo "deb [signed-by=/etc/apt/keyrings/kubernetes.gpg] ${repo} /" > /etc/apt/sources.list.d/kubernetes.list`,
    'apt_get update -q',
    `apt_get install -y -q kubelet="${pkgVersion}" kubeadm="${pkgVersion}" kubectl="${pkgVersion}"`,
    'apt-mark hold kubelet kubeadm kubectl',
    '# No swap, now and after a reboot: the kubelet does not start with swap on (failSwapOn).',
    'swapoff -a',
    `sed -Ei '/^[[:space:]]*[^#[:space:]]+[[:space:]]+[^[:space:]]+[[:space:]]+swap[[:space:]]/ s/^/${SWAP_COMMENT}/' /etc/fstab`,
    'systemctl mask swap.target',
    '',
  ];
}

function bootScript(spec: ClusterSpec, plan: AddressPlan, machine: Machine, first: boolean): string {
  const clusterIP = formatAddress(plan.apiServer);
  const endpoint = `[${clusterIP}]:${API_SERVER_PORT}`;
  const lines = [
    ...prelude(machine, first),
    '# First what the rest uses: a stock image has no jq, nft or containerd (a minimal one no curl or gpg either).',
    'apt_get update -q',
    'apt_get install -y -q containerd curl gpg jq nftables',
    '',
    ...device(first),
    ...runtime(spec),
  ];
  if (first) {
    lines.push(
      '# The API endpoint before anything is routed: the ClusterIP answered here.',
      `nft -f ${API_BOOTSTRAP_FILE}`,
      `log "kubeadm init (API endpoint ${endpoint})"`,
      `kubeadm init --config ${KUBEADM_CONFIG} --upload-certs --skip-token-print --skip-certificate-key-print`,
      '# It holds the bootstrap token and the certificate key: not kept once used.',
      `rm -f ${KUBEADM_CONFIG}`,
      '# Handover: once kube-proxy serves the ClusterIP\'s port itself (that element of its service-ips',
      '# map, exactly), the bootstrap translation goes. If it never does, the boot fails and the',
      '# translation stays: the API keeps answering on its ClusterIP from here.',
      'handed=',
      `for _ in $(seq 1 ${HANDOVER_TRIES}); do`,
      `  if nft get element ip6 kube-proxy service-ips "{ ${clusterIP} . tcp . ${API_SERVER_PORT} }" >/dev/null 2>&1; then`,
      `    nft delete table ip6 ${API_BOOTSTRAP_TABLE}; handed=1; break`,
      '  fi',
      `  sleep ${HANDOVER_SLEEP}`,
      'done',
      `[ -n "$handed" ] || fail "kube-proxy did not serve ${endpoint} within ${HANDOVER_TRIES * HANDOVER_SLEEP} s: the bootstrap DNAT stays"`,
      'log "API endpoint handed over to kube-proxy"',
    );
  } else {
    lines.push(
      `log "kubeadm join through ${endpoint} (waits until the endpoint is announced)"`,
      `kubeadm join --config ${KUBEADM_CONFIG}`,
      '# It holds the bootstrap token (and a control plane\'s certificate key): not kept once used.',
      `rm -f ${KUBEADM_CONFIG}`,
    );
  }
  lines.push('status done', 'log done', '');
  return lines.join('\n');
}

/**
 * The cloud-config for one machine. Secrets go into files readable by root
 * only; the result is itself a secret (Pulumi keeps it encrypted in state).
 */
export function userData(spec: ClusterSpec, plan: AddressPlan, machine: Machine, secrets: DeviceSecrets): string {
  const first = machine.role === 'control-plane' && machine.index === 1;
  const node = { name: machine.name, address: NODE_ADDRESS_PLACEHOLDER };
  const kubeadm = first
    ? kubeadmInit(spec, plan, node, secrets)
    : kubeadmJoin(plan, node, secrets, { controlPlane: machine.role === 'control-plane', caCertHash: secrets.caCertHash }, { discoveryTimeout: JOIN_DISCOVERY_TIMEOUT });
  const files: Array<Record<string, unknown>> = [
    { path: '/etc/sysctl.d/90-native6.conf', permissions: '0644', content: 'net.ipv6.conf.all.forwarding = 1\nnet.ipv6.conf.default.forwarding = 1\n' },
    { path: '/etc/modules-load.d/native6.conf', permissions: '0644', content: 'overlay\n' },
    { path: KUBEADM_CONFIG, permissions: '0600', content: kubeadm },
    { path: BOOT_SCRIPT, permissions: '0700', content: bootScript(spec, plan, machine, first) },
  ];
  if (first) {
    files.push(
      { path: '/etc/kubernetes/pki/ca.crt', permissions: '0644', content: secrets.caCertPem },
      { path: '/etc/kubernetes/pki/ca.key', permissions: '0600', content: secrets.caKeyPem },
      { path: API_BOOTSTRAP_FILE, permissions: '0644', content: apiBootstrapNat(formatAddress(plan.apiServer), NODE_ADDRESS_PLACEHOLDER) },
    );
  }
  const config = {
    hostname: machine.name,
    write_files: files,
    runcmd: [['sysctl', '--system'], ['modprobe', 'overlay'], [BOOT_SCRIPT]],
  };
  return `#cloud-config\n${toYaml(config)}`;
}
