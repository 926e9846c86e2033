/**
 * Flux objects for one cluster: the source (flux-system GitRepository and
 * its root Kustomization) and the chain fabric -> policies -> apps, each
 * pruned and waited on, each depending on the one before.
 */
import type { ClusterSpec } from '../cluster/cluster.js';
import type { Manifest } from './yaml.js';

export const FLUX_NAMESPACE = 'flux-system';

export interface Stage {
  readonly name: 'fabric' | 'policies' | 'apps';
  /** Path inside the repository, as Flux wants it (./...). */
  readonly path: string;
  readonly dependsOn?: string;
}

export function stages(spec: ClusterSpec): Stage[] {
  return [
    { name: 'fabric', path: `./clusters/${spec.name}/fabric` },
    { name: 'policies', path: './policies/baseline', dependsOn: 'fabric' },
    { name: 'apps', path: `./clusters/${spec.name}/apps`, dependsOn: 'policies' },
  ];
}

export function fluxSync(spec: ClusterSpec): Manifest[] {
  return [
    {
      apiVersion: 'source.toolkit.fluxcd.io/v1',
      kind: 'GitRepository',
      metadata: { name: 'flux-system', namespace: FLUX_NAMESPACE },
      // A private repository: the Secret's name only; its content is created in the cluster, never rendered.
      spec: {
        interval: '1m',
        ref: { branch: spec.gitops.branch },
        ...(spec.gitops.secretRef ? { secretRef: { name: spec.gitops.secretRef } } : {}),
        url: spec.gitops.url,
        // Signed commits only: the one at the branch's HEAD, checked against the Secret's keys before anything is applied.
        ...(spec.gitops.verify ? { verify: { mode: 'HEAD', secretRef: { name: spec.gitops.verify.secretRef } } } : {}),
      },
    },
    {
      apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
      kind: 'Kustomization',
      metadata: { name: 'flux-system', namespace: FLUX_NAMESPACE },
      spec: {
        interval: spec.gitops.interval,
        path: `./clusters/${spec.name}`,
        prune: true,
        sourceRef: { kind: 'GitRepository', name: 'flux-system' },
      },
    },
  ];
}

export function fluxKustomization(spec: ClusterSpec, stage: Stage): Manifest {
  return {
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
    kind: 'Kustomization',
    metadata: { name: stage.name, namespace: FLUX_NAMESPACE },
    spec: {
      ...(stage.dependsOn ? { dependsOn: [{ name: stage.dependsOn }] } : {}),
      interval: spec.gitops.interval,
      retryInterval: '1m',
      timeout: '5m',
      path: stage.path,
      prune: true,
      wait: true,
      sourceRef: { kind: 'GitRepository', name: 'flux-system' },
    },
  };
}

/** A kustomize build file (not an API object): what a directory contains. */
export function kustomization(resources: readonly string[], patches: readonly string[] = []): Manifest {
  return {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    resources: [...resources],
    ...(patches.length > 0 ? { patches: patches.map((path) => ({ path })) } : {}),
  };
}
