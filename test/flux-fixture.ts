/**
 * What Flux's own objects are rendered from, for tests that run without
 * `.cache/` (the unit tier): the pinned CRDs as the committed tree holds
 * them (clusters/lab/flux-system/gotk-components.yaml, which CI's render
 * check and the integration tier compare with the pinned modules'), or two
 * small stand-ins for goldens that should not carry 140 kB of CRDs.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { crdsOfComponents } from '../lib/flux/components.js';
import type { KubeObject } from '../lib/kube/objects.js';
import type { FluxRenderInputs } from '../lib/render/tree.js';

const COMMITTED = 'clusters/lab/flux-system/gotk-components.yaml';

/** The pinned CRDs as committed. */
export function committedFlux(): FluxRenderInputs {
  return { crds: crdsOfComponents(COMMITTED, readFileSync(fileURLToPath(new URL(`../${COMMITTED}`, import.meta.url)), 'utf8')) };
}

function crd(group: string, kind: string, plural: string): KubeObject {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${group}` },
    spec: {
      group,
      names: { kind, listKind: `${kind}List`, plural, singular: kind.toLowerCase() },
      scope: 'Namespaced',
      versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
    },
  };
}

/** Two small CRDs standing in for the pinned ones (given out of name order, as a reader might). */
export function fixtureFlux(): FluxRenderInputs {
  return { crds: [crd('source.toolkit.fluxcd.io', 'GitRepository', 'gitrepositories'), crd('kustomize.toolkit.fluxcd.io', 'Kustomization', 'kustomizations')] };
}
