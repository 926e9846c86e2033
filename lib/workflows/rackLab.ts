/**
 * The rack lab as one workflow (`npm run lab -- rack`): a metal cluster of
 * lab machines, built and bootstrapped as a user's own rack is, in a
 * repository of its own (`.lab/rack/repo`: the spec the lab writes, its
 * rendered tree, links to this repository's policies, apps and tools):
 *
 *   1. the machines as their owner has them (lib/platforms/lab/rack): the
 *      network, the routers with the rendered configuration, each machine's
 *      disk, image and sshd; their host keys read into the spec;
 *   2. apply's Pulumi half: the real CLI, the metal program, SSH from this
 *      host (file backend in the lab's state, the operator's key as the
 *      stack's secret config, the lab's image as native6:bootOptions);
 *   3. the lab's Kubernetes phases, which wait for each bootstrap apply
 *      started and bring up the lab's calico-node stand-in and the demo.
 *
 * Here, above both the lab and the Pulumi edge (the lab's own layer cannot
 * reach lib/pulumi).
 */
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Stack } from '@pulumi/pulumi/automation/index.js';
import { formatProblem } from '../cluster/problems.js';
import type { PhaseReport } from '../phases/phase.js';
import { createLabContext, labDown, runLabPhases, type LabContext } from '../platforms/lab/lab.js';
import { CONTROL_PLANE_PHASES } from '../platforms/lab/kubernetes/controlPlane.js';
import { operatorKey, RACK_MACHINE_PHASES, RACK_NETWORK_PHASES, rackBootOptions, rackHostKeys } from '../platforms/lab/rack/phases.js';
import { rackSpecText } from '../platforms/lab/rack/spec.js';
import { createRunner } from '../exec/run.js';
import { listNamespaces } from '../platforms/lab/machine/netns.js';
import { destroyStack, openStack, upStack } from '../pulumi/stack.js';
import { pinnedInputs, loadAll, loadSpecFile, ownedDirs, renderAll, writeTree } from '../repo/workspace.js';

export interface RackLabOptions {
  /** This repository (its tools, policies and apps). */
  readonly codeRoot: string;
  /** The rack's own repository (made if absent). */
  readonly dir: string;
  /** The cluster's name; its machines are <name>-cp-<i>, <name>-general-<i>. */
  readonly name: string;
  readonly controlPlanes: number;
  readonly workers: number;
  readonly progress?: (p: PhaseReport) => void;
  /** The Pulumi engine's lines. */
  readonly onOutput?: (line: string) => void;
}

/** The phases after apply: the lab's Kubernetes phases but the machines' own (their disks and kubelets are the rack's). */
export const RACK_CLUSTER_PHASES = CONTROL_PLANE_PHASES.filter((p) => p.name !== 'machine mounts' && p.name !== 'kubelets');

const specFile = (o: RackLabOptions) => `infra/${o.name}.yaml`;

/** The rack's repository: links to the tools, the spec with the host keys known so far, its rendered tree; its lab context. */
export function renderRack(o: RackLabOptions, hostKeys?: ReadonlyMap<string, string>): LabContext {
  mkdirSync(join(o.dir, 'infra'), { recursive: true });
  for (const link of ['node_modules', '.cache', 'policies', 'apps']) if (!existsSync(join(o.dir, link))) symlinkSync(join(o.codeRoot, link), join(o.dir, link));
  writeFileSync(join(o.dir, specFile(o)), rackSpecText({ name: o.name, controlPlanes: o.controlPlanes, workers: o.workers, ...(hostKeys ? { hostKeys } : {}) }));
  const all = loadAll(o.dir);
  if (all.problems.length > 0) throw new Error(all.problems.map(formatProblem).join('\n'));
  writeTree(o.dir, renderAll(all.clusters, pinnedInputs(join(o.codeRoot, '.cache'))), ownedDirs(all.clusters));
  return createLabContext(o.dir, loadSpecFile(o.dir, specFile(o)).cluster!);
}

/** The rack's stack: file backend and Pulumi's folders in the lab's state, the operator's key and the lab's image in its config. */
export function rackStack(o: RackLabOptions, ctx: LabContext): Promise<Stack> {
  const state = join(ctx.paths.root, 'pulumi');
  return openStack({
    repoRoot: o.dir,
    specFile: specFile(o),
    stackName: o.name,
    backendUrl: `file://${join(state, 'backend')}`,
    // The lab's own stack, on this host only: its secrets are the lab's key and the lab's cluster.
    passphrase: `native6-lab-${o.name}`,
    pulumiHome: join(state, 'home'),
    workDir: join(state, 'work'),
    env: { NATIVE6_ROOT: o.codeRoot },
    config: {
      'native6:sshPrivateKey': { value: operatorKey(ctx).privateKey, secret: true },
      'native6:bootOptions': { value: rackBootOptions(ctx), secret: false },
    },
  });
}

/** The machines, then apply over SSH, then the cluster: idempotent (a second run applies nothing new). */
export async function rackLabUp(o: RackLabOptions): Promise<{ ctx: LabContext; summary: Record<string, number> }> {
  const progress = o.progress ?? (() => {});
  let ctx = renderRack(o);
  await runLabPhases(ctx, [...RACK_NETWORK_PHASES, ...RACK_MACHINE_PHASES], progress);
  ctx = renderRack(o, await rackHostKeys(ctx));
  const stack = await rackStack(o, ctx);
  const up = await upStack(stack, o.onOutput);
  await runLabPhases(ctx, RACK_CLUSTER_PHASES, progress);
  return { ctx, summary: up.summary };
}

/** Teardown as a user's: the stack destroyed (workers drained, every machine reset over SSH), then the lab's namespaces. */
export async function rackLabDown(o: RackLabOptions): Promise<{ destroyed: Record<string, number> | undefined; namespaces: string[] }> {
  let destroyed: Record<string, number> | undefined;
  if (existsSync(join(o.dir, specFile(o)))) {
    const ctx = createLabContext(o.dir, loadSpecFile(o.dir, specFile(o)).cluster!);
    // Only machines that are there can be reset: a rack already down leaves the stack to go with its state.
    const machines = await listNamespaces(createRunner(), `n6-${o.name}-`);
    if (machines.length > 0 && existsSync(join(ctx.paths.root, 'pulumi', 'backend'))) destroyed = await destroyStack(await rackStack(o, ctx), o.onOutput);
  }
  const namespaces = await labDown(createRunner(), o.dir, o.name);
  return { destroyed, namespaces };
}
