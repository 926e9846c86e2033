/**
 * What the lab's Pulumi resource (pulumi.ts) does, as plain functions: bring
 * the lab of a spec up (the same phases as `npm run lab`) and answer with the
 * provider facts and the admin kubeconfig; take it down.
 */
import { readFileSync } from 'node:fs';
import { loadSpecFile } from '../../repo/workspace.js';
import { formatProblem } from '../../spec/problems.js';
import type { Device } from '../../spec/devices.js';
import { createRunner } from './exec.js';
import { createLabContext, labDown, runLabPhases } from './lab.js';
import { labDevices } from './metadata.js';
import { UP_PHASES } from './phases.js';
import { adminConf } from './verify/probes.js';

export async function labStackUp(repoRoot: string, specFile: string): Promise<{ devices: Device[]; kubeconfig: string }> {
  const { cluster, problems } = loadSpecFile(repoRoot, specFile);
  if (!cluster) throw new Error(problems.map(formatProblem).join('\n'));
  if (cluster.spec.platform !== 'lab') throw new Error(`${specFile}: spec.platform is "${cluster.spec.platform}", not lab`);
  if (process.getuid?.() !== 0) throw new Error('the lab makes network namespaces and must run as root');
  const ctx = createLabContext(repoRoot, cluster);
  await runLabPhases(ctx, UP_PHASES, (p) => ctx.log(`${p.ok ? 'ok' : 'failed'} ${p.name}: ${p.note} (${(p.ms / 1000).toFixed(1)}s)`));
  return { devices: labDevices(cluster.spec, cluster.plan), kubeconfig: readFileSync(adminConf(ctx), 'utf8') };
}

export async function labStackDown(repoRoot: string, cluster: string): Promise<void> {
  await labDown(createRunner(), repoRoot, cluster);
}
