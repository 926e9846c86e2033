/**
 * Flux's own objects as the repository holds them, the way `flux bootstrap`
 * leaves a repository: clusters/<name>/flux-system/gotk-components.yaml
 * (every controller the product runs, CRDs included, from the pinned
 * release: lib/toolchain/pins.ts) beside gotk-sync.yaml. The root
 * Kustomization includes flux-system, so Flux applies its own objects from
 * git: an upgrade is a change of the pin, `npm run render` and a commit.
 *
 * - fluxComponents(): the objects of gotk-components.yaml for one cluster.
 *   Pure. The same objects the platforms install at the first bootstrap
 *   (fluxInstallManifests() with the same options), so Flux finds nothing
 *   to change when it first reconciles itself.
 * - crdsOfComponents(): the CRDs a rendered gotk-components.yaml holds (a
 *   committed tree read back, where no `.cache/` is at hand).
 */
import { parseAllDocuments } from 'yaml';
import type { ClusterSpec } from '../cluster/cluster.js';
import type { KubeObject } from '../kube/objects.js';
import { fluxInstallManifests } from './install.js';

/**
 * kustomize-controller's --requeue-dependency on the lab (upstream's
 * default, 30s, elsewhere): how often a Kustomization waiting on a
 * dependency looks again. The lab's Flux install uses the same value
 * (lib/platforms/lab/kubernetes/flux.ts), so that Flux, applying its own
 * objects from git, keeps it.
 */
export const LAB_REQUEUE_DEPENDENCY = '5s';

/** The one option of Flux's objects that differs by platform. */
export function fluxRequeueDependency(spec: Pick<ClusterSpec, 'platform'>): string | undefined {
  return spec.platform === 'lab' ? LAB_REQUEUE_DEPENDENCY : undefined;
}

/**
 * Every object of gotk-components.yaml for `spec`'s cluster, in apply order
 * (CRDs first, by name, so the file does not depend on the order the CRDs
 * were read in): `flux install`'s objects with the controllers'
 * Deployments from the pinned images (docker.io/fluxcd, which answers over
 * IPv6).
 */
export function fluxComponents(spec: Pick<ClusterSpec, 'platform'>, crds: readonly KubeObject[]): KubeObject[] {
  const sorted = [...crds].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0));
  const requeueDependency = fluxRequeueDependency(spec);
  return fluxInstallManifests({ crds: sorted, controllers: 'deployments', ...(requeueDependency ? { requeueDependency } : {}) });
}

/** The CustomResourceDefinitions of a gotk-components.yaml's text (`file` names it in errors). */
export function crdsOfComponents(file: string, text: string): KubeObject[] {
  const crds: KubeObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`${file}: not YAML (${doc.errors[0]!.message.split('\n')[0]}): run npm run render`);
    const o = doc.toJS() as KubeObject | null;
    if (o?.kind === 'CustomResourceDefinition') crds.push(o);
  }
  if (crds.length === 0) throw new Error(`${file} holds no CustomResourceDefinition: run npm run render`);
  return crds;
}
