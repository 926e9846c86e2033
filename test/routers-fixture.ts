/**
 * A metal cluster built by hand for the routers' configuration tests (unit
 * and integration): two uplinks, rack-a with two routers running BFD and
 * rack-b with one on BGP timers only; three control planes and two workers;
 * LoadBalancer and external-IP ranges. Documentation addresses only.
 */
import { parseAddress, parsePrefix } from '../lib/net/ipv6.js';
import type { ClusterSpec } from '../lib/cluster/cluster.js';
import type { Inventory, InventoryMachine } from '../lib/cluster/inventory.js';
import { planAddresses, type AddressPlan } from '../lib/plan/addressPlan.js';

const FINGERPRINT = 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

function machine(name: string, pool: string, uplink: string, address: string, ipv4: string): InventoryMachine {
  return { name, pool, uplink, address: parseAddress(address), ipv4, ssh: { host: address, port: 22, user: 'root', hostKey: FINGERPRINT } };
}

export const METAL_INVENTORY: Inventory = {
  uplinks: [
    {
      name: 'rack-a',
      prefix: parsePrefix('2001:db8:ffa::/64'),
      gateway: parseAddress('2001:db8:ffa::1'),
      ipv4: { prefix: '192.0.2.0/24', gateway: '192.0.2.1' },
      routers: [
        { name: 'tor-a1', address: parseAddress('2001:db8:ffa::2'), asn: 65101, bfd: { intervalMs: 300, multiplier: 3 }, timers: { keepalive: 30, hold: 90 } },
        { name: 'tor-a2', address: parseAddress('2001:db8:ffa::3'), asn: 65102, bfd: { intervalMs: 300, multiplier: 3 }, timers: { keepalive: 30, hold: 90 } },
      ],
    },
    {
      name: 'rack-b',
      prefix: parsePrefix('2001:db8:ffb::/64'),
      gateway: parseAddress('2001:db8:ffb::1'),
      ipv4: { prefix: '198.51.100.0/24', gateway: '198.51.100.1' },
      routers: [{ name: 'tor-b1', address: parseAddress('2001:db8:ffb::2'), asn: 65201, timers: { keepalive: 3, hold: 9 } }],
    },
  ],
  machines: [
    machine('metal-cp-1', 'cp', 'rack-a', '2001:db8:ffa::11', '192.0.2.11'),
    machine('metal-cp-2', 'cp', 'rack-a', '2001:db8:ffa::12', '192.0.2.12'),
    machine('metal-cp-3', 'cp', 'rack-b', '2001:db8:ffb::13', '198.51.100.13'),
    machine('metal-general-1', 'general', 'rack-a', '2001:db8:ffa::21', '192.0.2.21'),
    machine('metal-general-2', 'general', 'rack-b', '2001:db8:ffb::22', '198.51.100.22'),
  ],
};

export const METAL_SPEC: ClusterSpec = {
  file: 'infra/metal.yaml',
  name: 'metal',
  platform: 'metal',
  nodeAddresses: 'given',
  metro: 'metal',
  kubernetesVersion: 'v1.35.4',
  controlPlane: { count: 3, plan: 'metal' },
  workers: [{ name: 'general', count: 2, plan: 'metal' }],
  network: {
    block: { prefix: parsePrefix('2001:db8:500::/56'), length: 56 },
    localASN: 65000,
    peerASN: 65530,
    serviceRangeSize: 112,
    podPoolSize: 64,
    podBlockSize: 122,
    loadBalancerRangeSize: 120,
    externalIPRangeSize: 120,
  },
  policy: { publicSources: [parsePrefix('::/0')], trustedSources: [] },
  gitops: { url: 'https://github.com/example/clusters', branch: 'main', interval: '5m' },
  egress: { ipv4: 'nat64' },
  resolvers: ['192.0.2.53'],
  inventory: METAL_INVENTORY,
};

export function metalPlan(spec: ClusterSpec = METAL_SPEC): AddressPlan {
  return planAddresses(spec);
}
