/**
 * Calico on Equinix Metal: upstream's all-in-one manifest for the
 * Kubernetes API datastore (`manifests/calico.yaml` of Calico v3.28.5, copied
 * by `npm run setup -- calico:manifest`) adjusted for an IPv6-only cluster
 * with no overlay and no NAT. apply installs these objects through the first
 * control plane's API right after `kubeadm init`, before Flux: Flux's own
 * pods need the pod network.
 *
 * calicoInstallObjects() is pure: the same objects in give the same objects
 * out, in upstream's order, with our IPPool last. readCalicoManifest() is
 * the file-system edge. Every refusal names the file and what is wrong.
 *
 * What changes, and where each comes from (Calico v3.28.5's source in the
 * pinned module, and its docs, calico_versioned_docs/version-3.28 of
 * tigera/docs):
 *
 * - calico-node: IP=none, IP6=autodetect, FELIX_IPV6SUPPORT=true,
 *   CALICO_ROUTER_ID=hash (docs networking/ipam/ipv6.mdx, "Enable IPv6
 *   only"; BIRD needs a 32-bit router ID and an IPv6-only node has no IPv4
 *   address to take it from: confd's bird6.cfg.template `router id {{if eq
 *   "hash" ($router_id)}}{{hashToIPv4 $node_name}}`).
 *   CALICO_NETWORKING_BACKEND=bird, as a value rather than upstream's
 *   reference to calico-config (which says "bird" too).
 * - IP6_AUTODETECTION_METHOD=can-reach=fc00::e: the address the node uses
 *   to reach the provider's IPv6 BGP router, which is the address the
 *   provider expects the session from (the neighbor's customer_ip, the
 *   device's public /127 on bond0; a wrong source address is a known
 *   provider bug class). node/pkg/lifecycle/startup/autodetection/
 *   reachaddr.go opens a UDP socket towards it (no packet is sent) and takes
 *   the kernel's source address, which must be on an interface. On Equinix
 *   Metal that is bond0's public address whether the /128 route the boot
 *   script adds (via the gateway on bond0) or the default route (also bond0)
 *   answers, and it does not depend on the interface's name or on the order
 *   of addresses on it. interface=^bond0$ would work on Equinix's Ubuntu
 *   images too, but takes the first global address on bond0 in enumeration
 *   order (an Elastic IP added there could win) and breaks on images that
 *   name the bond otherwise. The upstream IPv4 IP_AUTODETECTION_METHOD is
 *   dropped.
 * - The pod pool is ours: NO_DEFAULT_POOLS=true, CALICO_IPV6POOL_CIDR and
 *   every CALICO_IPV4POOL_* removed. Without NO_DEFAULT_POOLS calico-node
 *   creates an IPv4 pool whenever none exists, whatever IP says
 *   (startup.go configureIPPools: `if !ipv4Present { createIPPool(...) }`,
 *   natOutgoing true by default). With it, CALICO_IPV6POOL_CIDR must be
 *   absent: startup.go:741 terminates calico-node on "NO_DEFAULT_POOLS
 *   defined and CALICO_IPV4POOL_CIDR or CALICO_IPV6POOL_CIDR defined". The
 *   pool is lib/render/calico.ts ipPool(plan) (the plan's CIDR, the spec's
 *   block size, IPIP/VXLAN Never, natOutgoing false), the same object the
 *   fabric renders for Flux, appended here because without any pool no pod
 *   gets an address and Flux could never apply the fabric's.
 *   CALICO_IPV6POOL_BLOCK_SIZE (the spec's podBlockSize),
 *   CALICO_IPV6POOL_NAT_OUTGOING=false and CALICO_IPV6POOL_VXLAN=Never say
 *   the same; calico-node reads them only when it creates a default pool,
 *   which NO_DEFAULT_POOLS stops. CALICO_IPV6POOL_IPIP is not set: Calico
 *   never reads it (IPv6 pools are made with IPIPModeNever, startup.go).
 * - FELIX_IPINIPENABLED=false, FELIX_VXLANENABLED=false (Felix's
 *   IpInIpEnabled and VXLANEnabled, felix/config/config_params.go; FELIX_*
 *   variables map to them case-insensitively), and the IPIP and VXLAN MTU
 *   variables that only matter for tunnels go.
 * - Probes: -bird6-live and -bird6-ready in place of -bird-live and
 *   -bird-ready (node/pkg/health/health.go: the bird ones look at BIRD for
 *   IPv4, which carries no session here, and would call a node ready whose
 *   IPv6 sessions with the provider are down).
 * - The CNI configuration in calico-config: Calico IPAM with
 *   `"assign_ipv4": "false", "assign_ipv6": "true"` (ipv6.mdx, step "Edit
 *   the CNI config"; cni-plugin/pkg/types/types.go AssignIpv4/AssignIpv6),
 *   and the portmap plugin's `"snat": false`: hostPorts still work (a
 *   destination translation the pod asked for), but no hairpin connection
 *   has its source rewritten; nothing in the fabric translates a pod's
 *   source address.
 *
 * The API endpoint. calico-node, its init containers and the CNI plugin
 * reach the API through KUBERNETES_SERVICE_HOST/PORT: rest.InClusterConfig
 * in calico-node, and the kubeconfig install-cni writes for the CNI plugin
 * (cni-plugin/pkg/install/install.go writeKubeconfig: `server:
 * __KUBERNETES_SERVICE_PROTOCOL__://[__KUBERNETES_SERVICE_HOST__]:__KUBERNETES_SERVICE_PORT__`,
 * protocol https by default, so the value is a bare address; calico-node
 * rewrites that file from the same variables when it refreshes the token,
 * node/pkg/cni/token_watch.go). They are set explicitly, on every
 * container of calico-node and calico-kube-controllers, to the `kubernetes`
 * Service's ClusterIP and port 443 (where every API server listens too,
 * lib/render/kubeadm.ts), overriding both the kubelet's injected values and
 * the optional `kubernetes-services-endpoint` ConfigMap upstream reads
 * through envFrom (explicit env wins over envFrom). This works at every
 * moment without a route to the ClusterIP from outside the node:
 *
 * - on the first control plane, before anything is announced, the
 *   bootstrap translation (lib/render/apiBootstrap.ts, nftables output and
 *   prerouting hooks) sends ClusterIP:443 to its own API server, for
 *   host-network programs (calico-node, the CNI plugin run by the kubelet)
 *   and for pods alike, until kube-proxy serves the ClusterIP, which it
 *   then does on the node itself; connections keep their translation
 *   across the handover;
 * - every other node joins only once the first control plane's Calico
 *   announces the Service range (its kubeadm join goes to the ClusterIP),
 *   so the ClusterIP is routed before its calico-node starts, and its own
 *   kube-proxy takes over locally.
 *
 * Not the node's own address (status.hostIP): only control planes run an
 * API server and a DaemonSet has one template. Not the first control
 * plane's address: it would be written into every node's CNI kubeconfig and
 * outlive that machine.
 *
 * Also dropped: `metadata.creationTimestamp: null` on three CRDs (the API
 * server ignores it). Images stay what the manifest names
 * (docker.io/calico/*:v3.28.5); an image of any other release is refused.
 */
import { EQUINIX_METAL } from './rules.js';
import { readFileSync } from 'node:fs';
import { LineCounter, parseAllDocuments } from 'yaml';
import type { KubeObject } from '../../kube/objects.js';
import { formatAddress } from '../../net/ipv6.js';
import type { AddressPlan } from '../../plan/addressPlan.js';
import { CALICO_NAMESPACE, CALICO_NODE_SERVICE_ACCOUNT, ipPool } from '../../render/calico.js';
import { API_SERVER_PORT } from '../../render/kubeadm.js';
import type { ClusterSpec } from '../../cluster/cluster.js';
import { CALICO_MANIFEST, calicoManifestFile, readCalicoManifestRecord } from '../../toolchain/calicoManifest.js';

/** What the objects are, for messages when no file path is given. */
export const CALICO_UPSTREAM = `${CALICO_MANIFEST.path} of Calico ${CALICO_MANIFEST.productVersion}`;

/** Equinix Metal's IPv6 multihop BGP router (its pair is fc00::f). */
export const METAL_BGP_PEER = 'fc00::e';
export const IP6_AUTODETECTION_METHOD = `can-reach=${METAL_BGP_PEER}`;

/** The CNI IPAM section of an IPv6-only cluster. */
export const IPV6_ONLY_IPAM = { type: 'calico-ipam', assign_ipv4: 'false', assign_ipv6: 'true' } as const;

export const CALICO_NODE = 'calico-node';
export const CALICO_CONFIG = 'calico-config';
export const KUBE_CONTROLLERS = 'calico-kube-controllers';
export const INSTALL_CNI = 'install-cni';

export class CalicoManifestError extends Error {
  override name = 'CalicoManifestError';
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: unknown;
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The API endpoint every Calico container is given (see the header). */
export function apiEndpointEnv(plan: AddressPlan): EnvVar[] {
  return [
    { name: 'KUBERNETES_SERVICE_HOST', value: formatAddress(plan.apiServer) },
    { name: 'KUBERNETES_SERVICE_PORT', value: String(API_SERVER_PORT) },
  ];
}

/** calico-node's variables set here, in the order they are added when upstream lacks them. */
export function calicoNodeEnv(spec: ClusterSpec, plan: AddressPlan): EnvVar[] {
  return [
    ...apiEndpointEnv(plan),
    { name: 'CALICO_NETWORKING_BACKEND', value: 'bird' },
    { name: 'IP', value: 'none' },
    { name: 'IP6', value: 'autodetect' },
    { name: 'IP6_AUTODETECTION_METHOD', value: IP6_AUTODETECTION_METHOD },
    { name: 'CALICO_ROUTER_ID', value: 'hash' },
    { name: 'FELIX_IPV6SUPPORT', value: 'true' },
    { name: 'NO_DEFAULT_POOLS', value: 'true' },
    { name: 'CALICO_IPV6POOL_BLOCK_SIZE', value: String(spec.network.podBlockSize) },
    { name: 'CALICO_IPV6POOL_NAT_OUTGOING', value: 'false' },
    { name: 'CALICO_IPV6POOL_VXLAN', value: 'Never' },
    { name: 'FELIX_IPINIPENABLED', value: 'false' },
    { name: 'FELIX_VXLANENABLED', value: 'false' },
  ];
}

/** calico-node variables removed: IPv4 pools and detection, the pool CIDR NO_DEFAULT_POOLS forbids, tunnel MTUs, a variable Calico never reads. */
export function droppedCalicoNodeEnv(name: string): boolean {
  return (
    name.startsWith('CALICO_IPV4POOL_') ||
    ['IP_AUTODETECTION_METHOD', 'CALICO_IPV6POOL_CIDR', 'CALICO_IPV6POOL_IPIP', 'FELIX_IPINIPMTU', 'FELIX_VXLANMTU'].includes(name)
  );
}

// ------------------------------------------------------------ CNI template

// install-cni fills placeholders like __CNI_MTU__ in by text, some of them
// outside quotes: the template is JSON only once they are quoted.
const MARK = 'n6-bare-placeholder:';
const BARE = /(^|[^"\w])(__[A-Z][A-Z0-9_]*__)(?=[^"\w]|$)/g;
const MARKED = new RegExp(`"${MARK}(__[A-Z][A-Z0-9_]*__)"`, 'g');

/** Calico's CNI configuration template (calico-config's cni_network_config) as data; bare placeholders become marked strings. */
export function parseCniTemplate(text: string): unknown {
  if (text.includes(MARK)) throw new Error(`the template already holds "${MARK}"`);
  return JSON.parse(text.replace(BARE, (_m, pre: string, token: string) => `${pre}"${MARK}${token}"`));
}

/** The inverse of parseCniTemplate: JSON, two-space indented, bare placeholders bare again. */
export function formatCniTemplate(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(MARKED, '$1');
}

function ipv6CniConfig(text: unknown, where: string): string {
  if (typeof text !== 'string') throw new CalicoManifestError(`${where}: data.cni_network_config is missing or not a string`);
  let conf: unknown;
  try {
    conf = parseCniTemplate(text);
  } catch (e) {
    throw new CalicoManifestError(`${where}: data.cni_network_config is not a CNI configuration template (${(e as Error).message})`);
  }
  const plugins = isObj(conf) ? conf.plugins : undefined;
  if (!Array.isArray(plugins) || !plugins.every(isObj)) throw new CalicoManifestError(`${where}: data.cni_network_config has no "plugins" list of objects`);
  const calico = plugins.filter((p) => p.type === 'calico');
  if (calico.length !== 1) throw new CalicoManifestError(`${where}: data.cni_network_config has ${calico.length} plugins of type "calico"; expected one`);
  calico[0]!.ipam = { ...IPV6_ONLY_IPAM };
  for (const p of plugins) if (p.type === 'portmap') p.snat = false;
  return formatCniTemplate(conf);
}

// ----------------------------------------------------------------- objects

function describe(o: KubeObject): string {
  return `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;
}

function checkShape(upstream: readonly unknown[], source: string): KubeObject[] {
  if (!Array.isArray(upstream) || upstream.length === 0) throw new CalicoManifestError(`${source}: no objects`);
  upstream.forEach((o, i) => {
    const meta = isObj(o) ? o.metadata : undefined;
    if (!isObj(o) || typeof o.apiVersion !== 'string' || typeof o.kind !== 'string' || !isObj(meta) || typeof meta.name !== 'string' || meta.name === '') {
      throw new CalicoManifestError(`${source}: object ${i + 1} is not a Kubernetes object with apiVersion, kind and metadata.name`);
    }
  });
  return upstream as KubeObject[];
}

function theOne(objects: readonly KubeObject[], source: string, apiVersion: string, kind: string, name: string): KubeObject {
  const found = objects.filter((o) => o.kind === kind && o.metadata.name === name);
  if (found.length === 0) {
    const kinds = [...new Set(objects.map((o) => o.kind))].sort().join(', ');
    throw new CalicoManifestError(`${source}: no ${kind} named ${name} (it holds ${objects.length} objects: ${kinds})`);
  }
  if (found.length > 1) throw new CalicoManifestError(`${source}: ${found.length} objects are ${kind} ${name}; expected one`);
  const o = found[0]!;
  if (o.apiVersion !== apiVersion) throw new CalicoManifestError(`${source}: ${describe(o)} is ${o.apiVersion}; expected ${apiVersion}`);
  if (o.metadata.namespace !== CALICO_NAMESPACE) {
    throw new CalicoManifestError(`${source}: ${describe(o)} is not in ${CALICO_NAMESPACE}, where the fabric's RBAC for the BGP passwords expects Calico (lib/render/calico.ts)`);
  }
  return o;
}

function podSpec(o: KubeObject, source: string): Obj {
  const spec = o.spec;
  const template = isObj(spec) ? spec.template : undefined;
  const pod = isObj(template) ? template.spec : undefined;
  if (!isObj(pod) || !Array.isArray(pod.containers)) throw new CalicoManifestError(`${source}: ${describe(o)} has no spec.template.spec.containers`);
  return pod;
}

function containersOf(pod: Obj, field: 'containers' | 'initContainers', o: KubeObject, source: string): Obj[] {
  const list = pod[field] ?? [];
  if (!Array.isArray(list) || !list.every((c) => isObj(c) && typeof c.name === 'string')) {
    throw new CalicoManifestError(`${source}: ${describe(o)} spec.template.spec.${field} is not a list of named containers`);
  }
  return list as Obj[];
}

function container(list: readonly Obj[], name: string, field: string, o: KubeObject, source: string): Obj {
  const c = list.find((x) => x.name === name);
  if (!c) throw new CalicoManifestError(`${source}: ${describe(o)} has no ${field} named ${name} (it has ${list.map((x) => String(x.name)).join(', ') || 'none'})`);
  return c;
}

function envOf(c: Obj, o: KubeObject, source: string): EnvVar[] {
  c.env ??= [];
  if (!Array.isArray(c.env) || !c.env.every((e) => isObj(e) && typeof e.name === 'string')) {
    throw new CalicoManifestError(`${source}: ${describe(o)} container ${String(c.name)} has an env that is not a list of named variables`);
  }
  return c.env as EnvVar[];
}

/** Sets a variable to a value: in place of the first entry of that name (every other entry of it removed), or appended. */
function setEnv(env: EnvVar[], v: EnvVar): void {
  const at = env.findIndex((e) => e.name === v.name);
  for (let i = env.length - 1; i >= 0; i--) if (env[i]!.name === v.name) env.splice(i, 1);
  if (at < 0) env.push({ ...v });
  else env.splice(at, 0, { ...v });
}

function checkImages(list: readonly Obj[], o: KubeObject, source: string): void {
  for (const c of list) {
    const image = c.image;
    if (typeof image !== 'string' || !image.endsWith(`:${CALICO_MANIFEST.productVersion}`)) {
      throw new CalicoManifestError(`${source}: ${describe(o)} container ${String(c.name)} runs ${String(image)}, not the pinned Calico ${CALICO_MANIFEST.productVersion}`);
    }
  }
}

/** Swaps a probe's BIRD (IPv4) flag for the BIRD6 one. */
function bird6Probe(c: Obj, field: 'livenessProbe' | 'readinessProbe', v4: string, v6: string, o: KubeObject, source: string): void {
  const probe = c[field];
  const exec = isObj(probe) ? probe.exec : undefined;
  const command = isObj(exec) ? exec.command : undefined;
  if (!Array.isArray(command) || !command.every((x) => typeof x === 'string')) {
    throw new CalicoManifestError(`${source}: ${describe(o)} container ${String(c.name)} has no ${field}.exec.command to check BIRD6 with`);
  }
  const next = (command as string[]).map((x) => (x === v4 ? v6 : x));
  if (!next.includes(v6)) next.push(v6);
  (exec as Obj).command = next;
}

/**
 * Upstream's objects (the parsed calico.yaml) adjusted for an IPv6-only
 * Equinix Metal cluster with no overlay and no NAT, plus the cluster's pod
 * IPPool (see the header). `source` names the file in messages.
 */
export function calicoInstallObjects(upstream: readonly KubeObject[], spec: ClusterSpec, plan: AddressPlan, source: string = CALICO_UPSTREAM): KubeObject[] {
  if (spec.platform !== EQUINIX_METAL) {
    throw new CalicoManifestError(`${spec.file}: Calico's install objects are for equinix-metal clusters; ${spec.name} is on platform ${spec.platform} (the lab runs its own stand-ins for calico-node)`);
  }
  if (!plan.resolved) {
    throw new CalicoManifestError(`${spec.file}: spec.network.block names only a size; the pod pool and the API ClusterIP need the block itself`);
  }
  const objects = structuredClone(checkShape(upstream, source));
  // Three of upstream's CRDs (bgpfilters, caliconodestatuses, ipreservations:
  // controller-gen output) carry `creationTimestamp: null`; the API server
  // ignores it, the strict schema check refuses a null. Dropped.
  for (const o of objects) {
    const meta = o.metadata as Obj;
    if (meta.creationTimestamp === null) delete meta.creationTimestamp;
  }

  const pools = objects.filter((o) => o.kind === 'IPPool');
  if (pools.length > 0) throw new CalicoManifestError(`${source}: declares ${pools.map(describe).join(', ')}; the pod pool must be the fabric's only`);
  if (!objects.some((o) => o.kind === 'CustomResourceDefinition' && o.metadata.name === 'ippools.crd.projectcalico.org')) {
    throw new CalicoManifestError(`${source}: no CustomResourceDefinition ippools.crd.projectcalico.org, which the pod IPPool needs`);
  }

  // calico-node.
  const ds = theOne(objects, source, 'apps/v1', 'DaemonSet', CALICO_NODE);
  const dsPod = podSpec(ds, source);
  if (dsPod.serviceAccountName !== CALICO_NODE_SERVICE_ACCOUNT) {
    throw new CalicoManifestError(`${source}: ${describe(ds)} runs as service account ${String(dsPod.serviceAccountName)}; the fabric's RBAC for the BGP passwords names ${CALICO_NODE_SERVICE_ACCOUNT}`);
  }
  const dsContainers = containersOf(dsPod, 'containers', ds, source);
  const dsInit = containersOf(dsPod, 'initContainers', ds, source);
  checkImages([...dsInit, ...dsContainers], ds, source);
  container(dsInit, INSTALL_CNI, 'init container', ds, source); // writes the CNI plugin's kubeconfig
  const node = container(dsContainers, CALICO_NODE, 'container', ds, source);
  const nodeEnv = envOf(node, ds, source).filter((e) => !droppedCalicoNodeEnv(e.name));
  for (const v of calicoNodeEnv(spec, plan)) setEnv(nodeEnv, v);
  node.env = nodeEnv;
  bird6Probe(node, 'livenessProbe', '-bird-live', '-bird6-live', ds, source);
  bird6Probe(node, 'readinessProbe', '-bird-ready', '-bird6-ready', ds, source);
  for (const c of [...dsInit, ...dsContainers]) {
    if (c === node) continue;
    const env = envOf(c, ds, source);
    for (const v of apiEndpointEnv(plan)) setEnv(env, v);
  }

  // calico-kube-controllers.
  const kc = theOne(objects, source, 'apps/v1', 'Deployment', KUBE_CONTROLLERS);
  const kcContainers = containersOf(podSpec(kc, source), 'containers', kc, source);
  checkImages(kcContainers, kc, source);
  for (const c of kcContainers) {
    const env = envOf(c, kc, source);
    for (const v of apiEndpointEnv(plan)) setEnv(env, v);
  }

  // The CNI configuration.
  const cm = theOne(objects, source, 'v1', 'ConfigMap', CALICO_CONFIG);
  if (!isObj(cm.data)) throw new CalicoManifestError(`${source}: ${describe(cm)} has no data`);
  cm.data.calico_backend = 'bird';
  cm.data.cni_network_config = ipv6CniConfig(cm.data.cni_network_config, `${source}: ${describe(cm)}`);

  objects.push(ipPool(plan) as KubeObject);
  return objects;
}

/**
 * The objects of the manifest `npm run setup -- calico:manifest` copied,
 * after checking it is the pinned module's file, unchanged. Throws naming
 * the file, the document and its line when a document is not a Kubernetes
 * object.
 */
export function readCalicoManifest(cacheDir: string): KubeObject[] {
  readCalicoManifestRecord(cacheDir);
  const file = calicoManifestFile(cacheDir);
  const text = readFileSync(file, 'utf8');
  const lines = new LineCounter();
  const out: KubeObject[] = [];
  let index = 0;
  for (const doc of parseAllDocuments(text, { lineCounter: lines, uniqueKeys: true })) {
    index++;
    const line = lines.linePos(doc.contents?.range?.[0] ?? doc.range[0]).line;
    if (doc.errors.length > 0) throw new CalicoManifestError(`${file}: document ${index} (line ${line}): ${doc.errors[0]!.message.split('\n')[0]}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    const meta = isObj(value) ? value.metadata : undefined;
    if (!isObj(value) || typeof value.apiVersion !== 'string' || typeof value.kind !== 'string' || !isObj(meta) || typeof meta.name !== 'string') {
      throw new CalicoManifestError(`${file}: document ${index} (line ${line}) is not a Kubernetes object with apiVersion, kind and metadata.name`);
    }
    out.push(value as KubeObject);
  }
  if (out.length === 0) throw new CalicoManifestError(`${file}: holds no objects`);
  return out;
}
