/**
 * Apply's Flux steps:
 *
 * - bootstrap (first apply only: no flux-system GitRepository yet): the
 *   platform's first bring-up of Flux and of what must run before it
 *   (lib/platforms/<platform>/platform.ts).
 * - wait: the pushed branch published where Flux reads it (the platform's,
 *   when it has to: the lab mirrors it to its git server), Flux asked to
 *   fetch now (`flux reconcile`), then every Kustomization Ready at the
 *   commit apply pushed (or the branch's head).
 */
import { FLUX_NAMESPACE } from '../render/flux.js';
import { readSyncObjects } from '../render/read.js';
import { platformOf } from '../platforms/index.js';
import type { FluxContext } from './apply.js';
import { requestReconcile } from '../flux/install.js';
import { waitForKustomizations } from '../flux/status.js';
import { git } from '../repo/git.js';

async function fluxPresent(ctx: FluxContext): Promise<boolean> {
  return (await ctx.client.find(`/apis/source.toolkit.fluxcd.io/v1/namespaces/${FLUX_NAMESPACE}/gitrepositories/flux-system`)) !== undefined;
}

export async function bootstrapFlux(ctx: FluxContext): Promise<'installed' | 'present'> {
  if (await fluxPresent(ctx)) {
    ctx.log.info('Flux is installed: nothing to bootstrap');
    return 'present';
  }
  await platformOf(ctx.spec).bootstrap({
    repoRoot: ctx.repoRoot,
    cluster: ctx.cluster,
    machines: ctx.machines,
    client: ctx.client,
    log: ctx.log,
    ...(ctx.bgpPassword ? { bgpPassword: ctx.bgpPassword } : {}),
  });
  return 'installed';
}

export async function waitFlux(ctx: FluxContext, timeoutMs: number): Promise<string> {
  const head = await git(ctx.repoRoot, ['rev-parse', 'HEAD']);
  const revision = head.code === 0 ? head.stdout.trim() : undefined;
  await platformOf(ctx.spec).publish?.({ repoRoot: ctx.repoRoot, cluster: ctx.cluster, log: ctx.log });
  for (const o of readSyncObjects(ctx.repoRoot, ctx.spec.name)) await requestReconcile(ctx.client, o);
  const states = await waitForKustomizations(ctx.client, { timeoutMs, log: (l) => ctx.log.info(l), ...(revision ? { revision } : {}) });
  return `${states.map((s) => s.name).join(', ')} at ${revision?.slice(0, 12) ?? 'the source head'}`;
}
