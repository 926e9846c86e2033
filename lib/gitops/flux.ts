/**
 * Flux on a cluster, whatever the platform.
 *
 * - fluxInstallManifests(): the objects that install Flux's source and
 *   kustomize controllers, as `flux install` of the pinned release lays
 *   them out (CRDs, the flux-system namespace, a ServiceAccount per
 *   controller, the crd-controller ClusterRole, cluster-admin for
 *   kustomize-controller, the source-controller Service, upstream's
 *   NetworkPolicies, the critical-pods quota) and, on the cloud, the
 *   controllers' Deployments from upstream's images. One pure function for
 *   both platforms: the lab asks for `controllers: 'processes'` and runs the
 *   built binaries itself (lib/platforms/lab/flux.ts) with the same
 *   arguments (fluxControllerArgs()).
 * - applyObjects(): server-side apply of such a list, in order;
 *   applyFluxInstall(): the install, CRDs first and Established, then the
 *   rest, then the sync objects.
 * - waitForKustomizations(): resolves when every Kustomization in
 *   flux-system is Ready at its source's current revision; otherwise throws
 *   a FluxNotReadyError naming each Kustomization that is not, with its
 *   Ready reason and message (and its source's, when the source is what
 *   fails).
 * - requestReconcile(): what `flux reconcile` does: the
 *   reconcile.fluxcd.io/requestedAt annotation.
 *
 * readFluxCrds() is the one file-system edge: the CRDs `npm run setup`
 * copies from the controllers' modules (step flux:crds).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { KubeError, type KubeClient } from '../kube/client.js';
import { objectPath } from '../kube/paths.js';
import { FLUX_NAMESPACE } from '../render/flux.js';
import { FLUX_CONTROLLERS, fluxCrdDir, type FluxControllerPin } from '../toolchain/pins.js';
import { FLUX_VERSION } from '../validate/pins.js';

export { FLUX_NAMESPACE };

/** A Kubernetes object as applied: apiVersion, kind, metadata.name at least. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

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

function deployment(name: FluxControllerName, namespace: string, labels: (component?: string) => Record<string, string>): KubeObject {
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
              args: fluxControllerArgs(name, DEPLOYMENT_PLACEMENT),
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
  if (opts.controllers === 'deployments') objects.push(...names.map((name) => deployment(name, ns, labels)));
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

export { objectPath };

/** Server-side apply of each object, in order (forced: the applier owns what it applies). */
export async function applyObjects(client: KubeClient, objects: readonly KubeObject[], fieldManager: string): Promise<number> {
  for (const o of objects) await client.apply(objectPath(o), o, fieldManager);
  return objects.length;
}

/** True when every CRD of the list is Established (its resources can be applied). */
export async function crdsEstablished(client: KubeClient, crds: readonly KubeObject[]): Promise<boolean> {
  for (const c of crds) {
    const got = await client.find<{ status?: { conditions?: Condition[] } }>(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${c.metadata.name}`);
    if (!got?.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True')) return false;
  }
  return true;
}

/**
 * Applies `flux install`'s objects (fluxInstallManifests()) and then `after`
 * (the tree's sync objects): the CRDs first, then, once they are
 * Established (a GitRepository cannot be applied before), everything else.
 */
export async function applyFluxInstall(client: KubeClient, objects: readonly KubeObject[], fieldManager: string, after: readonly KubeObject[] = [], timeoutMs = 60_000): Promise<number> {
  const crds = objects.filter((o) => o.kind === 'CustomResourceDefinition');
  await applyObjects(client, crds, fieldManager);
  const deadline = Date.now() + timeoutMs;
  while (!(await crdsEstablished(client, crds))) {
    if (Date.now() > deadline) throw new Error(`the Flux CRDs are not Established after ${timeoutMs / 1000} s`);
    await new Promise((res) => setTimeout(res, 500));
  }
  await applyObjects(client, objects.filter((o) => o.kind !== 'CustomResourceDefinition'), fieldManager);
  await applyObjects(client, after, fieldManager);
  return objects.length + after.length;
}

/** What `flux reconcile` does: asks the controller to reconcile the object now. */
export async function requestReconcile(client: KubeClient, o: Pick<KubeObject, 'apiVersion' | 'kind' | 'metadata'>, at: Date = new Date()): Promise<void> {
  await client.mergePatch(objectPath(o), { metadata: { annotations: { 'reconcile.fluxcd.io/requestedAt': at.toISOString() } } });
}

// ---------------------------------------------------------------------- wait

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

interface FluxObject {
  metadata: { name: string; namespace?: string; generation?: number };
  spec?: { sourceRef?: { kind: string; name: string; namespace?: string; apiVersion?: string } };
  status?: { observedGeneration?: number; conditions?: Condition[]; lastAppliedRevision?: string; lastAttemptedRevision?: string; artifact?: { revision?: string } };
}

/** One Kustomization as waitForKustomizations() judges it. */
export interface KustomizationState {
  readonly name: string;
  readonly namespace: string;
  /** Ready condition: status, reason, message (undefined before the controller saw it). */
  readonly ready?: string;
  readonly reason?: string;
  readonly message?: string;
  readonly stalled: boolean;
  readonly lastAppliedRevision?: string;
  /** The source (kind namespace/name) and the revision of its current artifact. */
  readonly source: string;
  readonly sourceRevision?: string;
  /** The source's own Ready condition when it is not True. */
  readonly sourceProblem?: string;
  /** True when Ready=True for the current generation and the applied revision is the source's. */
  readonly reconciled: boolean;
}

function condition(o: FluxObject, type: string): Condition | undefined {
  return o.status?.conditions?.find((c) => c.type === type);
}

/** Judges one Kustomization against its source (pure). `revision`, when given, is the commit the source must have reached. */
export function kustomizationState(k: FluxObject, source: FluxObject | undefined, sourceName: string, revision?: string): KustomizationState {
  const ready = condition(k, 'Ready');
  const current = (k.status?.observedGeneration ?? -1) === (k.metadata.generation ?? 0);
  const sourceReady = source ? condition(source, 'Ready') : undefined;
  const sourceRevision = source?.status?.artifact?.revision;
  const atRevision = revision === undefined || (sourceRevision !== undefined && revisionIs(sourceRevision, revision));
  const sourceProblem = !source
    ? `${sourceName} not found`
    : sourceReady?.status !== 'True'
      ? `${sourceName} Ready=${sourceReady?.status ?? 'Unknown'}${sourceReady?.reason ? ` (${sourceReady.reason})` : ''}${sourceReady?.message ? `: ${sourceReady.message}` : ''}`
      : !atRevision
        ? `${sourceName} at ${sourceRevision ?? 'no revision'}, not yet at ${revision}`
        : undefined;
  const stalled = current && condition(k, 'Stalled')?.status === 'True';
  return {
    name: k.metadata.name,
    namespace: k.metadata.namespace ?? FLUX_NAMESPACE,
    ...(ready ? { ready: ready.status } : {}),
    ...(ready?.reason ? { reason: ready.reason } : {}),
    ...(ready?.message ? { message: ready.message } : {}),
    stalled,
    ...(k.status?.lastAppliedRevision ? { lastAppliedRevision: k.status.lastAppliedRevision } : {}),
    source: sourceName,
    ...(sourceRevision ? { sourceRevision } : {}),
    ...(sourceProblem ? { sourceProblem } : {}),
    reconciled: current && ready?.status === 'True' && atRevision && sourceRevision !== undefined && k.status?.lastAppliedRevision === sourceRevision,
  };
}

/** Flux writes revisions as `<branch>@sha1:<commit>` (older: `<branch>/<commit>`); a bare commit matches either. */
export function revisionIs(fluxRevision: string, want: string): boolean {
  if (fluxRevision === want) return true;
  const commit = /(?:@sha1:|@sha256:|\/)([0-9a-f]{40,64})$/.exec(fluxRevision)?.[1];
  return commit !== undefined && commit === want;
}

/** One line per Kustomization that is not reconciled: name, Ready status, reason and message, and the source's problem. */
export function describeStates(states: readonly KustomizationState[]): string {
  return states
    .filter((s) => !s.reconciled)
    .map((s) => {
      const why = s.ready === 'True' ? `Ready=True but applied ${s.lastAppliedRevision ?? 'nothing'}, source at ${s.sourceRevision ?? 'no revision'}` : `Ready=${s.ready ?? 'Unknown'}${s.reason ? ` (${s.reason})` : ''}${s.message ? `: ${s.message}` : ''}`;
      return `Kustomization ${s.namespace}/${s.name}${s.stalled ? ' [Stalled]' : ''}: ${why}${s.sourceProblem ? `; ${s.sourceProblem}` : ''}`;
    })
    .join('\n');
}

export class FluxNotReadyError extends Error {
  override name = 'FluxNotReadyError';
  constructor(
    message: string,
    /** Every Kustomization as last seen (the failing ones have reconciled: false). */
    readonly states: readonly KustomizationState[],
  ) {
    super(message);
  }
}

export interface WaitOptions {
  readonly timeoutMs: number;
  /** Between polls (default 2 s). */
  readonly pollMs?: number;
  readonly log?: (line: string) => void;
  /** Default flux-system. */
  readonly namespace?: string;
  /** A commit every Kustomization's source must have reached (e.g. what was just pushed). */
  readonly revision?: string;
}

const SOURCE_PLURALS: Readonly<Record<string, string>> = { GitRepository: 'gitrepositories', OCIRepository: 'ocirepositories', Bucket: 'buckets' };

async function observe(client: KubeClient, ns: string, revision: string | undefined): Promise<KustomizationState[]> {
  const list = await client.get<{ items: FluxObject[] }>(`/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/${ns}/kustomizations`);
  const sources = new Map<string, FluxObject | undefined>();
  const states: KustomizationState[] = [];
  for (const k of list.items.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))) {
    const ref = k.spec?.sourceRef;
    const refNs = ref?.namespace ?? k.metadata.namespace ?? ns;
    const key = ref ? `${ref.kind} ${refNs}/${ref.name}` : 'no sourceRef';
    if (ref && !sources.has(key)) {
      const plural = SOURCE_PLURALS[ref.kind];
      sources.set(key, plural ? await client.find<FluxObject>(`/apis/source.toolkit.fluxcd.io/v1/namespaces/${refNs}/${plural}/${ref.name}`) : undefined);
    }
    states.push(kustomizationState(k, sources.get(key), key, revision));
  }
  return states;
}

/**
 * Resolves with every Kustomization's state once each is Ready=True for its
 * current generation with its source's current revision applied (and that
 * revision is `revision`, when given). Throws FluxNotReadyError naming each
 * one that is not — its Ready reason and message, its source's problem —
 * at the timeout, or at once when one is Stalled (Flux gives up on it
 * until something changes). No Kustomization at all is not ready either.
 */
export async function waitForKustomizations(client: KubeClient, opts: WaitOptions): Promise<KustomizationState[]> {
  const ns = opts.namespace ?? FLUX_NAMESPACE;
  const log = opts.log ?? (() => undefined);
  const deadline = Date.now() + opts.timeoutMs;
  let states: KustomizationState[] = [];
  let lastError = '';
  let lastLine = '';
  for (;;) {
    try {
      states = await observe(client, ns, opts.revision);
      lastError = '';
    } catch (e) {
      // The CRDs may not be there yet, or the API server may be between leaders: keep asking until the timeout.
      lastError = e instanceof KubeError ? e.message : `${(e as Error).message}`;
    }
    const line = lastError || states.map((s) => `${s.name}=${s.reconciled ? 'ready' : s.ready === 'True' ? 'stale' : (s.reason ?? 'pending')}`).join(' ');
    if (line !== lastLine) log(`flux: ${line || 'no Kustomizations yet'}`);
    lastLine = line;
    if (!lastError && states.length > 0 && states.every((s) => s.reconciled)) return states;
    const stalled = states.filter((s) => s.stalled && !s.reconciled);
    if (stalled.length > 0) throw new FluxNotReadyError(`Flux gave up (Stalled):\n${describeStates(stalled)}`, states);
    if (Date.now() >= deadline) {
      const what = lastError ? `the Kustomizations could not be read: ${lastError}` : states.length === 0 ? `no Kustomization in ${ns}` : describeStates(states);
      throw new FluxNotReadyError(`Flux not reconciled after ${(opts.timeoutMs / 1000).toFixed(0)} s:\n${what}`, states);
    }
    await new Promise((res) => setTimeout(res, Math.min(opts.pollMs ?? 2000, Math.max(0, deadline - Date.now()))));
  }
}
