/**
 * A first bootstrap's Flux from the repository: the cluster's
 * clusters/<name>/flux-system/ as committed (gotk-components.yaml, then
 * gotk-sync.yaml), checked against a fresh render with the pinned CRDs, so
 * that the Flux installed is the one in git, which Flux then keeps applying
 * to itself. An upgrade needs no bootstrap: the pin changed, a render and a
 * commit, and Flux applies its new objects from git.
 *
 * What a platform's bootstrap calls in place of fluxInstallManifests() and
 * readSyncObjects() (Equinix Metal: lib/platforms/equinixMetal/platform.ts;
 * the lab: installLabFlux()).
 */
import type { KubeClient } from '../kube/client.js';
import type { LoadedCluster } from '../plan/loaded.js';
import { readFluxSystem } from '../render/read.js';
import { applyFluxInstall, readFluxCrds } from './install.js';

export interface FluxFromRepository {
  /** Objects of gotk-components.yaml and of gotk-sync.yaml applied. */
  readonly components: number;
  readonly sync: number;
}

/**
 * Applies clusters/<name>/flux-system/ as committed: the CRDs first and
 * Established, the rest of gotk-components.yaml, then gotk-sync.yaml.
 * Refuses a folder that is not what `npm run render` writes from the pin
 * (`cacheDir`: the CRDs `npm run setup -- flux:crds` copied).
 */
export async function installFluxFromRepository(client: KubeClient, repoRoot: string, cluster: LoadedCluster, cacheDir: string, fieldManager: string, timeoutMs?: number): Promise<FluxFromRepository> {
  const { components, sync } = readFluxSystem(repoRoot, cluster, { crds: readFluxCrds(cacheDir) });
  await applyFluxInstall(client, components, fieldManager, sync, timeoutMs);
  return { components: components.length, sync: sync.length };
}
