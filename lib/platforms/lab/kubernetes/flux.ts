/**
 * Flux, for real, in the lab: `flux install`'s objects as on the cloud
 * (lib/flux/install.ts, the Deployments with upstream's images), whose
 * pods the lab's kubelets run with the source-controller and
 * kustomize-controller `npm run setup` builds from their modules at the
 * images' version (lib/platforms/lab/machine/kubelet/images.ts): pods with
 * addresses from Calico's blocks, their ServiceAccount tokens, the
 * cluster's DNS. Then the sync objects the tree holds
 * (clusters/<name>/flux-system/gotk-sync.yaml: the GitRepository on the
 * git host the spec names, by default the lab's IPv4-only one, reached as
 * a real cluster reaches github.com: DNS64 and NAT64) and Flux reconciles
 * clusters/<name>/ from git into the API server. kustomize-controller
 * fetches its artifacts from source-controller's Service by its cluster
 * DNS name, as upstream's Deployment says.
 *
 * The one change from upstream's Deployments: kustomize-controller looks
 * at a Kustomization's dependencies again every 5 s instead of 30 s, which
 * is all that separates the chain's three applies (about 0.6 s each here).
 *
 * FLUX_PHASES (git server, push, install, reconciled) follow the lab's
 * bring-up phases; they are idempotent like them.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { KubeClient } from '../../../kube/client.js';
import { applyFluxInstall, FLUX_NAMESPACE, readFluxCrds, requestReconcile } from '../../../flux/install.js';
import { waitForKustomizations, type KustomizationState } from '../../../flux/status.js';
import { applyObjects } from '../../../kube/objects.js';
import { waitUntil } from '../../../phases/wait.js';
import { readFluxSystem, readSyncObjects } from '../../../render/read.js';
import { FLUX_CONTROLLERS, fluxBinary } from '../../../toolchain/pins.js';
import { FIELD_MANAGER } from './calicoInstall.js';
import { ensureLabGitServer, pushToLabGitServer } from '../provider/gitServer.js';
import type { LabContext, Phase } from '../lab.js';
import { labAdminClient } from '../verify/probes.js';

function cacheDir(ctx: LabContext): string {
  return join(ctx.binDir, '..');
}


interface DeploymentStatus {
  metadata: { generation?: number };
  spec: { replicas?: number };
  status?: { observedGeneration?: number; updatedReplicas?: number; availableReplicas?: number; unavailableReplicas?: number };
}

interface PodStatus {
  metadata: { name: string; labels?: Record<string, string> };
  spec: { nodeName?: string };
  status: { phase?: string; podIP?: string; containerStatuses?: Array<{ state?: { waiting?: { reason?: string; message?: string } } }> };
}

/** Whether the Deployment's pods of its current generation are all available (what `kubectl rollout status` waits for). */
export function rolledOut(d: DeploymentStatus): boolean {
  const want = d.spec.replicas ?? 1;
  const s = d.status ?? {};
  return (s.observedGeneration ?? 0) >= (d.metadata.generation ?? 1) && (s.updatedReplicas ?? 0) >= want && (s.availableReplicas ?? 0) >= want && (s.unavailableReplicas ?? 0) === 0;
}

/** The controller's pods, as "name on node (phase, address or why waiting)". */
async function podsOf(client: KubeClient, app: string): Promise<PodStatus[]> {
  return (await client.get<{ items: PodStatus[] }>(`/api/v1/namespaces/${FLUX_NAMESPACE}/pods?labelSelector=${encodeURIComponent(`app=${app}`)}`)).items;
}

function describePods(pods: readonly PodStatus[]): string {
  if (pods.length === 0) return 'no pod yet';
  return pods
    .map((p) => {
      const waiting = p.status.containerStatuses?.[0]?.state?.waiting;
      return `${p.metadata.name} on ${p.spec.nodeName ?? '(unscheduled)'}: ${p.status.phase ?? '?'}${p.status.podIP ? ` ${p.status.podIP}` : ''}${waiting ? ` (${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''})` : ''}`;
    })
    .join('; ');
}

export interface LabFluxInstall {
  readonly crds: number;
  readonly objects: number;
  /** Each controller's pod: "name on node address". */
  readonly pods: string[];
}

/**
 * Installs Flux into the running lab (idempotent) from the repository's
 * clusters/<name>/flux-system/, as a first bootstrap does: CRDs (waited for
 * until Established), the rest of gotk-components.yaml with the
 * controllers' Deployments, waited for until rolled out, then gotk-sync.yaml.
 */
export async function installLabFlux(ctx: LabContext, client: KubeClient = labAdminClient(ctx)): Promise<LabFluxInstall> {
  for (const p of FLUX_CONTROLLERS) {
    if (!existsSync(fluxBinary(cacheDir(ctx), p.name))) throw new Error(`${fluxBinary(cacheDir(ctx), p.name)} is missing: run npm run setup -- bin:flux`);
  }
  const crds = readFluxCrds(cacheDir(ctx));
  // Flux as the repository holds it (clusters/<name>/flux-system/, refused unless it is what render
  // writes from the pin): the same objects Flux then applies to itself from git.
  const { components: objects, sync } = readFluxSystem(ctx.repoRoot, ctx.cluster, { crds });
  await applyFluxInstall(client, objects, FIELD_MANAGER);
  const pods: string[] = [];
  for (const p of FLUX_CONTROLLERS) {
    await waitUntil(
      `${p.name}'s Deployment rolled out (logs: ${join(ctx.paths.logs, `<node>.${FLUX_NAMESPACE}.<pod>.log`)})`,
      async (look) => {
        const d = await client.get<DeploymentStatus>(`/apis/apps/v1/namespaces/${FLUX_NAMESPACE}/deployments/${p.name}`);
        look.seen(describePods(await podsOf(client, p.name)));
        return rolledOut(d);
      },
      { timeoutMs: 180_000 },
    );
    pods.push(...(await podsOf(client, p.name)).filter((x) => x.status.phase === 'Running').map((x) => `${x.metadata.name} on ${x.spec.nodeName} ${x.status.podIP}`));
  }
  await applyObjects(client, sync, FIELD_MANAGER);
  return { crds: crds.length, objects: objects.length + sync.length, pods };
}

/** Asks Flux to fetch the source and reconcile the root Kustomization now (after a push), as `flux reconcile` does. */
export async function requestLabReconcile(ctx: LabContext, client: KubeClient = labAdminClient(ctx)): Promise<void> {
  for (const o of readSyncObjects(ctx.repoRoot, ctx.cluster.spec.name)) await requestReconcile(client, o);
}

/** The commit pushed to the lab's git server by the push phase, per lab context. */
const pushed = new WeakMap<LabContext, string>();

export const FLUX_PHASES: readonly Phase[] = [
  {
    name: 'git server',
    async run(ctx) {
      const s = await ensureLabGitServer(ctx, ctx.cluster.spec.gitops.url);
      return `${s.started ? 'started' : 'running'}: ${s.url} (in ${s.ns})`;
    },
  },
  {
    name: 'git push',
    async run(ctx) {
      const res = await pushToLabGitServer(ctx, { from: ctx.repoRoot, branch: ctx.cluster.spec.gitops.branch, url: ctx.cluster.spec.gitops.url });
      pushed.set(ctx, res.commit);
      return `${ctx.repoRoot} HEAD ${res.commit.slice(0, 12)} -> ${res.url} ${res.branch}`;
    },
  },
  {
    name: 'Flux',
    async run(ctx) {
      const r = await installLabFlux(ctx);
      return `${r.crds} CRDs, ${r.objects} objects; pods ${r.pods.join(', ')}`;
    },
  },
  {
    name: 'Flux reconciled',
    async run(ctx) {
      const client = labAdminClient(ctx);
      await requestLabReconcile(ctx, client);
      const commit = pushed.get(ctx);
      const states: KustomizationState[] = await waitForKustomizations(client, { timeoutMs: 300_000, log: ctx.log, ...(commit ? { revision: commit } : {}) });
      return `${states.map((s) => s.name).join(', ')} Ready at ${states[0]?.sourceRevision ?? '?'}`;
    },
  },
];

/** The managers of an object's fields (metadata.managedFields), e.g. to show that kustomize-controller applied it. */
export async function fieldManagers(client: KubeClient, path: string): Promise<string[]> {
  const o = await client.get<{ metadata?: { managedFields?: Array<{ manager?: string; operation?: string }> } }>(path);
  return [...new Set((o.metadata?.managedFields ?? []).map((f) => `${f.manager ?? '?'}${f.operation ? ` (${f.operation})` : ''}`))].sort();
}
