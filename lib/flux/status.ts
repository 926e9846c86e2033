/**
 * Flux's state on a cluster: waitForKustomizations() resolves when every
 * Kustomization in flux-system is Ready at its source's current revision;
 * otherwise it throws a FluxNotReadyError naming each Kustomization that is
 * not, with its Ready reason and message (and its source's, when the source
 * is what fails).
 */
import { KubeError, type KubeClient } from '../kube/client.js';
import { FLUX_NAMESPACE } from '../render/flux.js';

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
