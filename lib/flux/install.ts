/**
 * Installing Flux on a cluster, whatever the platform.
 *
 * - fluxInstallManifests(): the objects that install Flux's source and
 *   kustomize controllers, as `flux install` of the pinned release lays
 *   them out (CRDs, the flux-system namespace, a ServiceAccount per
 *   controller, the crd-controller ClusterRole, cluster-admin for
 *   kustomize-controller, the source-controller Service, upstream's
 *   NetworkPolicies, the critical-pods quota) and, on the cloud, the
 *   controllers' Deployments from upstream's images. One pure function for
 *   both platforms (the lab's kubelet runs the same Deployments' pods with
 *   the built controllers for upstream's images); `controllers: 'processes'`
 *   leaves the Deployments out, for an API server with no kubelet
 *   (test/integration).
 * - applyFluxInstall(): the install, CRDs first and Established, then the
 *   rest, then the sync objects.
 * - requestReconcile(): what `flux reconcile` does: the
 *   reconcile.fluxcd.io/requestedAt annotation.
 *
 * readFluxCrds() is the one file-system edge: the CRDs `npm run setup`
 * copies from the controllers' modules (step flux:crds).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { KubeClient } from '../kube/client.js';
import { applyObjects, crdsEstablished, type KubeObject } from '../kube/objects.js';
import { waitUntil } from '../phases/wait.js';
import { FLUX_NAMESPACE } from '../render/flux.js';
import { FLUX_CONTROLLERS, fluxCrdDir, type FluxControllerPin } from '../toolchain/pins.js';
import { FLUX_VERSION } from '../toolchain/pins.js';

export { FLUX_NAMESPACE };

export type FluxControllerName = FluxControllerPin['name'];

// ------------------------------------------------------------------- install

/** Where and how one controller runs: what differs between a Deployment and a lab process. */
export interface ControllerPlacement {
  /** Leader election (upstream: on; the lab runs one process of each: off). */
  readonly leaderElection: boolean;
  /** --metrics-addr, --health-addr (upstream's defaults: ":8080", ":9440"). */
  readonly metricsAddr?: string;
  readonly healthAddr?: string;
  /** source-controller only: --storage-path, --storage-addr and the address kustomize-controller fetches artifacts from. */
  readonly storagePath?: string;
  readonly storageAddr?: string;
  readonly storageAdvAddr?: string;
  /** kustomize-controller only: --requeue-dependency, how often a Kustomization waiting on a dependency looks again (upstream: 30s). */
  readonly requeueDependency?: string;
}

/** Upstream's placement in a Deployment (what `flux install` writes). */
export const DEPLOYMENT_PLACEMENT: ControllerPlacement = {
  leaderElection: true,
  storagePath: '/data',
  storageAdvAddr: 'source-controller.$(RUNTIME_NAMESPACE).svc.cluster.local.',
};

/**
 * The controller's command-line arguments, as upstream's Deployment has
 * them (no --events-addr: no notification-controller is installed).
 */
export function fluxControllerArgs(name: FluxControllerName, at: ControllerPlacement): string[] {
  const args = ['--watch-all-namespaces=true', '--log-level=info', '--log-encoding=json', `--enable-leader-election=${at.leaderElection}`];
  if (at.metricsAddr) args.push(`--metrics-addr=${at.metricsAddr}`);
  if (at.healthAddr) args.push(`--health-addr=${at.healthAddr}`);
  if (name === 'kustomize-controller' && at.requeueDependency) args.push(`--requeue-dependency=${at.requeueDependency}`);
  if (name === 'source-controller') {
    if (!at.storagePath || !at.storageAdvAddr) throw new Error('source-controller needs a storage path and the address it advertises its artifacts at');
    args.push(`--storage-path=${at.storagePath}`);
    if (at.storageAddr) args.push(`--storage-addr=${at.storageAddr}`);
    args.push(`--storage-adv-addr=${at.storageAdvAddr}`);
  }
  return args;
}

export interface FluxInstallOptions {
  /** The controllers' CRDs (readFluxCrds()). */
  readonly crds: readonly KubeObject[];
  /** 'deployments' (the cloud: upstream's images) or 'processes' (the lab runs the built binaries itself). */
  readonly controllers: 'deployments' | 'processes';
  readonly namespace?: string;
  /** kustomize-controller's --requeue-dependency (upstream: 30s; the lab's short-lived clusters: 5s). */
  readonly requeueDependency?: string;
}

function pin(name: FluxControllerName): FluxControllerPin {
  const p = FLUX_CONTROLLERS.find((c) => c.name === name);
  if (!p) throw new Error(`no pin for ${name}`);
  return p;
}

const SECURITY_CONTEXT = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

function deployment(name: FluxControllerName, namespace: string, labels: (component?: string) => Record<string, string>, placement: ControllerPlacement): KubeObject {
  const source = name === 'source-controller';
  const p = pin(name);
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace, labels: { ...labels(name), 'control-plane': 'controller' } },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      ...(source ? { strategy: { type: 'Recreate' } } : {}),
      template: {
        metadata: { labels: { app: name, ...labels(name) }, annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '8080' } },
        spec: {
          serviceAccountName: name,
          priorityClassName: 'system-cluster-critical',
          terminationGracePeriodSeconds: source ? 10 : 60,
          securityContext: { fsGroup: 1337 },
          containers: [
            {
              name: 'manager',
              image: `${p.image}:${p.version}`,
              imagePullPolicy: 'IfNotPresent',
              securityContext: SECURITY_CONTEXT,
              ports: [
                ...(source ? [{ containerPort: 9090, name: 'http', protocol: 'TCP' }] : []),
                { containerPort: 8080, name: 'http-prom', protocol: 'TCP' },
                { containerPort: 9440, name: 'healthz', protocol: 'TCP' },
              ],
              env: [
                { name: 'RUNTIME_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
                ...(source ? [{ name: 'TUF_ROOT', value: '/tmp/.sigstore' }] : []),
                { name: 'GOMEMLIMIT', valueFrom: { resourceFieldRef: { containerName: 'manager', resource: 'limits.memory' } } },
              ],
              args: fluxControllerArgs(name, placement),
              livenessProbe: { httpGet: { port: 'healthz', path: '/healthz' } },
              readinessProbe: source ? { httpGet: { port: 'http', path: '/' } } : { httpGet: { port: 'healthz', path: '/readyz' } },
              resources: { limits: { cpu: '1000m', memory: '1Gi' }, requests: { cpu: source ? '50m' : '100m', memory: '64Mi' } },
              volumeMounts: source ? [{ name: 'data', mountPath: '/data' }, { name: 'tmp', mountPath: '/tmp' }] : [{ name: 'temp', mountPath: '/tmp' }],
            },
          ],
          volumes: source ? [{ name: 'data', emptyDir: {} }, { name: 'tmp', emptyDir: {} }] : [{ name: 'temp', emptyDir: {} }],
        },
      },
    },
  };
}

/**
 * Every object that installs Flux's source and kustomize controllers, in
 * apply order (CRDs first). Pure. Cluster-scoped names carry the namespace
 * as a suffix, as `flux install` names them.
 */
export function fluxInstallManifests(opts: FluxInstallOptions): KubeObject[] {
  const ns = opts.namespace ?? FLUX_NAMESPACE;
  const labels = (component?: string): Record<string, string> => ({
    ...(component ? { 'app.kubernetes.io/component': component } : {}),
    'app.kubernetes.io/instance': ns,
    'app.kubernetes.io/part-of': 'flux',
    'app.kubernetes.io/version': FLUX_VERSION,
  });
  const names = FLUX_CONTROLLERS.map((c) => c.name);
  const crds = [...opts.crds].map((c) => {
    if (c.kind !== 'CustomResourceDefinition') throw new Error(`${c.kind} ${c.metadata?.name} is not a CustomResourceDefinition`);
    return { ...c, metadata: { ...c.metadata, labels: { ...c.metadata.labels, ...labels() } } };
  });
  if (crds.length === 0) throw new Error('no Flux CRDs given: run npm run setup (step flux:crds) and read them with readFluxCrds()');
  const all = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'];
  const objects: KubeObject[] = [
    ...crds,
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: ns, labels: { ...labels(), 'pod-security.kubernetes.io/warn': 'restricted', 'pod-security.kubernetes.io/warn-version': 'latest' } },
    },
    ...names.map((name): KubeObject => ({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: ns, labels: labels(name) } })),
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: `crd-controller-${ns}`, labels: labels() },
      rules: [
        ...['source.toolkit.fluxcd.io', 'kustomize.toolkit.fluxcd.io'].map((g) => ({ apiGroups: [g], resources: ['*'], verbs: ['*'] })),
        { apiGroups: [''], resources: ['namespaces', 'secrets', 'configmaps', 'serviceaccounts'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
        // leader election
        { apiGroups: [''], resources: ['configmaps'], verbs: all },
        { apiGroups: [''], resources: ['configmaps/status'], verbs: ['get', 'update', 'patch'] },
        { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: all },
        // object-level workload identity
        { apiGroups: [''], resources: ['serviceaccounts/token'], verbs: ['create'] },
        // flow control
        { nonResourceURLs: ['/livez/ping'], verbs: ['head'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: `crd-controller-${ns}`, labels: labels() },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: `crd-controller-${ns}` },
      subjects: names.map((name) => ({ kind: 'ServiceAccount', name, namespace: ns })),
    },
    {
      // kustomize-controller applies whatever the repository holds: cluster-admin, as upstream.
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: `cluster-reconciler-${ns}`, labels: labels() },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
      subjects: [{ kind: 'ServiceAccount', name: 'kustomize-controller', namespace: ns }],
    },
    {
      apiVersion: 'v1',
      kind: 'ResourceQuota',
      metadata: { name: `critical-pods-${ns}`, namespace: ns, labels: labels() },
      spec: {
        hard: { pods: '1000' },
        scopeSelector: { matchExpressions: [{ operator: 'In', scopeName: 'PriorityClass', values: ['system-node-critical', 'system-cluster-critical'] }] },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'source-controller', namespace: ns, labels: { ...labels('source-controller'), 'control-plane': 'controller' } },
      spec: { type: 'ClusterIP', selector: { app: 'source-controller' }, ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 'http' }] },
    },
    {
      // The controllers reach git hosts and the API server, and each other (artifacts), under the zero-trust baseline.
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'allow-egress', namespace: ns, labels: labels() },
      spec: { policyTypes: ['Ingress', 'Egress'], ingress: [{ from: [{ podSelector: {} }] }], egress: [{}], podSelector: {} },
    },
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'allow-scraping', namespace: ns, labels: labels() },
      spec: { policyTypes: ['Ingress'], ingress: [{ from: [{ namespaceSelector: {} }], ports: [{ protocol: 'TCP', port: 8080 }] }], podSelector: {} },
    },
  ];
  const placement = opts.requeueDependency ? { ...DEPLOYMENT_PLACEMENT, requeueDependency: opts.requeueDependency } : DEPLOYMENT_PLACEMENT;
  if (opts.controllers === 'deployments') objects.push(...names.map((name) => deployment(name, ns, labels, placement)));
  return objects;
}

/** The CRDs `npm run setup` copied from the pinned controller modules (`<cache>/flux/crds/`), checked against the pins. */
export function readFluxCrds(cacheDir: string): KubeObject[] {
  const dir = fluxCrdDir(cacheDir);
  let manifest: { modules: Array<{ module: string; version: string; files: Array<{ name: string }> }> };
  try {
    manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as typeof manifest;
  } catch (e) {
    throw new Error(`no Flux CRDs in ${dir} (${(e as Error).message}): run npm run setup -- flux:crds`);
  }
  const out: KubeObject[] = [];
  for (const p of FLUX_CONTROLLERS) {
    const mod = manifest.modules.find((m) => m.module === p.module);
    if (mod?.version !== p.version) throw new Error(`${dir} holds ${p.module} ${mod?.version ?? '(none)'}, not the pinned ${p.version}: run npm run setup -- flux:crds`);
    for (const f of mod.files) {
      for (const doc of parseAllDocuments(readFileSync(join(dir, f.name), 'utf8'))) {
        const o = doc.toJS() as KubeObject | null;
        if (o?.kind === 'CustomResourceDefinition') out.push(o);
      }
    }
  }
  return out;
}

// --------------------------------------------------------------------- apply

/**
 * Applies `flux install`'s objects (fluxInstallManifests()) and then `after`
 * (the tree's sync objects): the CRDs first, then, once they are
 * Established (a GitRepository cannot be applied before), everything else.
 */
export async function applyFluxInstall(client: KubeClient, objects: readonly KubeObject[], fieldManager: string, after: readonly KubeObject[] = [], timeoutMs = 60_000): Promise<number> {
  const crds = objects.filter((o) => o.kind === 'CustomResourceDefinition');
  await applyObjects(client, crds, fieldManager);
  await waitUntil('the Flux CRDs Established', () => crdsEstablished(client, crds), { timeoutMs });
  await applyObjects(client, objects.filter((o) => o.kind !== 'CustomResourceDefinition'), fieldManager);
  await applyObjects(client, after, fieldManager);
  return objects.length + after.length;
}

/** What `flux reconcile` does: asks the controller to reconcile the object now. */
export async function requestReconcile(client: KubeClient, o: Pick<KubeObject, 'apiVersion' | 'kind' | 'metadata'>, at: Date = new Date()): Promise<void> {
  await client.mergePatch(await client.pathOf(o), { metadata: { annotations: { 'reconcile.fluxcd.io/requestedAt': at.toISOString() } } });
}
