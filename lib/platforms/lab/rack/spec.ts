/**
 * A metal spec of lab machines, as a user writes one for their rack: the
 * machines' addresses and host keys (read from the machines: the lab's
 * SSH servers make their keys at their first start, so the spec is written
 * again with their fingerprints), one uplink with two routers, the lab
 * internet's resolvers, the host's link as the operators' network (SSH
 * comes from there), the lab's git host. Documentation addresses only.
 */
import { KUBERNETES_VERSION } from '../../../toolchain/pins.js';
import { HOST_LINKS } from '../topology.js';
import { formatPrefix } from '../../../net/ipv6.js';
import { LAB_GIT_URL, LAB_INTERNET_HOSTS } from '../provider/provider.js';

/** A fingerprint of the right shape that no key has: what the spec holds before the machines' keys are read. */
export const UNREAD_HOST_KEY = 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

export interface RackSpecOptions {
  /** metadata.name; the machines are <name>-cp-<i> and <name>-general-<i>. */
  readonly name: string;
  readonly controlPlanes: number;
  readonly workers: number;
  /** Each machine's host key fingerprint, by name (UNREAD_HOST_KEY where not yet read). */
  readonly hostKeys?: ReadonlyMap<string, string>;
}

/** The machines of the rack spec, in the spec's order: name, pool, last group of its addresses. */
export function rackMachines(o: RackSpecOptions): Array<{ name: string; pool: string; host: number }> {
  const cps = Array.from({ length: o.controlPlanes }, (_, i) => ({ name: `${o.name}-cp-${i + 1}`, pool: 'control-plane', host: 0x11 + i }));
  const workers = Array.from({ length: o.workers }, (_, i) => ({ name: `${o.name}-general-${i + 1}`, pool: 'general', host: 0x21 + i }));
  return [...cps, ...workers];
}

/** The spec's YAML text. */
export function rackSpecText(o: RackSpecOptions): string {
  const machines = rackMachines(o).flatMap((m) => [
    `    - name: ${m.name}`,
    `      pool: ${m.pool}`,
    '      uplink: row-a',
    `      address: 2001:db8:7a::${m.host.toString(16)}`,
    `      ipv4: 198.51.100.${m.host}`,
    `      ssh: { hostKey: "${o.hostKeys?.get(m.name) ?? UNREAD_HOST_KEY}" }`,
  ]);
  return [
    '# A rack of lab machines bootstrapped over SSH (the metal platform): written by the lab',
    '# (lib/platforms/lab/rack/spec.ts) with the fingerprints its machines\' SSH servers hold.',
    'apiVersion: native6.dev/v1alpha1',
    'kind: Cluster',
    'metadata:',
    `  name: ${o.name}`,
    'spec:',
    '  platform: metal',
    `  kubernetesVersion: ${KUBERNETES_VERSION}`,
    '  network:',
    '    block: 2001:db8:200::/56',
    '    localASN: 65000',
    '    serviceRangeSize: 112',
    '    podPoolSize: 64',
    '    podBlockSize: 122',
    '    loadBalancerRangeSize: 120',
    '    externalIPRangeSize: 120',
    '  uplinks:',
    '    - name: row-a',
    '      prefix: 2001:db8:7a::/64',
    '      gateway: 2001:db8:7a::1',
    '      ipv4: { prefix: 198.51.100.0/25, gateway: 198.51.100.1 }',
    '      routers:',
    '        - { name: tor-1, address: "2001:db8:7a::2", asn: 65010 }',
    '        - { name: tor-2, address: "2001:db8:7a::3", asn: 65010 }',
    '  machines:',
    ...machines,
    '  resolvers:',
    `    - ${LAB_INTERNET_HOSTS.resolver.ipv6}`,
    `    - ${LAB_INTERNET_HOSTS.resolver.ipv4}`,
    '  policy:',
    '    trustedSources:',
    "      # The lab host's link into the lab: apply's SSH comes from there.",
    `      - ${formatPrefix(HOST_LINKS)}`,
    '  gitops:',
    "    # metal refuses http://: the lab's git host over https is not served yet (Flux is not part of the rack lab).",
    `    url: ${LAB_GIT_URL.replace(/^http:/, 'https:')}`,
    '',
  ].join('\n');
}
