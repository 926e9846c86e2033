/**
 * Reading a cluster's rendered tree back from the repository, for what is
 * applied to a cluster directly rather than through Flux: the fabric (Calico
 * before Flux runs) and Flux's own objects (gotk-components.yaml and
 * gotk-sync.yaml). Each refuses a tree that is not what `npm run render`
 * writes.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from '../kube/objects.js';
import type { LoadedCluster } from '../plan/loaded.js';
import { BIRD_TEMPLATES_CONFIGMAP, pinnedTemplates } from './birdTemplates.js';
import { BIRD_TEMPLATES_FILE, clusterFiles, renderCluster, type PinnedInputs } from './tree.js';

function objectsOf(file: string): KubeObject[] {
  return parseAllDocuments(readFileSync(file, 'utf8'))
    .map((d) => d.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => !!o);
}

/**
 * Calico's pinned templates as a cluster's tree holds them
 * (clusters/<name>/fabric/bird-templates.yaml, the product's lines taken
 * out). CI's render check compares the committed tree with the pinned
 * release's files; a check here against the spec needs only these.
 */
export function committedCalicoTemplates(repoRoot: string, cluster: string): Record<string, string> {
  const file = join(repoRoot, 'clusters', cluster, 'fabric', BIRD_TEMPLATES_FILE);
  const cm = existsSync(file) ? objectsOf(file).find((o) => o.kind === 'ConfigMap' && o.metadata.name === BIRD_TEMPLATES_CONFIGMAP) : undefined;
  const data = cm?.data as Record<string, unknown> | undefined;
  if (!data || Object.values(data).some((v) => typeof v !== 'string')) throw new Error(`clusters/${cluster}/fabric/${BIRD_TEMPLATES_FILE} has no ConfigMap ${BIRD_TEMPLATES_CONFIGMAP} of templates: run npm run render`);
  return pinnedTemplates(data as Record<string, string>);
}

/** The fabric (clusters/<name>/fabric/*.yaml but its kustomization), checked against a fresh render. */
export function readFabric(repoRoot: string, cluster: LoadedCluster): KubeObject[] {
  const name = cluster.spec.name;
  const fresh = clusterFiles(cluster, committedCalicoTemplates(repoRoot, name)).filter((f) => f.path.startsWith(`clusters/${name}/fabric/`));
  for (const f of fresh) {
    const abs = join(repoRoot, f.path);
    if (!existsSync(abs) || readFileSync(abs, 'utf8') !== f.content) {
      throw new Error(`${f.path} is not what npm run render writes for ${cluster.sources.join(' and ')}: run npm run render`);
    }
  }
  const dir = join(repoRoot, 'clusters', name, 'fabric');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
    .sort()
    .flatMap((f) => objectsOf(join(dir, f)));
}

/** The sync objects of a cluster's tree (the GitRepository and the root Kustomization), as committed. */
export function readSyncObjects(repoRoot: string, cluster: string): KubeObject[] {
  const file = join(repoRoot, 'clusters', cluster, 'flux-system', 'gotk-sync.yaml');
  const objects = objectsOf(file);
  if (!objects.some((o) => o.kind === 'GitRepository') || !objects.some((o) => o.kind === 'Kustomization')) {
    throw new Error(`${file} has no GitRepository and root Kustomization: run npm run render`);
  }
  return objects;
}

/** Flux's own objects as the repository holds them: what a first bootstrap applies, so that the Flux it installs is the one in git. */
export interface FluxSystem {
  /** clusters/<name>/flux-system/gotk-components.yaml: CRDs, namespace, RBAC, the controllers' Deployments. */
  readonly components: KubeObject[];
  /** clusters/<name>/flux-system/gotk-sync.yaml: the GitRepository and the root Kustomization. */
  readonly sync: KubeObject[];
}

/**
 * clusters/<name>/flux-system/ as committed, checked against a fresh render
 * of the spec with the pinned controllers' CRDs (`flux`): a tree that an
 * upgrade of the pin has not been rendered into, or one edited by hand, is
 * refused (run npm run render), so what is installed is what Flux then
 * finds in git and keeps.
 */
export function readFluxSystem(repoRoot: string, cluster: LoadedCluster, flux: Pick<PinnedInputs, 'crds'>): FluxSystem {
  const dir = `clusters/${cluster.spec.name}/flux-system/`;
  for (const f of renderCluster(cluster, { ...flux, calicoTemplates: committedCalicoTemplates(repoRoot, cluster.spec.name) }).filter((x) => x.path.startsWith(dir))) {
    const abs = join(repoRoot, f.path);
    if (!existsSync(abs) || readFileSync(abs, 'utf8') !== f.content) {
      throw new Error(`${f.path} is not what npm run render writes for ${cluster.sources.join(' and ')} and the pinned Flux: run npm run render and commit it`);
    }
  }
  return { components: objectsOf(join(repoRoot, dir, 'gotk-components.yaml')), sync: readSyncObjects(repoRoot, cluster.spec.name) };
}
