/**
 * A datastore snapshot for the lab cluster: the rendered fabric plus nodes,
 * block affinities, Services and Endpoints as a running cluster has them.
 * Shared by the Calico substitute's unit and integration tests. Everything
 * is rendered here, in memory, from infra/lab.yaml: never read from the
 * committed trees, which `npm run render` rewrites. And the readers of a
 * compiled policy script (setsOf, resolved, judge) that the policy tests
 * share.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import type { CalicoObject, DatastoreSnapshot } from '../lib/platforms/lab/calicoNode/confd.js';
import { workloadLabels, type PolicyInputs } from '../lib/platforms/lab/calicoNode/policy.js';
import { containsAddress, parseAddress, parsePrefix } from '../lib/net/ipv6.js';
import { labDevices } from '../lib/platforms/lab/provider/metadata.js';
import { clusterFiles, renderShared, type RenderedFile } from '../lib/render/tree.js';
import { loadCluster } from '../lib/platforms/load.js';
import { committedInputs } from './pinned-fixture.js';

const root = fileURLToPath(new URL('../', import.meta.url));

/** What `npm run render` would write for the lab: the shared trees and clusters/lab/, in memory. */
function labRendered(): RenderedFile[] {
  const loaded = loadCluster('infra/lab.yaml', readFileSync(`${root}infra/lab.yaml`, 'utf8'));
  if (!loaded.ok) throw new Error('infra/lab.yaml does not load');
  const { spec, plan } = loaded;
  return [...renderShared(), ...clusterFiles({ spec, plan, devices: labDevices(spec, plan), sources: ['infra/lab.yaml'] }, committedInputs().calicoTemplates)];
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

// Reading a compiled script back (test/unit/policy*.test.ts).

/** The script's address sets, by name: their members as written. */
export function setsOf(script: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const m of script.matchAll(/ {2}set (s\d+) \{\n {4}type ipv6_addr; flags interval; auto-merge;\n(?: {4}elements = \{ ([^}]*) \}\n)? {2}\}/g)) {
    out.set(m[1]!, m[2] ? m[2].split(', ') : []);
  }
  return out;
}

/** The script with every @sN written out as its members, so assertions say what a rule matches. */
export function resolved(script: string): string {
  const sets = setsOf(script);
  return script.replace(/@(s\d+)/g, (_, name: string) => {
    const members = sets.get(name);
    assert.ok(members, `set ${name} is used but not defined`);
    return members.length > 0 ? `{ ${members.join(', ')} }` : '{ }';
  });
}

export interface Packet {
  readonly saddr: string;
  readonly daddr: string;
  readonly proto: 'tcp' | 'udp';
  readonly dport: number;
}

/**
 * Runs a packet through one of the script's workload chains, as nftables
 * would: the first rule whose matches all hold gives the verdict. Returns
 * it with the policy whose rule decided (the last "# name (order n)" line).
 * A rule this reader does not understand fails the test rather than being
 * skipped, and so does a drop without a counter, or whose comment does not
 * name the policy under which it stands (a Deny rule) or the end of the
 * tier in the chain's direction (the last rule).
 */
export function judge(script: string, workload: string, dir: 'in' | 'eg', p: Packet): { verdict: string; by: string } {
  const sets = setsOf(script);
  const chain = new RegExp(`\n {2}chain (${dir}\\d+) \\{\n {4}# ${workload.replace('/', '\\/')} \\S+\n([\\s\\S]*?)\n {2}\\}`).exec(script);
  assert.ok(chain, `no ${dir} chain for ${workload}`);
  const inSet = (name: string, address: string) => sets.get(name)!.some((m) => containsAddress(parsePrefix(m, true), parseAddress(address)));
  const inPorts = (list: string, port: number) =>
    list.split(', ').some((x) => {
      const [lo, hi = lo] = x.split('-').map(Number);
      return port >= lo! && port <= hi!;
    });
  let by = '(none)';
  for (const raw of chain[2]!.split('\n')) {
    const line = raw.trim();
    const policy = /^# (\S+) \(order [^)]*\)$/.exec(line);
    if (policy) {
      by = policy[1]!;
      continue;
    }
    let rest = line;
    let matches = true;
    const take = (re: RegExp): RegExpExecArray | null => {
      const m = re.exec(rest);
      if (m) rest = rest.slice(m[0].length);
      return m;
    };
    for (;;) {
      let m: RegExpExecArray | null;
      if ((m = take(/^meta l4proto (\S+) /))) matches &&= m[1] === p.proto;
      else if ((m = take(/^ip6 (saddr|daddr) (!= )?@(s\d+) /))) matches &&= inSet(m[3]!, m[1] === 'saddr' ? p.saddr : p.daddr) !== Boolean(m[2]);
      else if ((m = take(/^th dport (!= )?\{ ([^}]*) \} /))) matches &&= inPorts(m[2]!, p.dport) !== Boolean(m[1]);
      else break;
    }
    const verdict = /^(accept|drop|return)(?: comment "[^"]*")?$/.exec(rest) ?? /^counter (drop) comment "([^"]*)"$/.exec(rest);
    assert.ok(verdict, `the test's reader does not understand "${line}"`);
    if (verdict[1] === 'drop') {
      const end = `end of tier: ${dir === 'in' ? 'ingress' : 'egress'}`;
      assert.ok(verdict[2] === end || new RegExp(`^deny: ${by.replace(/\./g, '\\.')} ${dir === 'in' ? 'ingress' : 'egress'} rule \\d+$`).test(verdict[2] ?? ''), `a drop without a counter and its rule's name: "${line}"`);
    }
    if (matches) return { verdict: verdict[1]!, by };
  }
  assert.fail(`chain for ${workload} ends without a verdict`);
}
