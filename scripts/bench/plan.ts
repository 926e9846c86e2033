/**
 * One measurement of the planner and renderer, run in its own process so
 * its peak memory (VmHWM) is its own: decode an Equinix Metal spec of N
 * nodes, plan it, render the cluster's tree with a BGPPeer per node and
 * router (from provider metadata as apply records it), and give S public
 * Services their external IPs. Prints one JSON line.
 * `mode` "baseline" does everything but the work, to measure the runtime.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { formatAddress, formatPrefix } from '../../lib/net/ipv6.js';
import type { AddressPlan } from '../../lib/plan/addressPlan.js';
import type { Device } from '../../lib/cluster/devices.js';
import { assignExternalIPs, type PublicService } from '../../lib/render/apps.js';
import { committedCalicoTemplates } from '../../lib/render/read.js';
import { clusterFiles } from '../../lib/render/tree.js';
import { manifestFile } from '../../lib/render/yaml.js';
import { loadCluster } from '../../lib/platforms/load.js';

const [nodesArg = '10', servicesArg = '0', mode = 'run'] = process.argv.slice(2);
const nodes = Number(nodesArg);
const services = Number(servicesArg);

function hwmBytes(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : process.memoryUsage().rss;
}

const workers = nodes - 3;
const text = stringify({
  apiVersion: 'native6.dev/v1alpha1',
  kind: 'Cluster',
  metadata: { name: 'bench' },
  spec: {
    platform: 'equinix-metal',
    metro: 'da',
    kubernetesVersion: 'v1.35.4',
    controlPlane: { count: 3, plan: 'c3.small.x86' },
    workers: [
      { name: 'a', count: Math.ceil(workers / 2), plan: 'm3.small.x86' },
      { name: 'b', count: Math.floor(workers / 2), plan: 'm3.small.x86' },
    ],
    network: { block: '2001:db8:2a00::/56', externalIPRangeSize: 112, loadBalancerRangeSize: 112 },
    gitops: { url: 'https://github.com/example/clusters' },
  },
});

/** Provider metadata as Equinix Metal would return it: a /127 per device in the node range. */
function devicesFor(plan: AddressPlan): Device[] {
  return plan.machines.map((m, i) => {
    const gateway = plan.nodes.address + 2n * BigInt(i + 1);
    const address = formatAddress(gateway + 1n);
    return {
      hostname: m.name,
      network: { addresses: [{ address_family: 6, public: true, address, gateway: formatAddress(gateway), cidr: 127 }] },
      bgp_neighbors: [
        {
          address_family: 6,
          customer_as: 65000,
          customer_ip: address,
          md5_enabled: true,
          multihop: true,
          peer_as: 65530,
          peer_ips: ['fc00::e', 'fc00::f'],
          routes_in: [{ route: formatPrefix(plan.block), exact: false }],
          routes_out: [],
        },
      ],
    };
  });
}

// Calico's templates as the committed tree holds them (read before the clock starts: a file read, not the renderer's work).
const calicoTemplates = committedCalicoTemplates(fileURLToPath(new URL('../../', import.meta.url)), 'lab');
const start = process.hrtime.bigint();
let outputBytes = 0;
if (mode === 'run') {
  const loaded = loadCluster('bench.yaml', text);
  if (!loaded.ok) throw new Error(`bench spec refused: ${JSON.stringify(loaded.problems)}`);
  const { spec, plan } = loaded;
  const files = clusterFiles({ spec, plan, devices: devicesFor(plan), sources: ['bench.yaml'] }, calicoTemplates);
  const publics: PublicService[] = Array.from({ length: services }, (_, i) => ({ name: `svc-${i}`, trafficPolicy: i % 2 === 0 ? 'Cluster' : 'Local', offset: BigInt(i + 1) }));
  outputBytes = files.reduce((n, f) => n + f.content.length, 0) + manifestFile('bench', assignExternalIPs(plan, publics)).length;
}
const ms = Number(process.hrtime.bigint() - start) / 1e6;
console.log(JSON.stringify({ nodes, services, mode, ms, peakBytes: hwmBytes(), outputBytes }));
