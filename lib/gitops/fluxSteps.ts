/**
 * Apply's Flux steps, per platform:
 *
 * - bootstrap (first apply only: no flux-system GitRepository yet). The lab:
 *   its git server serves the remote apply pushed to, and Flux's controllers
 *   run as processes on the first control plane (lib/platforms/lab/flux.ts).
 *   Equinix Metal, through the first control plane (only it is up: the
 *   others join once the Service range is announced): Calico itself
 *   (calico.yaml of the pinned release, adjusted: lib/platforms/equinixMetal/
 *   calico.ts; CRDs first, waited for), the rendered fabric (BGP
 *   configuration, the BGPPeers, the password's RBAC) and the BGP password
 *   Secret — so the first node announces the Service range and the joins go
 *   through — then `flux install`'s objects with upstream's Deployments, then
 *   the tree's sync objects (clusters/<name>/flux-system/gotk-sync.yaml).
 *   Flux takes the fabric over from there (same objects, same content).
 * - wait: (the lab: the branch mirrored to its git server, which Flux reads)
 *   Flux asked to fetch now (`flux reconcile`), then every Kustomization
 *   Ready at the commit apply pushed (or the branch's head).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { BGP_SECRET, CALICO_NAMESPACE } from '../render/calico.js';
import { FLUX_NAMESPACE } from '../render/flux.js';
import { loadSpecFile } from '../repo/workspace.js';
import type { FluxContext } from './apply.js';
import { calicoInstallObjects, readCalicoManifest } from '../platforms/equinixMetal/calico.js';
import { applyFluxInstall, fluxInstallManifests, readFluxCrds, requestReconcile } from '../flux/install.js';
import { waitForKustomizations } from '../flux/status.js';
import { applyObjects, crdsEstablished, type KubeObject } from '../kube/objects.js';
import { retry } from './retry.js';
import { git } from './git.js';

export const FIELD_MANAGER = 'native6-apply';

/** The sync objects of a cluster's tree (the GitRepository and the root Kustomization). */
export function syncObjectsOf(repoRoot: string, cluster: string): KubeObject[] {
  const file = join(repoRoot, 'clusters', cluster, 'flux-system', 'gotk-sync.yaml');
  return parseAllDocuments(readFileSync(file, 'utf8'))
    .map((d) => d.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => o !== null);
}

/** The rendered fabric of a cluster (clusters/<name>/fabric/*.yaml but its kustomization). */
export function fabricObjects(repoRoot: string, cluster: string): KubeObject[] {
  const dir = join(repoRoot, 'clusters', cluster, 'fabric');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
    .sort()
    .flatMap((f) => parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d) => d.toJS() as KubeObject | null))
    .filter((o): o is KubeObject => o !== null);
}

async function fluxPresent(ctx: FluxContext): Promise<boolean> {
  return (await ctx.client.find(`/apis/source.toolkit.fluxcd.io/v1/namespaces/${FLUX_NAMESPACE}/gitrepositories/flux-system`)) !== undefined;
}

export async function bootstrapFlux(ctx: FluxContext): Promise<'installed' | 'present'> {
  if (await fluxPresent(ctx)) {
    ctx.log.info('Flux is installed: nothing to bootstrap');
    return 'present';
  }
  if (ctx.spec.platform === 'lab') {
    const { cluster } = loadSpecFile(ctx.repoRoot, ctx.spec.file);
    if (!cluster) throw new Error(`${ctx.spec.file} no longer loads`);
    const [{ createLabContext }, { ensureLabGitServer }, { installLabFlux }, { gitopsUrl }] = await Promise.all([
      import('../platforms/lab/lab.js'),
      import('../platforms/lab/gitServer.js'),
      import('../platforms/lab/flux.js'),
      import('../render/flux.js'),
    ]);
    const lab = createLabContext(ctx.repoRoot, cluster);
    const server = await ensureLabGitServer(lab, gitopsUrl(ctx.spec));
    ctx.log.info(`the lab's git server ${server.started ? 'started' : 'runs'}: ${server.url}`);
    const r = await installLabFlux(lab, ctx.client);
    ctx.log.info(`Flux installed in the lab: ${r.crds} CRDs, ${r.objects} objects, controllers on ${r.machine}`);
    return 'installed';
  }
  if (!ctx.bgpPassword) throw new Error(`the stack of ${ctx.spec.name} has no bgpPassword output: run apply again after up succeeds`);
  const nodes = ctx.machines;
  const secret: KubeObject = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: BGP_SECRET, namespace: CALICO_NAMESPACE },
    type: 'Opaque',
    stringData: Object.fromEntries(nodes.map((n) => [n, ctx.bgpPassword!])),
  } as KubeObject;
  await applyObjects(ctx.client, [secret], FIELD_MANAGER);
  const cacheDir = join(ctx.repoRoot, '.cache');
  const loaded = loadSpecFile(ctx.repoRoot, ctx.spec.file);
  if (!loaded.cluster) throw new Error(`${ctx.spec.file} no longer loads`);
  const calico = calicoInstallObjects(readCalicoManifest(cacheDir), ctx.spec, loaded.cluster.plan);
  const calicoCrds = calico.filter((o) => o.kind === 'CustomResourceDefinition');
  await applyObjects(ctx.client, calicoCrds, FIELD_MANAGER);
  await retry(
    async () => {
      if (!(await crdsEstablished(ctx.client, calicoCrds))) throw new Error('not Established yet');
    },
    { what: `Calico's ${calicoCrds.length} CRDs`, attempts: 12, initialMs: 1000, maxMs: 10_000, log: (l) => ctx.log.info(l) },
  );
  await applyObjects(ctx.client, calico.filter((o) => o.kind !== 'CustomResourceDefinition'), FIELD_MANAGER);
  const fabric = fabricObjects(ctx.repoRoot, ctx.spec.name);
  await applyObjects(ctx.client, fabric, FIELD_MANAGER);
  ctx.log.info(`Calico installed: ${calico.length} objects, and the fabric's ${fabric.length}`);
  const objects = fluxInstallManifests({ crds: readFluxCrds(cacheDir), controllers: 'deployments' });
  // CRDs first and Established before the objects of their kinds (the sync's GitRepository, Kustomization).
  await applyFluxInstall(ctx.client, objects, FIELD_MANAGER, syncObjectsOf(ctx.repoRoot, ctx.spec.name));
  ctx.log.info(`Flux installed: ${objects.length} objects and the sync of clusters/${ctx.spec.name}`);
  return 'installed';
}

export async function waitFlux(ctx: FluxContext, timeoutMs: number): Promise<string> {
  const head = await git(ctx.repoRoot, ['rev-parse', 'HEAD']);
  const revision = head.code === 0 ? head.stdout.trim() : undefined;
  if (ctx.spec.platform === 'lab') {
    // The lab's Flux reads the lab's git server: it mirrors the branch apply pushed.
    const { cluster } = loadSpecFile(ctx.repoRoot, ctx.spec.file);
    if (!cluster) throw new Error(`${ctx.spec.file} no longer loads`);
    const [{ createLabContext }, { ensureLabGitServer, pushToLabGitServer }, { gitopsUrl }] = await Promise.all([import('../platforms/lab/lab.js'), import('../platforms/lab/gitServer.js'), import('../render/flux.js')]);
    const lab = createLabContext(ctx.repoRoot, cluster);
    await ensureLabGitServer(lab, gitopsUrl(ctx.spec));
    const pushed = await pushToLabGitServer(lab, { from: ctx.repoRoot, branch: ctx.spec.gitops.branch, url: gitopsUrl(ctx.spec) });
    ctx.log.info(`mirrored ${pushed.commit.slice(0, 12)} to the lab's git server ${pushed.url} ${pushed.branch}`);
  }
  for (const o of syncObjectsOf(ctx.repoRoot, ctx.spec.name)) await requestReconcile(ctx.client, o);
  const states = await waitForKustomizations(ctx.client, { timeoutMs, log: (l) => ctx.log.info(l), ...(revision ? { revision } : {}) });
  return `${states.map((s) => s.name).join(', ')} at ${revision?.slice(0, 12) ?? 'the source head'}`;
}
