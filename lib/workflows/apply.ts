/**
 * The apply action's work, as a list of phases per stack (the one phase
 * engine, lib/phases/phase.ts; each phase in its own log group), a plain
 * function of its inputs:
 *
 *   render     every tree rendered from the specs (the lab builds from it)
 *   up         Pulumi up of the stack (the cluster's machines, sessions, secrets)
 *   api        the API server answers: its ClusterIP, the first control plane, the control planes'
 *              IPv4 (an IPv4-only runner); bounded backoff, every attempt logged (apiWays.ts)
 *   render     provider facts recorded, every tree rendered again with them
 *   join credentials  the stack's bootstrap token valid for a day from now, and the keys the control
 *              planes share uploaded (machines added later join, control planes included)
 *   BGP password  the Secret the BGPPeers reference, a key for every machine (one added has its own)
 *   commit     clusters/, policies/, apps/ committed and pushed; no commit when nothing changed
 *   flux       Flux installed when absent (first apply), its source pointed at the branch
 *   reconcile  every Flux Kustomization Ready at the pushed revision, or the failing one named
 *   nodes      the Nodes of removed machines deleted; every machine of the spec a Ready Node, or each one that is not named with why
 *
 * A second apply of an unchanged spec changes no resource and commits nothing.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { kubeClient, type KubeClient } from '../kube/client.js';
import type { UpOutcome } from '../pulumi/stack.js';
import type { ProgramOutputs } from '../pulumi/program.js';
import { redactFacts } from '../cluster/devices.js';
import { platformOf } from '../platforms/index.js';
import { FACTS_FILE } from '../render/tree.js';
import type { LoadedCluster } from '../plan/loaded.js';
import { ensureFluxGitSecret, type GitCredentials } from '../flux/gitSecret.js';
import { pinnedInputs, loadAll, loadSpecFile, ownedDirs, renderAll, writeTree } from '../repo/workspace.js';
import type { ClusterSpec } from '../cluster/cluster.js';
import { formatProblem } from '../cluster/problems.js';
import { commitAndPush, type GitAuth } from '../repo/git.js';
import type { ActionLog } from './log.js';
import { stackOf } from './plan.js';
import { runPhases, type Phase } from '../phases/phase.js';
import { retry } from '../phases/retry.js';
import { renewBootstrapToken, tokenId } from '../kube/bootstrapToken.js';
import { uploadSharedKeys } from '../kube/kubeadmCerts.js';
import { deleteGoneNodes, waitForNodes, type Readiness } from './nodes.js';
import { apiWays } from './apiWays.js';
import { applyObjects } from '../kube/objects.js';
import { bgpPasswordSecret } from '../render/calico.js';
import { planAddresses } from '../plan/addressPlan.js';

export const RENDERED_PATHS = ['clusters', 'policies', 'apps'] as const;
/** The field manager of what apply itself writes into a cluster (the join token). */
export const APPLY_FIELD_MANAGER = 'native6-apply';

export interface ApplyInputs {
  readonly repoRoot: string;
  readonly specs: readonly string[];
  readonly remote: string;
  readonly branch: string;
  readonly fluxTimeoutMs: number;
  /**
   * Attempts to reach the API server, 2 s doubling to 60 s between them: 30 by default, about 26
   * minutes, for a first control plane that still installs its packages and pulls its images.
   */
  readonly apiAttempts?: number;
  /** How long the last phase waits for every machine to be a Ready Node: 15 minutes by default. */
  readonly nodesTimeoutMs?: number;
  /** A private repository's credentials (the workflow's GitHub secrets), for the Secret spec.gitops.secretRef names. */
  readonly gitCredentials?: GitCredentials;
  /** The token for the push, given to git at push time only (the checkout keeps no credentials: persist-credentials false). */
  readonly auth?: GitAuth;
  /** The SSH private key apply signs its commits with (the secret NATIVE6_COMMIT_SIGNING_KEY): required where Flux verifies commits (spec.gitops.verify). */
  readonly commitSigningKey?: string;
}

export interface FluxContext {
  readonly spec: ClusterSpec;
  /** The cluster as rendered after up (with the provider facts apply recorded). */
  readonly cluster: LoadedCluster;
  readonly client: KubeClient;
  readonly repoRoot: string;
  readonly log: ActionLog;
  /** The machines (node names) of the stack. */
  readonly machines: readonly string[];
  /** The BGP password (Equinix Metal: one per project), for the Secret the BGPPeers reference. */
  readonly bgpPassword?: string;
}

export interface ApplyDeps {
  readonly log: ActionLog;
  readonly up: (specFile: string, stack: string) => Promise<UpOutcome>;
  /** Installs Flux when the cluster has none; says which. */
  readonly bootstrapFlux: (ctx: FluxContext) => Promise<'installed' | 'present'>;
  /** Resolves when every Kustomization is Ready at the source's latest revision; throws naming the one that is not. */
  readonly waitFlux: (ctx: FluxContext, timeoutMs: number) => Promise<string>;
  readonly kube?: (kubeconfig: string) => KubeClient;
  readonly sleep?: (ms: number) => Promise<void>;
  /** The clock: the join token's expiration is counted from it, and the nodes' wait by it. */
  readonly now?: () => Date;
}

export interface StackApply {
  readonly stack: string;
  readonly resources: Record<string, number>;
  readonly pulumiUnchanged: boolean;
  readonly commit?: string;
  readonly files: readonly string[];
  readonly flux: 'installed' | 'present';
  /** The machines that are Ready Nodes (all of the spec's, once apply succeeded). */
  readonly readyNodes: number;
}

export class ApplyError extends Error {}

function factsText(outputs: ProgramOutputs): string {
  return `${JSON.stringify(redactFacts(outputs.facts), null, 2)}\n`;
}

/** npm run render's code: every tree from infra/ and the recorded facts; nothing written on a problem. The clusters it rendered. */
function renderTrees(repoRoot: string, log: ActionLog): LoadedCluster[] {
  const all = loadAll(repoRoot);
  if (all.problems.length > 0) throw new ApplyError(`render: ${all.problems.map(formatProblem).join('\n')}`);
  // Flux's own objects from the pinned controllers (the workflow's setup step flux:crds).
  const written = writeTree(repoRoot, renderAll(all.clusters, pinnedInputs(join(repoRoot, '.cache'))), ownedDirs(all.clusters));
  log.info(`render: ${written.written.length} written, ${written.removed.length} removed, ${written.unchanged} unchanged`);
  return all.clusters;
}

export async function applyStack(inputs: ApplyInputs, deps: ApplyDeps, specFile: string): Promise<StackApply> {
  const { log } = deps;
  const stack = stackOf(specFile);
  const { cluster, problems } = loadSpecFile(inputs.repoRoot, specFile, { ignoreFacts: true });
  if (!cluster) {
    for (const p of problems) log.error(`${p.field}: ${p.message}. Fix: ${p.fix}`, { file: p.file, ...(p.line !== undefined ? { line: p.line } : {}) });
    throw new ApplyError(`${specFile}: ${problems.length} problem(s); nothing was applied:\n${problems.map(formatProblem).join('\n')}`);
  }
  const spec = cluster.spec;
  const state: ApplyState = { stack, specFile, spec };
  await runPhases(state, applyPhases(inputs, deps));
  const { up, pushed, flux, nodes } = state;
  return {
    stack,
    resources: up!.summary,
    pulumiUnchanged: up!.unchanged,
    ...(pushed!.commit ? { commit: pushed!.commit } : {}),
    files: pushed!.files,
    flux: flux!,
    readyNodes: nodes!.ready.length,
  };
}

/** What apply's phases hand on to each other, for one stack. */
interface ApplyState {
  readonly stack: string;
  readonly specFile: string;
  readonly spec: ClusterSpec;
  up?: UpOutcome;
  client?: KubeClient;
  /** The cluster as rendered after up. */
  cluster?: LoadedCluster;
  pushed?: Awaited<ReturnType<typeof commitAndPush>>;
  flux?: 'installed' | 'present';
  nodes?: Readiness;
}

/** Apply as a list of phases (the one engine, lib/phases/phase.ts), each in its own log group. */
export function applyPhases(inputs: ApplyInputs, deps: ApplyDeps): Array<Phase<ApplyState>> {
  const { log } = deps;
  const phase = (name: string, run: (s: ApplyState) => Promise<void>): Phase<ApplyState> => ({ name, run: (s) => log.group(`${s.stack}: ${name}`, () => run(s)) });
  const fluxContext = (s: ApplyState): FluxContext => ({
    spec: s.spec,
    cluster: s.cluster!,
    client: s.client!,
    repoRoot: inputs.repoRoot,
    log,
    machines: s.up!.outputs.machines,
    ...(s.up!.outputs.bgpPassword ? { bgpPassword: s.up!.outputs.bgpPassword } : {}),
  });
  return [
    // The tree as the spec wants it before up: the lab builds from it (and
    // refuses a stale one); the cloud's is rendered again with the new facts.
    phase('render (before up)', async (s) => {
      // Before anything is made: a commit Flux would refuse to apply is not pushed.
      if (s.spec.gitops.verify && !inputs.commitSigningKey) {
        throw new ApplyError(
          `${s.specFile}: spec.gitops.verify is set, so Flux applies only signed commits, but apply was given no commit-signing-key: the commit it pushes would stop Flux. Fix: give the apply action commit-signing-key (the secret NATIVE6_COMMIT_SIGNING_KEY, an SSH private key) and put its public half in the Secret ${s.spec.gitops.verify.secretRef} (docs/gitops.md#signed-commits)`,
        );
      }
      renderTrees(inputs.repoRoot, log);
    }),
    phase('up', async (s) => {
      const r = await deps.up(s.specFile, s.stack);
      const cp = r.outputs.controlPlaneKeys;
      for (const secret of [r.outputs.kubeconfig, r.outputs.bootstrapKubeconfig, r.outputs.bgpPassword, r.outputs.joinToken, cp?.certificateKey, cp?.keys.caKeyPem, cp?.keys.frontProxyCaKeyPem, cp?.keys.etcdCaKeyPem, cp?.keys.saKeyPem]) if (secret) log.secret(secret);
      log.info(`${s.stack}: ${Object.entries(r.summary).map(([op, n]) => `${n} ${op}`).join(', ')}`);
      s.up = r;
    }),
    phase('api', async (s) => {
      // The API ClusterIP first (every control plane serves it), the first control plane's own address
      // before the ClusterIP is announced, then each control plane's IPv4 for a runner with IPv4 only
      // (lib/workflows/apiWays.ts). Each attempt asks them all, in that order.
      const make = deps.kube ?? ((k: string) => kubeClient(k));
      const controlPlanes = planAddresses(s.spec).machines.filter((m) => m.role === 'control-plane').map((m) => m.name);
      const ways = apiWays({ kubeconfig: s.up!.outputs.kubeconfig, ...(s.up!.outputs.bootstrapKubeconfig ? { bootstrapKubeconfig: s.up!.outputs.bootstrapKubeconfig } : {}), devices: s.up!.outputs.facts?.devices ?? [] }, controlPlanes).map((w) => ({ via: w.via, client: make(w.kubeconfig) }));
      s.client = await retry(
        async () => {
          const failures: string[] = [];
          for (const w of ways) {
            try {
              const v = await w.client.get<{ gitVersion: string }>('/version');
              log.info(`${s.stack}: API server ${v.gitVersion} answers through ${w.via}`);
              return w.client;
            } catch (e) {
              failures.push(ways.length > 1 ? `${w.via}: ${(e as Error).message}` : (e as Error).message);
            }
          }
          throw new Error(failures.join('; '));
        },
        { what: `the API server of ${s.stack}`, attempts: inputs.apiAttempts ?? 30, initialMs: 2000, maxMs: 60_000, log: (l) => log.info(l), ...(deps.sleep ? { sleep: deps.sleep } : {}) },
      );
    }),
    phase('join credentials', async (s) => {
      // Every machine joins with the stack's token, trying until it succeeds: renewed by every apply (and by the control planes' own timer),
      // a machine this apply added (or replaced) joins, however long after the first apply.
      const token = s.up!.outputs.joinToken;
      if (!token) {
        log.info(`${s.stack}: the platform gives no join token to renew (its control planes keep it valid themselves: native6-join-token.timer)`);
        return;
      }
      const until = await renewBootstrapToken(s.client!, token, APPLY_FIELD_MANAGER, deps.now?.() ?? new Date());
      log.info(`${s.stack}: join token ${tokenId(token)} valid until ${until.toISOString()}`);
      // A joining control plane downloads the keys the control planes share, encrypted with the stack's
      // certificate key: written without kubeadm's 2-hour owner, they wait for joins made any time.
      const cp = s.up!.outputs.controlPlaneKeys;
      if (!cp) {
        log.warning(`${s.stack}: the stack holds no shared control-plane keys (it was made before they were): a control plane can join only within 2 hours of a kubeadm upload-certs on a control plane`);
        return;
      }
      await uploadSharedKeys(s.client!, cp.keys, cp.certificateKey, APPLY_FIELD_MANAGER);
      log.info(`${s.stack}: the control planes' shared keys uploaded for joins (kube-system/kubeadm-certs)`);
    }),
    phase('BGP password', async (s) => {
      // The Secret the BGPPeers reference, one key per machine, applied at every apply (not only at the
      // first bootstrap): a machine this apply added has its key before its calico-node starts.
      const password = s.up!.outputs.bgpPassword;
      if (!password) return;
      const machines = s.up!.outputs.machines;
      await applyObjects(s.client!, [bgpPasswordSecret(new Map(machines.map((m) => [m, password])))], APPLY_FIELD_MANAGER);
      log.info(`${s.stack}: the BGP password Secret holds a key for each of ${machines.length} machines`);
    }),
    phase('render', async (s) => {
      // Where the provider gives the devices, they are recorded as facts, and render reads them.
      if (!platformOf(s.spec).plannedDevices) {
        const dir = join(inputs.repoRoot, 'clusters', s.spec.name);
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, FACTS_FILE), factsText(s.up!.outputs));
      }
      s.cluster = renderTrees(inputs.repoRoot, log).find((c) => c.spec.name === s.spec.name);
      if (!s.cluster) throw new ApplyError(`render: ${s.specFile} was not rendered`);
    }),
    phase('commit', async (s) => {
      s.pushed = await commitAndPush({
        cwd: inputs.repoRoot,
        paths: RENDERED_PATHS,
        message: `apply ${s.stack}: render clusters/${s.spec.name} from ${s.specFile}`,
        remote: inputs.remote,
        branch: inputs.branch,
        ...(inputs.auth ? { auth: inputs.auth } : {}),
        ...(inputs.commitSigningKey ? { signingKey: inputs.commitSigningKey } : {}),
        log: (l) => log.info(l),
        ...(deps.sleep ? { sleep: deps.sleep } : {}),
      });
    }),
    phase('flux', async (s) => {
      // A private repository's Secret first: the GitRepository reads it from its first fetch.
      const secret = await ensureFluxGitSecret(s.client!, s.spec, inputs.gitCredentials, APPLY_FIELD_MANAGER);
      if (secret) log.info(`${s.stack}: ${secret}`);
      s.flux = await deps.bootstrapFlux(fluxContext(s));
    }),
    phase('reconcile', async (s) => {
      const revision = await deps.waitFlux(fluxContext(s), inputs.fluxTimeoutMs);
      log.info(`${s.stack}: every Kustomization is Ready at ${revision}`);
    }),
    phase('nodes', async (s) => {
      await deleteGoneNodes(s.client!, s.up!.outputs.machines, (l) => log.info(`${s.stack}: ${l}`));
      const r = await waitForNodes(s.client!, s.up!.outputs.machines, {
        timeoutMs: inputs.nodesTimeoutMs ?? 15 * 60_000,
        log: (l) => log.info(l),
        ...(deps.sleep ? { sleep: deps.sleep } : {}),
        ...(deps.now ? { now: () => deps.now!().getTime() } : {}),
      });
      log.info(`${s.stack}: ${r.ready.length} of ${s.up!.outputs.machines.length} machines are Ready Nodes`);
      if (r.unknown.length > 0) log.warning(`${s.stack}: Ready Nodes that no machine of ${s.specFile} names (joined by hand, or removed a moment ago: the next apply deletes them once they are not Ready): ${r.unknown.join(', ')}`);
      s.nodes = r;
    }),
  ];
}

/** The job summary of an apply: one row per stack. */
export function applySummary(results: readonly StackApply[]): string {
  const ops = (r: Record<string, number>) => Object.entries(r).map(([op, n]) => `${n} ${op}`).join(', ') || 'none';
  return [
    '### apply',
    '',
    '| stack | resources | commit | files | Flux | Ready nodes |',
    '| --- | --- | --- | --- | --- | --- |',
    ...results.map((r) => `| ${r.stack} | ${r.pulumiUnchanged ? 'unchanged' : ops(r.resources)} | ${r.commit ? `\`${r.commit.slice(0, 12)}\`` : 'none (nothing changed)'} | ${r.files.length} | ${r.flux} | ${r.readyNodes} |`),
    '',
  ].join('\n');
}

export async function runApply(inputs: ApplyInputs, deps: ApplyDeps): Promise<StackApply[]> {
  const out: StackApply[] = [];
  for (const specFile of inputs.specs) out.push(await applyStack(inputs, deps, specFile));
  await deps.log.summary(applySummary(out));
  return out;
}
