/**
 * A throwaway lab cluster for tests and benchmarks: a spec written into a
 * temporary repository, with its tree rendered, so a lab can run without
 * touching the project's own clusters (or a lab the user has running).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LoadedCluster } from '../plan/loaded.js';
import { DEFAULT_CACHE_DIR } from '../toolchain/repo.js';
import { pinnedInputs, loadSpecFile, ownedDirs, renderAll, writeTree } from './workspace.js';
import { ProblemsError } from '../cluster/problems.js';

export interface ScratchCluster {
  readonly repo: string;
  readonly cluster: LoadedCluster;
  remove(): void;
}

/** `network`: more lines of spec.network, e.g. `{ bfd: 'false', holdTime: '180' }`. */
export function scratchCluster(name: string, shape: { controlPlanes: number; workers: number; block: string; network?: Readonly<Record<string, string>> }): ScratchCluster {
  const repo = mkdtempSync(join(tmpdir(), `n6-${name}-`));
  const spec = [
    'apiVersion: native6.dev/v1alpha1',
    'kind: Cluster',
    'metadata:',
    `  name: ${name}`,
    'spec:',
    '  platform: lab',
    '  kubernetesVersion: v1.35.4',
    '  controlPlane:',
    `    count: ${shape.controlPlanes}`,
    '  workers:',
    '    - name: w',
    `      count: ${shape.workers}`,
    '  network:',
    `    block: ${shape.block}`,
    '    externalIPRangeSize: 120',
    ...Object.entries(shape.network ?? {}).map(([k, v]) => `    ${k}: ${v}`),
    '',
  ].join('\n');
  mkdirSync(join(repo, 'infra'));
  writeFileSync(join(repo, `infra/${name}.yaml`), spec);
  const { cluster, problems } = loadSpecFile(repo, `infra/${name}.yaml`);
  if (!cluster) {
    rmSync(repo, { recursive: true, force: true });
    throw new ProblemsError(problems);
  }
  writeTree(repo, renderAll([cluster], pinnedInputs(DEFAULT_CACHE_DIR)), ownedDirs([cluster]));
  return { repo, cluster, remove: () => rmSync(repo, { recursive: true, force: true }) };
}
