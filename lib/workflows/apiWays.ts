/**
 * The ways apply reaches a cluster's API, in the order each attempt tries them:
 *
 * 1. the API ClusterIP, which every control plane serves (a first control plane that is down does
 *    not stop apply);
 * 2. the first control plane's own IPv6 address, before Calico announces the ClusterIP (a first
 *    apply);
 * 3. each control plane's public IPv4, for a runner with IPv4 only (GitHub-hosted runners have no
 *    IPv6): the API server listens on every address, the machines' firewall lets in 443 over IPv4
 *    (lib/render/hostFirewall.ts), and the certificate, which names no IPv4 address, is checked
 *    as kubernetes.default.svc, which kubeadm puts in every API server's certificate.
 *
 * An IPv6 way fails at once where the runner has no IPv6 (no route), so the IPv4 ways cost an
 * IPv6 runner nothing and an IPv4 one a few milliseconds per attempt.
 */
import type { Device } from '../cluster/devices.js';
import { withServer } from '../kube/kubeconfig.js';
import { API_SERVER_PORT, API_TLS_NAME } from '../render/kubeadm.js';

export interface ApiWay {
  /** Said in the log: "answers through <via>". */
  readonly via: string;
  readonly kubeconfig: string;
}

export interface ApiWayInputs {
  /** The admin kubeconfig, naming the API ClusterIP. */
  readonly kubeconfig: string;
  /** The first control plane's own address, where the platform gives one. */
  readonly bootstrapKubeconfig?: string;
  /** The devices as the provider gives them (their public IPv4 among their addresses). */
  readonly devices: readonly Device[];
}

/** The public IPv4 address of a device, when it has one. */
export function publicIPv4(device: Device): string | undefined {
  return device.network.addresses.find((a) => a.address_family === 4 && a.public)?.address;
}

/** The ways, in order; `controlPlanes` are the control planes' machine names, first control plane first. */
export function apiWays(inputs: ApiWayInputs, controlPlanes: readonly string[]): ApiWay[] {
  const ways: ApiWay[] = [{ via: 'the API ClusterIP', kubeconfig: inputs.kubeconfig }];
  if (inputs.bootstrapKubeconfig) ways.push({ via: 'the first control plane', kubeconfig: inputs.bootstrapKubeconfig });
  for (const name of controlPlanes) {
    const device = inputs.devices.find((d) => d.hostname === name);
    const v4 = device && publicIPv4(device);
    if (!v4) continue;
    ways.push({ via: `${name} over IPv4 (${v4})`, kubeconfig: withServer(inputs.kubeconfig, `https://${v4}:${API_SERVER_PORT}`, API_TLS_NAME) });
  }
  return ways;
}
