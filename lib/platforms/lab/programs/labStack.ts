/**
 * What the lab's Pulumi resource (../pulumi.ts) does, as plain functions,
 * loaded by path in Pulumi's own process: bring the lab of a spec up (the
 * same phases as `npm run lab`) and answer with the devices and the admin
 * kubeconfig; take it down.
 *
 * The lab's machinery is the provider's side (Equinix Metal's API and data
 * centre, for the other platform): it runs in the host's network namespace,
 * where the lab's links are. A Pulumi process started elsewhere (apply run
 * from the lab's runner namespace, which has IPv4 only) is told where that
 * is (N6_LAB_HOST_PID: a process on the host), hands the work to a process
 * of this file in that process's network and mount namespaces (`nsenter
 * --target <pid> --net --mount`: `ip netns exec` gave the runner's
 * processes a mount namespace of their own, in which the machines' mount
 * namespaces cannot be kept), and reads its answer from a file.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
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

type StackUp = { devices: Device[]; kubeconfig: string };

/** Where the lab's machinery runs (a process on the host), when this process is told and is somewhere else. */
export const HOST_PID_ENV = 'N6_LAB_HOST_PID';

/** The host process (HOST_PID_ENV) when this process is not in its network and mount namespaces; undefined otherwise. */
function awayFromHost(): string | undefined {
  const pid = process.env[HOST_PID_ENV];
  if (!pid) return undefined;
  if (!/^[1-9][0-9]*$/.test(pid)) throw new Error(`${HOST_PID_ENV}="${pid}" is not a process ID`);
  const same = (ns: string) => readlinkSync(`/proc/self/ns/${ns}`) === readlinkSync(`/proc/${pid}/ns/${ns}`);
  return same('net') && same('mnt') ? undefined : pid;
}

/** Runs this file's `op` in the host process's network and mount namespaces; its answer (JSON) comes back through a file. */
async function inHostNamespace(hostPid: string, op: 'up' | 'down', repoRoot: string, arg: string): Promise<unknown> {
  const dir = mkdtempSync(join(tmpdir(), 'n6-lab-stack-'));
  const answer = join(dir, 'answer.json');
  try {
    await new Promise<void>((resolve, reject) => {
      const child = execFile('nsenter', ['--target', hostPid, '--net', '--mount', `--wd=${repoRoot}`, '--', process.execPath, '--import', 'tsx', fileURLToPath(import.meta.url), op, repoRoot, arg, answer], { cwd: repoRoot, maxBuffer: 64 * 1024 * 1024 }, (error, _stdout, stderr) => {
        if (error) reject(new Error(`lab ${op} in the host's network namespace failed: ${stderr.trim().split('\n').slice(-20).join('\n') || error.message}`));
        else resolve();
      });
      // The lab's progress, as if it ran here.
      child.stdout?.pipe(process.stderr);
    });
    return JSON.parse(readFileSync(answer, 'utf8')) as unknown;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function labStackUp(repoRoot: string, specFile: string): Promise<StackUp> {
  const away = awayFromHost();
  if (away) return (await inHostNamespace(away, 'up', repoRoot, specFile)) as StackUp;
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
  const away = awayFromHost();
  if (away) {
    await inHostNamespace(away, 'down', repoRoot, cluster);
    return;
  }
  await labDown(createRunner(), repoRoot, cluster);
}

// Run as a program (by inHostNamespace): labStack.ts up|down <repoRoot> <specFile|cluster> <answer file>.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [op, repoRoot, arg, answer] = process.argv.slice(2) as [string, string, string, string];
  const run = op === 'up' ? labStackUp(repoRoot, arg) : op === 'down' ? labStackDown(repoRoot, arg).then(() => ({})) : Promise.reject(new Error(`labStack.ts: unknown operation ${op}`));
  run.then(
    (r) => writeFileSync(answer, JSON.stringify(r)),
    (e: unknown) => {
      console.error(e instanceof Error ? e.message : String(e));
      process.exit(1);
    },
  );
}
