/**
 * What the lab's BGP agent reads of the datastore, kept as calico-node
 * keeps it: a reflector (LIST, then WATCH) per kind it reads
 * (lib/kube/reflector.ts), not a LIST of everything every second. Its
 * confd and Felix parts then run when something changed (and every 30 s,
 * as Felix re-applies its dataplane), each over one consistent-enough
 * snapshot of the copies, built by the pure `snapshotOf`.
 */
import { setMaxListeners } from 'node:events';
import type { KubeClient } from '../../../kube/client.js';
import { Reflector } from '../../../kube/reflector.js';
import type { DatastoreSnapshot } from './confd.js';
import { workloadLabels, type PolicyInputs } from './policy.js';

const CRD = '/apis/crd.projectcalico.org/v1';

export type Obj = { metadata?: { name?: string; namespace?: string; annotations?: Record<string, string>; labels?: Record<string, string> }; spec?: Record<string, unknown> };

export type AgentSnapshot = DatastoreSnapshot & { readonly felixConfigurations: readonly Obj[]; readonly policy: PolicyInputs };

type Pod = { metadata: { name: string; namespace: string; labels?: Record<string, string> }; spec: { nodeName?: string; hostNetwork?: boolean }; status: { podIP?: string; phase?: string } };

/** The collections the agent keeps a copy of: what confd's BGP syncer, its route generator (core/v1 Endpoints, not EndpointSlices) and Felix's policy watch. */
export const WATCHED = {
  bgpConfigurations: `${CRD}/bgpconfigurations`,
  bgpPeers: `${CRD}/bgppeers`,
  bgpFilters: `${CRD}/bgpfilters`,
  ipPools: `${CRD}/ippools`,
  nodes: '/api/v1/nodes',
  blockAffinities: `${CRD}/blockaffinities`,
  services: '/api/v1/services',
  endpoints: '/api/v1/endpoints',
  felixConfigurations: `${CRD}/felixconfigurations`,
  globalNetworkPolicies: `${CRD}/globalnetworkpolicies`,
  networkPolicies: '/apis/networking.k8s.io/v1/networkpolicies',
  calicoNetworkPolicies: `${CRD}/networkpolicies`,
  globalNetworkSets: `${CRD}/globalnetworksets`,
  namespaces: '/api/v1/namespaces',
  pods: '/api/v1/pods',
} as const;

export type Lists = { readonly [K in keyof typeof WATCHED]: readonly Obj[] };

/** The agent's snapshot of the datastore from its copies; `secrets` are the BGPPeers' password Secrets. */
export function snapshotOf(lists: Lists, secrets: Record<string, Record<string, string>>): AgentSnapshot {
  if (lists.calicoNetworkPolicies.length > 0) throw new Error('Calico NetworkPolicies (namespaced, crd.projectcalico.org) are not supported by the lab\'s policy engine');
  // Felix's workload endpoints: pods with an address on a pod network, not finished.
  const workloads = (lists.pods as readonly Pod[])
    .filter((p) => p.status?.podIP && !p.spec.hostNetwork && p.spec.nodeName && p.status.phase !== 'Succeeded' && p.status.phase !== 'Failed')
    .map((p) => ({ namespace: p.metadata.namespace, name: p.metadata.name, ip: p.status.podIP!, node: p.spec.nodeName!, labels: workloadLabels(p.metadata.labels ?? {}, p.metadata.namespace) }));
  const serviceEndpoints = new Map<string, { ips: string[]; ports: Array<{ protocol: string; port: number }> }>();
  for (const e of lists.endpoints as Array<Obj & { subsets?: Array<{ addresses?: Array<{ ip: string }>; ports?: Array<{ protocol?: string; port: number }> }> }>) {
    const ips = (e.subsets ?? []).flatMap((x) => (x.addresses ?? []).map((a) => a.ip));
    const ports = (e.subsets ?? []).flatMap((x) => (x.ports ?? []).map((pt) => ({ protocol: pt.protocol ?? 'TCP', port: pt.port })));
    serviceEndpoints.set(`${e.metadata?.namespace}/${e.metadata?.name}`, { ips, ports });
  }
  return {
    bgpConfigurations: lists.bgpConfigurations,
    bgpPeers: lists.bgpPeers,
    bgpFilters: lists.bgpFilters,
    ipPools: lists.ipPools,
    nodes: lists.nodes,
    blockAffinities: lists.blockAffinities,
    services: lists.services,
    endpoints: lists.endpoints,
    felixConfigurations: lists.felixConfigurations,
    policy: {
      globalNetworkPolicies: lists.globalNetworkPolicies,
      networkPolicies: lists.networkPolicies,
      globalNetworkSets: lists.globalNetworkSets as PolicyInputs['globalNetworkSets'],
      namespaces: lists.namespaces,
      workloads,
      serviceEndpoints,
    },
    secrets,
  } as AgentSnapshot;
}

/** The Secrets the BGPPeers name, read one by one (calico-node may read only those). */
export async function secretsOf(client: KubeClient, namespace: string, peers: readonly Obj[]): Promise<Record<string, Record<string, string>>> {
  const names = new Set<string>();
  for (const p of peers) {
    const ref = (p.spec?.password as { secretKeyRef?: { name?: string } } | undefined)?.secretKeyRef;
    if (ref?.name) names.add(ref.name);
  }
  const out: Record<string, Record<string, string>> = {};
  for (const name of [...names].sort()) {
    const s = await client.find<{ data?: Record<string, string> }>(`/api/v1/namespaces/${namespace}/secrets/${name}`);
    if (!s) continue;
    out[name] = Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
  }
  return out;
}

/** A copy of every watched collection, each kept by its reflector. */
export class Datastore {
  private readonly reflectors: { readonly [K in keyof typeof WATCHED]: Reflector<Obj> };

  constructor(client: KubeClient, onChange: () => void, log: (line: string) => void) {
    const make = (path: string) => new Reflector<Obj>(client, path, onChange, { log });
    this.reflectors = Object.fromEntries(Object.entries(WATCHED).map(([k, path]) => [k, make(path)])) as Datastore['reflectors'];
  }

  /** Runs every reflector until `signal` aborts. */
  run(signal: AbortSignal): Promise<void> {
    // Each watch listens for the one abort: more than Node's default of 10 listeners, none leaked.
    setMaxListeners(Object.keys(WATCHED).length * 2 + 10, signal);
    return Promise.all(Object.values(this.reflectors).map((r) => r.run(signal))).then(() => undefined);
  }

  /** Whether every collection has been listed once. */
  get synced(): boolean {
    return Object.values(this.reflectors).every((r) => r.synced);
  }

  lists(): Lists {
    return Object.fromEntries(Object.entries(this.reflectors).map(([k, r]) => [k, r.items()])) as unknown as Lists;
  }
}
