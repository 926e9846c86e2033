/**
 * Calico on the kubeadm platforms (equinix-metal and metal, whose machines
 * run the product's own bootstrap; the lab runs its own stand-ins for
 * calico-node and is refused): upstream's all-in-one manifest for the
 * Kubernetes API datastore (`manifests/calico.yaml` of Calico v3.28.5, copied
 * by `npm run setup -- calico:manifest`, read and checked by
 * calicoUpstream.ts) adjusted for an IPv6-only cluster with no overlay and
 * no NAT. apply installs these objects through the first control plane's
 * API right after `kubeadm init`, before Flux: Flux's own pods need the pod
 * network (kubeadmCluster.ts bootstrapCalicoAndFlux).
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
 * - IP6_AUTODETECTION_METHOD, the platform's: the node's address must be
 *   the one its routers expect the BGP session from, and the DaemonSet has
 *   one template for every node. Equinix Metal: can-reach=fc00::e, its BGP
 *   router, the same for every device (equinixMetal/calico.ts). metal:
 *   kubernetes-internal-ip, the Node's InternalIP, which is the kubelet's
 *   node-ip, which is spec.machines[].address (machines on different
 *   uplinks have different routers, and no searched-for address is sure to
 *   be the spec's one: metal/calico.ts). The upstream IPv4
 *   IP_AUTODETECTION_METHOD is dropped.
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
 * The BIRD templates (issue #17). calico-node's confd renders BIRD's
 * configuration from the templates in /etc/calico/confd/templates
 * (CONFD_TEMPLATES_DIR: calico-node's -confd-confdir, /etc/calico/confd by
 * default, and confd/pkg/run/run.go's `templates` under it; each
 * template_resource names its template there, and confd parses it again at
 * every render, resource.go createStageFile). The templates the product
 * extends (BFD and the hold time in bird6.cfg.template) are the fabric's
 * ConfigMap BIRD_TEMPLATES_CONFIGMAP (lib/render/birdTemplates.ts), in
 * calico-node's own namespace; calico-node gets a volume of it and a
 * read-only mount over that folder. A volume mount replaces the whole
 * folder (the image's templates are hidden, not merged), which is why the
 * ConfigMap carries every template of the pinned release, unchanged but
 * for bird6.cfg.template; a mount of the one file (subPath) would keep the
 * others but never see the ConfigMap change. The volume is not optional:
 * until the ConfigMap exists, calico-node's pods wait (ContainerCreating)
 * instead of running BIRD without the sessions' BFD and hold time; apply's
 * bootstrap applies the fabric right after these objects, and Flux keeps
 * it. An upstream manifest that already has a volume of that name, or a
 * mount at (or under) that folder, is refused. A changed ConfigMap reaches the mounted files through the
 * kubelet; confd renders when its data change, not its templates, so the
 * new templates take effect at its next render or calico-node's restart.
 *
 * Also dropped: `metadata.creationTimestamp: null` on three CRDs (the API
 * server ignores it). Images stay what the manifest names
 * (docker.io/calico/*:v3.28.5); an image of any other release is refused.
 */
import type { KubeObject } from '../kube/objects.js';
import { formatAddress } from '../net/ipv6.js';
import type { AddressPlan } from '../plan/addressPlan.js';
import { BIRD_TEMPLATES_CONFIGMAP, CONFD_TEMPLATES_DIR } from '../render/birdTemplates.js';
import { CALICO_NODE_SERVICE_ACCOUNT, ipPool } from '../render/calico.js';
import { API_SERVER_PORT } from '../render/kubeadm.js';
import type { ClusterSpec } from '../cluster/cluster.js';
import {
  CALICO_UPSTREAM,
  CalicoManifestError,
  checkImages,
  checkShape,
  container,
  containersOf,
  describe,
  envOf,
  formatCniTemplate,
  isObj,
  parseCniTemplate,
  podSpec,
  setEnv,
  theOne,
  type EnvVar,
  type Obj,
} from './calicoUpstream.js';
import { EQUINIX_METAL_IP6_AUTODETECTION } from './equinixMetal/calico.js';
import { EQUINIX_METAL } from './equinixMetal/rules.js';
import { METAL_IP6_AUTODETECTION } from './metal/calico.js';
import { METAL } from './metal/rules.js';

export { CALICO_UPSTREAM, CalicoManifestError, readCalicoManifest, type EnvVar } from './calicoUpstream.js';

/** The CNI IPAM section of an IPv6-only cluster. */
export const IPV6_ONLY_IPAM = { type: 'calico-ipam', assign_ipv4: 'false', assign_ipv6: 'true' } as const;

export const CALICO_NODE = 'calico-node';
export const CALICO_CONFIG = 'calico-config';
export const KUBE_CONTROLLERS = 'calico-kube-controllers';
export const INSTALL_CNI = 'install-cni';
/** calico-node's volume of the BIRD templates ConfigMap (named as the ConfigMap). */
export const BIRD_TEMPLATES_VOLUME = BIRD_TEMPLATES_CONFIGMAP;

/**
 * calico-node's IP6_AUTODETECTION_METHOD, the platform's (see the header);
 * refused for any platform this install is not for.
 */
export function ip6Autodetection(spec: ClusterSpec): string {
  if (spec.platform === EQUINIX_METAL) return EQUINIX_METAL_IP6_AUTODETECTION;
  if (spec.platform === METAL) return METAL_IP6_AUTODETECTION;
  throw new CalicoManifestError(`${spec.file}: Calico's install objects are for ${EQUINIX_METAL} and ${METAL} clusters; ${spec.name} is on platform ${spec.platform} (the lab runs its own stand-ins for calico-node)`);
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
    { name: 'IP6_AUTODETECTION_METHOD', value: ip6Autodetection(spec) },
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

// ----------------------------------------------------------- calico-node

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

/** A list field of an object, each entry an object with a string `key` (made an empty list when absent). */
function namedList(owner: Obj, field: string, key: string, what: string, source: string): Obj[] {
  owner[field] ??= [];
  const list = owner[field];
  if (!Array.isArray(list) || !list.every((x) => isObj(x) && typeof x[key] === 'string')) throw new CalicoManifestError(`${source}: ${what} ${field} is not a list of objects with a ${key}`);
  return list as Obj[];
}

const trimSlash = (path: string): string => path.replace(/\/+$/, '');

/** The BIRD templates ConfigMap as a volume of calico-node's pod, mounted read-only over confd's templates folder (see the header). */
function mountBirdTemplates(pod: Obj, node: Obj, ds: KubeObject, source: string): void {
  const volumes = namedList(pod, 'volumes', 'name', `${describe(ds)} spec.template.spec`, source);
  const mounts = namedList(node, 'volumeMounts', 'mountPath', `${describe(ds)} container ${CALICO_NODE}`, source);
  const named = volumes.find((v) => v.name === BIRD_TEMPLATES_VOLUME);
  if (named) throw new CalicoManifestError(`${source}: ${describe(ds)} already has a volume named ${BIRD_TEMPLATES_VOLUME}, the name of the BIRD templates' volume`);
  const dir = trimSlash(CONFD_TEMPLATES_DIR);
  const clash = mounts.find((m) => m.name === BIRD_TEMPLATES_VOLUME || trimSlash(String(m.mountPath)) === dir || String(m.mountPath).startsWith(`${dir}/`));
  if (clash) {
    throw new CalicoManifestError(
      `${source}: ${describe(ds)} container ${CALICO_NODE} already mounts ${String(clash.name)} at ${String(clash.mountPath)}, where the BIRD templates (${BIRD_TEMPLATES_VOLUME} at ${CONFD_TEMPLATES_DIR}) go`,
    );
  }
  volumes.push({ name: BIRD_TEMPLATES_VOLUME, configMap: { name: BIRD_TEMPLATES_CONFIGMAP } });
  mounts.push({ name: BIRD_TEMPLATES_VOLUME, mountPath: CONFD_TEMPLATES_DIR, readOnly: true });
}

/**
 * Upstream's objects (the parsed calico.yaml) adjusted for an IPv6-only
 * cluster on equinix-metal or metal with no overlay and no NAT, calico-node
 * reading the fabric's BIRD templates, plus the cluster's pod IPPool (see
 * the header). `source` names the file in messages.
 */
export function calicoInstallObjects(upstream: readonly KubeObject[], spec: ClusterSpec, plan: AddressPlan, source: string = CALICO_UPSTREAM): KubeObject[] {
  ip6Autodetection(spec); // refuses any other platform before anything else is looked at
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
  mountBirdTemplates(dsPod, node, ds, source); // theOne checked the namespace: the ConfigMap's (BIRD_TEMPLATES_NAMESPACE)
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
