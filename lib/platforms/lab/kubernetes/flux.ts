/**
 * Flux, for real, in the lab: the source-controller and kustomize-controller
 * `npm run setup` builds from their modules (v1.9.5), installed into a
 * running lab as `flux install` would install them (lib/flux/install.ts:
 * the same objects as on the cloud, without the Deployments), and run as
 * processes under the first control plane's kubelet (its processes.json,
 * restarted when they exit, as kube-proxy and the BGP agent are), in that
 * machine's network and mount namespaces, each with a kubeconfig for its
 * ServiceAccount (a client certificate from the cluster CA for the
 * account's user name, as the lab gives calico-node its identity; RBAC's
 * ServiceAccount subjects match that name). Then the sync objects the tree
 * holds (clusters/<name>/flux-system/gotk-sync.yaml: the GitRepository on
 * the lab's git server and the root Kustomization) are applied, and Flux
 * reconciles clusters/<name>/ from git into the API server.
 *
 * Both controllers share the machine's network namespace: source-controller
 * serves its artifacts on [::1]:9090 and advertises that address, which is
 * where kustomize-controller (next to it) downloads them from; nothing
 * outside the machine reaches the artifacts. Metrics and health listen on
 * the loopback too (8080/9440 and 8081/9441: the two cannot share ports as
 * two pods would). kustomize-controller looks at a Kustomization's
 * dependencies again every 5 s instead of upstream's 30 s, which is all
 * that separates the chain's three applies (about 0.6 s each here).
 *
 * FLUX_PHASES (git server, push, install, reconciled) follow the lab's
 * bring-up phases; they are idempotent like them.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { kubeClient, type KubeClient } from '../../../kube/client.js';
import { applyFluxInstall, fluxControllerArgs, fluxInstallManifests, FLUX_NAMESPACE, readFluxCrds, requestReconcile, type ControllerPlacement, type FluxControllerName } from '../../../flux/install.js';
import { waitForKustomizations, type KustomizationState } from '../../../flux/status.js';
import { applyObjects } from '../../../kube/objects.js';
import { waitUntil } from '../../../phases/wait.js';
import { readSyncObjects } from '../../../render/read.js';
import { FLUX_CONTROLLERS, fluxBinary } from '../../../toolchain/pins.js';
import { FIELD_MANAGER } from './calicoInstall.js';
import { setProcess } from './controlPlane.js';
import { KUBECONFIG_USER_CONFIG } from './boot.js';
import { ensureLabGitServer, pushToLabGitServer } from '../provider/gitServer.js';
import type { LabContext, Phase } from '../lab.js';
import { runOnMachine } from '../machine/machine.js';
import type { MachineNode } from '../topology.js';
import { labAdminClient } from '../verify/probes.js';

/** The machine the controllers run on: the first control plane. */
export function fluxMachine(ctx: LabContext): MachineNode {
  const m = ctx.topology.machines.find((x) => x.machine.role === 'control-plane');
  if (!m) throw new Error('the lab has no control plane to run Flux on');
  return m;
}

/** Where each controller listens in the machine's network namespace, and where source-controller keeps its artifacts. */
export function labFluxPlacement(ctx: LabContext, m: MachineNode = fluxMachine(ctx)): Record<FluxControllerName, ControllerPlacement> {
  return {
    'source-controller': {
      leaderElection: false,
      metricsAddr: '[::1]:8080',
      healthAddr: '[::1]:9440',
      storagePath: join(fluxDir(ctx, m), 'source-controller'),
      storageAddr: '[::1]:9090',
      storageAdvAddr: '[::1]:9090',
    },
    // The chain fabric -> policies -> apps waits on each dependency: upstream's 30 s requeue made the lab's first reconcile take 64 s, 1.7 s of it applying.
    'kustomize-controller': { leaderElection: false, metricsAddr: '[::1]:8081', healthAddr: '[::1]:9441', requeueDependency: '5s' },
  };
}

function fluxDir(ctx: LabContext, m: MachineNode): string {
  return join(ctx.paths.machine(m.machine.name), 'flux');
}

function cacheDir(ctx: LabContext): string {
  return join(ctx.binDir, '..');
}

/** A kubeconfig for the controller's ServiceAccount (its user name, from the cluster CA), made once. */
async function controllerKubeconfig(ctx: LabContext, m: MachineNode, name: FluxControllerName): Promise<string> {
  const file = join(fluxDir(ctx, m), `${name}.kubeconfig`);
  if (existsSync(file)) return file;
  const cp1 = ctx.topology.machines[0]!;
  const res = await runOnMachine(ctx.runner, cp1.ns, join(ctx.binDir, 'kubeadm'), ['kubeconfig', 'user', '--client-name', `system:serviceaccount:${FLUX_NAMESPACE}:${name}`, '--config', KUBECONFIG_USER_CONFIG], { timeoutMs: 60_000 });
  mkdirSync(fluxDir(ctx, m), { recursive: true, mode: 0o700 });
  writeFileSync(file, res.stdout, { mode: 0o600 });
  return file;
}



/** True when the machine's kubelet reports the process started at or after `since` (kubelet-status.json). */
function startedSince(ctx: LabContext, m: MachineNode, id: string, since: Date): boolean {
  const file = join(ctx.paths.machine(m.machine.name), 'kubelet-status.json');
  const status = JSON.parse(readFileSync(file, 'utf8')) as { processes?: Array<{ id: string; pid?: number; startedAt?: string }> };
  const p = status.processes?.find((x) => x.id === id);
  return p?.pid !== undefined && p.startedAt !== undefined && new Date(p.startedAt) >= since;
}

/** True when the controller's health endpoint answers on the machine. */
async function healthy(ctx: LabContext, m: MachineNode, at: ControllerPlacement): Promise<boolean> {
  const res = await runOnMachine(ctx.runner, m.ns, 'curl', ['-sf', '-m', '2', `http://${at.healthAddr}/readyz`], { allowFail: true, timeoutMs: 5000 });
  return res.code === 0;
}

export interface LabFluxInstall {
  readonly machine: string;
  readonly crds: number;
  readonly objects: number;
  /** Controllers whose process entry was added or changed (the kubelet starts them). */
  readonly started: string[];
}

/**
 * Installs Flux into the running lab (idempotent): CRDs (waited for until
 * Established), the rest of `flux install`'s objects, the controllers as
 * processes on the first control plane (waited for until healthy), then the
 * tree's sync objects.
 */
export async function installLabFlux(ctx: LabContext, client: KubeClient = labAdminClient(ctx)): Promise<LabFluxInstall> {
  for (const p of FLUX_CONTROLLERS) {
    if (!existsSync(fluxBinary(cacheDir(ctx), p.name))) throw new Error(`${fluxBinary(cacheDir(ctx), p.name)} is missing: run npm run setup -- bin:flux`);
  }
  const crds = readFluxCrds(cacheDir(ctx));
  const objects = fluxInstallManifests({ crds, controllers: 'processes' });
  await applyFluxInstall(client, objects, FIELD_MANAGER);

  const m = fluxMachine(ctx);
  const placement = labFluxPlacement(ctx, m);
  const started: string[] = [];
  const since = new Date();
  for (const p of FLUX_CONTROLLERS) {
    const kubeconfig = await controllerKubeconfig(ctx, m, p.name);
    const at = placement[p.name];
    if (at.storagePath) mkdirSync(at.storagePath, { recursive: true, mode: 0o700 });
    const changed = setProcess(ctx, m, {
      id: `${FLUX_NAMESPACE}/${p.name}`,
      argv: [fluxBinary(cacheDir(ctx), p.name), ...fluxControllerArgs(p.name, at)],
      env: { KUBECONFIG: kubeconfig, RUNTIME_NAMESPACE: FLUX_NAMESPACE },
    });
    if (changed) started.push(p.name);
  }
  for (const p of FLUX_CONTROLLERS) {
    // A changed entry: the kubelet restarts the process within a second; do not ask the old one.
    if (started.includes(p.name)) await waitUntil(`${m.machine.name}'s kubelet starting ${p.name}`, async () => startedSince(ctx, m, `${FLUX_NAMESPACE}/${p.name}`, since), { timeoutMs: 30_000 });
    await waitUntil(`${p.name} healthy on ${m.machine.name} (log: ${join(ctx.paths.logs, `${m.machine.name}.${FLUX_NAMESPACE}.${p.name}.log`)})`, () => healthy(ctx, m, placement[p.name]), { timeoutMs: 120_000 });
  }
  const sync = readSyncObjects(ctx.repoRoot, ctx.cluster.spec.name);
  await applyObjects(client, sync, FIELD_MANAGER);
  return { machine: m.machine.name, crds: crds.length, objects: objects.length + sync.length, started };
}

/** Asks Flux to fetch the source and reconcile the root Kustomization now (after a push), as `flux reconcile` does. */
export async function requestLabReconcile(ctx: LabContext, client: KubeClient = labAdminClient(ctx)): Promise<void> {
  for (const o of readSyncObjects(ctx.repoRoot, ctx.cluster.spec.name)) await requestReconcile(client, o);
}

/** The commit pushed to the lab's git server by the push phase, per lab context. */
const pushed = new WeakMap<LabContext, string>();

export const FLUX_PHASES: readonly Phase[] = [
  {
    name: 'git server',
    async run(ctx) {
      const s = await ensureLabGitServer(ctx, ctx.cluster.spec.gitops.url);
      return `${s.started ? 'started' : 'running'}: ${s.url} (in ${s.ns})`;
    },
  },
  {
    name: 'git push',
    async run(ctx) {
      const res = await pushToLabGitServer(ctx, { from: ctx.repoRoot, branch: ctx.cluster.spec.gitops.branch, url: ctx.cluster.spec.gitops.url });
      pushed.set(ctx, res.commit);
      return `${ctx.repoRoot} HEAD ${res.commit.slice(0, 12)} -> ${res.url} ${res.branch}`;
    },
  },
  {
    name: 'Flux',
    async run(ctx) {
      const r = await installLabFlux(ctx);
      return `${r.crds} CRDs, ${r.objects} objects; source-controller and kustomize-controller on ${r.machine}${r.started.length ? ` (started ${r.started.join(', ')})` : ' (running)'}`;
    },
  },
  {
    name: 'Flux reconciled',
    async run(ctx) {
      const client = labAdminClient(ctx);
      await requestLabReconcile(ctx, client);
      const commit = pushed.get(ctx);
      const states: KustomizationState[] = await waitForKustomizations(client, { timeoutMs: 300_000, log: ctx.log, ...(commit ? { revision: commit } : {}) });
      return `${states.map((s) => s.name).join(', ')} Ready at ${states[0]?.sourceRevision ?? '?'}`;
    },
  },
];

/** The managers of an object's fields (metadata.managedFields), e.g. to show that kustomize-controller applied it. */
export async function fieldManagers(client: KubeClient, path: string): Promise<string[]> {
  const o = await client.get<{ metadata?: { managedFields?: Array<{ manager?: string; operation?: string }> } }>(path);
  return [...new Set((o.metadata?.managedFields ?? []).map((f) => `${f.manager ?? '?'}${f.operation ? ` (${f.operation})` : ''}`))].sort();
}

/** A client for the controller's own kubeconfig (to check what its identity may do). */
export function controllerClient(ctx: LabContext, name: FluxControllerName, server?: string): KubeClient {
  const file = join(fluxDir(ctx, fluxMachine(ctx)), `${name}.kubeconfig`);
  return kubeClient(readFileSync(file, 'utf8'), server ? { server } : {});
}
