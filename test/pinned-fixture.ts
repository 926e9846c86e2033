/**
 * What the tree is rendered from besides the spec, for tests that run
 * without `.cache/` (the unit tier): the pinned CRDs and Calico's templates
 * as the committed tree holds them (clusters/lab/flux-system/gotk-components.yaml, which CI's render
 * check and the integration tier compare with the pinned modules'), or two
 * small stand-ins for goldens that should not carry 140 kB of CRDs.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { crdsOfComponents } from '../lib/flux/components.js';
import type { KubeObject } from '../lib/kube/objects.js';
import { committedCalicoTemplates } from '../lib/render/read.js';
import type { PinnedInputs } from '../lib/render/tree.js';

const COMMITTED = 'clusters/lab/flux-system/gotk-components.yaml';

/** The pinned CRDs as committed. */
export function committedInputs(): PinnedInputs {
  return { calicoTemplates: committedCalicoTemplates(fileURLToPath(new URL('../', import.meta.url)), 'lab'), crds: crdsOfComponents(COMMITTED, readFileSync(fileURLToPath(new URL(`../${COMMITTED}`, import.meta.url)), 'utf8')) };
}

/** A bird6 template of the two lines the product extends, standing in for Calico's 20 kB of templates. */
export const FIXTURE_TEMPLATES: Readonly<Record<string, string>> = { 'bird6.cfg.template': '# Template for all BGP clients\ntemplate bgp bgp_template {\n}\n' };

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
export function fixtureInputs(): PinnedInputs {
  return { calicoTemplates: FIXTURE_TEMPLATES, crds: [crd('source.toolkit.fluxcd.io', 'GitRepository', 'gitrepositories'), crd('kustomize.toolkit.fluxcd.io', 'Kustomization', 'kustomizations')] };
}
