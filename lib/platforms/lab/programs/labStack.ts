/**
 * What the lab's Pulumi resource (../pulumi.ts) does, as plain functions,
 * loaded by path in Pulumi's own process: bring the lab of a spec up (the
 * same phases as `npm run lab`) and answer with the devices and the admin
 * kubeconfig; take it down.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { clusterNameOf, loadCluster } from '../../load.js';
import { formatProblem } from '../../../cluster/problems.js';
import type { Device } from '../../../cluster/devices.js';
import { createRunner } from '../../../exec/run.js';
import { createLabContext, labDown, runLabPhases } from '../lab.js';
import { labHostProblem } from '../host.js';
import { labDevices } from '../provider/metadata.js';
import { UP_PHASES } from '../phases.js';
import { LAB } from '../rules.js';
import { adminConf } from '../verify/probes.js';

export async function labStackUp(repoRoot: string, specFile: string): Promise<{ devices: Device[]; kubeconfig: string }> {
  const loaded = loadCluster(specFile, readFileSync(join(repoRoot, specFile), 'utf8'), { expectName: clusterNameOf(specFile) });
  if (!loaded.ok) throw new Error(loaded.problems.map(formatProblem).join('\n'));
  const { spec, plan } = loaded;
  if (spec.platform !== LAB) throw new Error(`${specFile}: spec.platform is "${spec.platform}", not ${LAB}`);
  const devices = labDevices(spec, plan);
  const ctx = createLabContext(repoRoot, { spec, plan, devices, sources: [specFile] });
  const host = labHostProblem(ctx.binDir);
  if (host) throw new Error(host);
  await runLabPhases(ctx, UP_PHASES, (p) => ctx.log(`${p.ok ? 'ok' : 'failed'} ${p.name}: ${p.note} (${(p.ms / 1000).toFixed(1)}s)`));
  return { devices, kubeconfig: readFileSync(adminConf(ctx), 'utf8') };
}

export async function labStackDown(repoRoot: string, cluster: string): Promise<void> {
  await labDown(createRunner(), repoRoot, cluster);
}
