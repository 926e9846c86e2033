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
 * DNAT); the other machines keep trying to join (kubeadm's discovery
 * timeout, not a retry loop of ours) until the first control plane's
 * Calico announces the Service range, which apply installs right after up.
 */
import { formatAddress } from '../../net/ipv6.js';
import type { AddressPlan, Machine } from '../../plan/addressPlan.js';
import { API_BOOTSTRAP_TABLE, apiBootstrapNat } from '../../render/apiBootstrap.js';
import { kubeadmInit, kubeadmJoin, type JoinSecrets } from '../../render/kubeadm.js';
import { toYaml } from '../../yaml/write.js';
import type { ClusterSpec } from '../../cluster/cluster.js';

/** Replaced by the boot script with the device's public IPv6 address. */
export const NODE_ADDRESS_PLACEHOLDER = '@NODE_ADDRESS@';
export const METADATA_URL = 'https://metadata.platformequinix.com/metadata';
export const KUBEADM_CONFIG = '/etc/native6/kubeadm.yaml';
export const BOOT_SCRIPT = '/usr/local/sbin/native6-boot';
export const API_BOOTSTRAP_FILE = '/etc/native6/api-bootstrap.nft';
/** Joins wait this long for the endpoint (see the header). */
export const JOIN_DISCOVERY_TIMEOUT = '45m0s';

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

function bootScript(spec: ClusterSpec, plan: AddressPlan, machine: Machine, first: boolean): string {
  const channel = packageChannel(spec.kubernetesVersion);
  const pkgVersion = `${spec.kubernetesVersion.slice(1)}-*`;
  const clusterIP = formatAddress(plan.apiServer);
  const lines = [
    '#!/bin/bash',
    `# native6 boot: ${machine.name} (${first ? 'first control plane: kubeadm init' : machine.role === 'control-plane' ? 'control plane: kubeadm join' : 'worker: kubeadm join'})`,
    'set -euo pipefail',
    'export DEBIAN_FRONTEND=noninteractive',
    'log() { echo "native6-boot: $*" | systemd-cat -t native6-boot -p info; echo "native6-boot: $*"; }',
    '',
    '# The device, as the provider numbered it.',
    `meta=$(curl -fsS --retry 20 --retry-delay 3 --retry-all-errors ${METADATA_URL})`,
    `addr=$(jq -r '[.network.addresses[] | select(.address_family == 6 and .public)][0].address' <<<"$meta")`,
    `gw=$(jq -r '[.network.addresses[] | select(.address_family == 6 and .public)][0].gateway' <<<"$meta")`,
    '[ -n "$addr" ] && [ "$addr" != null ] || { log "no public IPv6 address in the metadata"; exit 1; }',
    '# Multihop BGP: the peers (fc00::e, fc00::f) are reached through the gateway.',
    `for peer in $(jq -r '.bgp_neighbors[] | select(.address_family == 6) | .peer_ips[]' <<<"$meta"); do`,
    '  ip -6 route replace "$peer/128" via "$gw"',
    'done',
    `sed -i "s/${NODE_ADDRESS_PLACEHOLDER}/$addr/g" ${KUBEADM_CONFIG}${first ? ` ${API_BOOTSTRAP_FILE}` : ''}`,
    '',
    '# Container runtime and the Kubernetes packages, pinned to the spec\'s version.',
    'apt-get update -q',
    'apt-get install -y -q containerd curl gpg jq nftables',
    'mkdir -p /etc/containerd /etc/apt/keyrings',
    'containerd config default | sed "s/SystemdCgroup = false/SystemdCgroup = true/" > /etc/containerd/config.toml',
    'systemctl restart containerd',
    `curl -fsSL https://pkgs.k8s.io/core:/stable:/${channel}/deb/Release.key | gpg --dearmor -o /etc/apt/keyrings/kubernetes.gpg`,
    `echo "deb [signed-by=/etc/apt/keyrings/kubernetes.gpg] https://pkgs.k8s.io/core:/stable:/${channel}/deb/ /" > /etc/apt/sources.list.d/kubernetes.list`,
    'apt-get update -q',
    `apt-get install -y -q kubelet="${pkgVersion}" kubeadm="${pkgVersion}" kubectl="${pkgVersion}"`,
    'apt-mark hold kubelet kubeadm kubectl',
    'swapoff -a',
    '',
  ];
  if (first) {
    lines.push(
      '# The API endpoint before anything is routed: the ClusterIP answered here.',
      `nft -f ${API_BOOTSTRAP_FILE}`,
      `log "kubeadm init (API endpoint [${clusterIP}]:443)"`,
      `kubeadm init --config ${KUBEADM_CONFIG} --upload-certs`,
      '# Handover: once kube-proxy translates the ClusterIP, the bootstrap translation goes.',
      'for _ in $(seq 1 120); do',
      `  if nft list table ip6 kube-proxy 2>/dev/null | grep -qF "${clusterIP}"; then`,
      `    nft delete table ip6 ${API_BOOTSTRAP_TABLE}; log "API endpoint handed over to kube-proxy"; break`,
      '  fi',
      '  sleep 5',
      'done',
    );
  } else {
    lines.push(`log "kubeadm join through [${clusterIP}]:443 (waits until the endpoint is announced)"`, `kubeadm join --config ${KUBEADM_CONFIG}`);
  }
  lines.push('log done', '');
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
