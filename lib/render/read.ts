/**
 * Reading a cluster's rendered tree back from the repository, for what is
 * applied to a cluster directly rather than through Flux: the fabric (Calico
 * before Flux runs) and Flux's own sync objects. Each refuses a tree that is
 * not what `npm run render` writes.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from '../kube/objects.js';
import type { LoadedCluster } from '../plan/loaded.js';
import { renderCluster } from './tree.js';

function objectsOf(file: string): KubeObject[] {
  return parseAllDocuments(readFileSync(file, 'utf8'))
    .map((d) => d.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => !!o);
}

/** The fabric (clusters/<name>/fabric/*.yaml but its kustomization), checked against a fresh render. */
export function readFabric(repoRoot: string, cluster: LoadedCluster): KubeObject[] {
  const name = cluster.spec.name;
  const fresh = renderCluster(cluster).filter((f) => f.path.startsWith(`clusters/${name}/fabric/`));
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
