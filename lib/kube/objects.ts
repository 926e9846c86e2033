/**
 * Kubernetes objects as this project applies them: the object's shape,
 * server-side apply of a list in order, and whether CRDs are Established.
 * One place for what apply's bootstraps, Flux's install and the lab's Calico
 * datastore all do.
 */
import type { KubeClient } from './client.js';

/** A Kubernetes object as applied: apiVersion, kind, metadata.name at least. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

/** Server-side apply of each object, in order (forced: the applier owns what it applies). */
export async function applyObjects(client: KubeClient, objects: readonly KubeObject[], fieldManager: string): Promise<number> {
  for (const o of objects) await client.apply(await client.pathOf(o), o, fieldManager);
  return objects.length;
}

/** True when every CRD of the list is Established (its resources can be applied). */
export async function crdsEstablished(client: KubeClient, crds: ReadonlyArray<{ metadata: { name: string } }>): Promise<boolean> {
  for (const c of crds) {
    const got = await client.find<{ status?: { conditions?: Array<{ type: string; status: string }> } }>(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${c.metadata.name}`);
    if (!got?.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True')) return false;
  }
  return true;
}
