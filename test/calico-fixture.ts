/**
 * A datastore snapshot for the lab cluster: the rendered fabric plus nodes,
 * block affinities, Services and Endpoints as a running cluster has them.
 * Shared by the Calico substitute's unit and integration tests. Everything
 * is rendered here, in memory, from infra/lab.yaml: never read from the
 * committed trees, which `npm run render` rewrites.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import type { CalicoObject, DatastoreSnapshot } from '../lib/platforms/lab/calicoNode/confd.js';
import { workloadLabels, type PolicyInputs } from '../lib/platforms/lab/calicoNode/policy.js';
import { labDevices } from '../lib/platforms/lab/provider/metadata.js';
import { clusterFiles, renderShared, type RenderedFile } from '../lib/render/tree.js';
import { loadCluster } from '../lib/platforms/load.js';

const root = fileURLToPath(new URL('../', import.meta.url));

/** What `npm run render` would write for the lab: the shared trees and clusters/lab/, in memory. */
function labRendered(): RenderedFile[] {
  const loaded = loadCluster('infra/lab.yaml', readFileSync(`${root}infra/lab.yaml`, 'utf8'));
  if (!loaded.ok) throw new Error('infra/lab.yaml does not load');
  const { spec, plan } = loaded;
  return [...renderShared(), ...clusterFiles({ spec, plan, devices: labDevices(spec, plan), sources: ['infra/lab.yaml'] })];
}

/** The objects of the rendered files under `dir` (kustomizations left out), parsed back from their YAML. */
function renderedDocs<T>(files: readonly RenderedFile[], dir: string): T[] {
  return files
    .filter((f) => f.path.startsWith(`${dir}/`) && !f.path.endsWith('kustomization.yaml'))
    .flatMap((f) => parseAllDocuments(f.content).map((d) => d.toJS() as T))
    .filter(Boolean);
}

/** The rendered lab fabric, as the datastore would hold it. */
export function labFabric(): Array<CalicoObject & { kind?: string }> {
  return renderedDocs(labRendered(), 'clusters/lab/fabric');
}

export function labSnapshot(over: Partial<DatastoreSnapshot> = {}): DatastoreSnapshot {
  const fabric = labFabric();
  const kind = (k: string) => fabric.filter((o) => o.kind === k);
  return {
    bgpConfigurations: kind('BGPConfiguration'),
    bgpPeers: kind('BGPPeer'),
    ipPools: kind('IPPool'),
    nodes: [
      { metadata: { name: 'lab-cp-1', annotations: { 'projectcalico.org/IPv6Address': '2001:db8:100::3/127' } } },
      { metadata: { name: 'lab-general-1', annotations: { 'projectcalico.org/IPv6Address': '2001:DB8:100:0::24b9:216b:3/127' } } },
      { metadata: { name: 'lab-joining' } },
    ],
    blockAffinities: [
      { spec: { node: 'lab-cp-1', cidr: '2001:db8:100:8::40/122', state: 'confirmed', deleted: 'false' } },
      { spec: { node: 'lab-cp-1', cidr: '2001:db8:100:8::80/122', state: 'pending', deleted: 'false' } },
      { spec: { node: 'lab-general-1', cidr: '2001:db8:100:8::c0/122', state: 'confirmed', deleted: 'false' } },
    ],
    services: [
      { metadata: { namespace: 'echo', name: 'local' }, spec: { type: 'ClusterIP', clusterIP: '2001:db8:100:1::20', externalIPs: ['2001:db8:100:3::2', '2001:db8:ffff:9::1'], externalTrafficPolicy: 'Local' } },
      { metadata: { namespace: 'echo', name: 'cluster' }, spec: { type: 'ClusterIP', clusterIP: '2001:db8:100:1::21', externalIPs: ['2001:db8:100:3::1'], externalTrafficPolicy: 'Cluster' } },
    ],
    endpoints: [
      { metadata: { namespace: 'echo', name: 'local' }, subsets: [{ addresses: [{ ip: '2001:db8:100:8::c1', nodeName: 'lab-general-1' }] }] },
      { metadata: { namespace: 'echo', name: 'cluster' }, subsets: [{ addresses: [{ ip: '2001:db8:100:8::41', nodeName: 'lab-cp-1' }] }] },
    ],
    secrets: { 'bgp-md5': { 'lab-cp-1': 'pw-cp-1', 'lab-general-1': 'pw-general-1' } },
    ...over,
  };
}


/** The rendered baseline, the demo app's policies and the lab's network sets, with three workloads on two nodes. */
type Doc = { kind?: string; metadata?: { name?: string; namespace?: string; labels?: Record<string, string> }; spec?: Record<string, unknown> };

export function labPolicyInputs(): PolicyInputs {
  const files = labRendered();
  const all = ['policies/baseline', 'apps/echo', 'clusters/lab/fabric'].flatMap((dir) => renderedDocs<Doc>(files, dir));
  const w = (name: string, ip: string, node: string, labels: Record<string, string>, ns = 'echo') => ({ namespace: ns, name, ip, node, labels: workloadLabels(labels, ns) });
  return {
    globalNetworkPolicies: all.filter((d) => d.kind === 'GlobalNetworkPolicy'),
    networkPolicies: all.filter((d) => d.kind === 'NetworkPolicy'),
    globalNetworkSets: all.filter((d) => d.kind === 'GlobalNetworkSet') as PolicyInputs['globalNetworkSets'],
    namespaces: [{ metadata: { name: 'echo' } }, { metadata: { name: 'kube-system' } }, { metadata: { name: 'default' } }],
    workloads: [
      w('echo-a', '2001:db8:100:8::41', 'n1', { app: 'echo', 'native6.dev/public': 'true' }),
      w('echo-b', '2001:db8:100:8::81', 'n2', { app: 'echo', 'native6.dev/public': 'true' }),
      w('internal', '2001:db8:100:8::82', 'n2', { app: 'internal' }),
    ],
    serviceEndpoints: new Map([['default/kubernetes', { ips: ['2001:db8:100::3', '2001:db8:100::5'], ports: [{ protocol: 'TCP', port: 443 }] }]]),
  };
}

