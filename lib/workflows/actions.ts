/**
 * The three actions with their real edges wired: Pulumi through the
 * Automation API (lib/pulumi/stack.ts), GitHub through Octokit, git, the
 * cluster's API server, Flux. Each actions/<name>/main.ts turns the
 * action's inputs into the plain objects below and calls one function here.
 */
import { checkBackend } from '../pulumi/backend.js';
import { ensurePolicyPack } from '../pulumi/policyPack.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { destroyStack, isLockedError, openStack, previewStack, recoverStack, upStack, type Recovery, type StackSettings } from '../pulumi/stack.js';
import { specFiles } from '../repo/workspace.js';
import { runApply, type ApplyDeps, type ApplyInputs, type StackApply } from './apply.js';
import { credentialValues } from '../flux/gitSecret.js';
import { bootstrapFlux, waitFlux } from './fluxSteps.js';
import type { GitHubClient, PullRequestRef } from './github.js';
import type { ActionLog } from './log.js';
import { runPlan, type StackPlan } from './plan.js';
import { readHeadSpecs, SpecDirError, specDirFiles } from './headSpecs.js';
import { clusterProgram, PROJECT } from '../pulumi/program.js';
import { SSH_PRIVATE_KEY_CONFIG } from '../platforms/metal/platform.js';
import { authSecrets, type GitAuth } from '../repo/git.js';
import { runTeardown } from './teardown.js';

export interface PulumiInputs {
  readonly backendUrl: string;
  readonly passphrase: string;
  /** Equinix Metal API token; empty for lab stacks. */
  readonly metalAuthToken: string;
  /** The operator's private SSH key apply logs into metal machines with (set as the stacks' secret config native6:sshPrivateKey); empty for other platforms. */
  readonly sshPrivateKey?: string;
  /** The environment the backend's credentials are read from (default: the process's). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** The Automation API's workspace and PULUMI_HOME (defaults under .cache/). */
  readonly workDir?: string;
  readonly pulumiHome?: string;
}

/** Spec files named by paths or simple globs (`*` within one path segment), relative to the root. */
export function resolveSpecs(repoRoot: string, patterns: readonly string[]): string[] {
  const all = specFiles(repoRoot);
  const out = new Set<string>();
  for (const p of patterns.map((x) => x.trim()).filter(Boolean)) {
    const re = new RegExp(`^${p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}$`);
    const hits = all.filter((f) => re.test(f));
    if (hits.length === 0) throw new Error(`specs: "${p}" matches no cluster spec under infra/ (there are: ${all.join(', ') || 'none'})`);
    for (const h of hits) out.add(h);
  }
  return [...out].sort();
}

function settings(repoRoot: string, p: PulumiInputs, specFile: string, stackName: string): StackSettings {
  return {
    repoRoot,
    specFile,
    stackName,
    backendUrl: p.backendUrl,
    passphrase: p.passphrase,
    env: p.metalAuthToken ? { METAL_AUTH_TOKEN: p.metalAuthToken } : {},
    ...(p.sshPrivateKey ? { config: { [`${PROJECT}:${SSH_PRIVATE_KEY_CONFIG}`]: { value: p.sshPrivateKey, secret: true } } } : {}),
    ...(p.workDir ? { workDir: p.workDir } : {}),
    ...(p.pulumiHome ? { pulumiHome: p.pulumiHome } : {}),
  };
}

/** A private key masked whole, and line by line (many lines: a log may show one alone). */
function maskKey(log: ActionLog, key: string | undefined): void {
  if (key) for (const s of [key, ...key.split('\n').map((l) => l.trim()).filter((l) => l.length >= 8)]) log.secret(s);
}

/** The secrets masked, and the backend checked (it must keep the state, and have its credentials) before any stack opens. */
function maskInputs(log: ActionLog, p: PulumiInputs): void {
  log.secret(p.passphrase);
  if (p.metalAuthToken) log.secret(p.metalAuthToken);
  maskKey(log, p.sshPrivateKey);
  const backend = checkBackend(p.backendUrl, p.env ?? process.env);
  for (const s of backend.secrets) log.secret(s);
}

/**
 * The plan. With `specDir` the specs are read from that folder
 * (`<specDir>/infra/<name>.yaml`), and with `headSha` too they are first
 * written there from the pull request's head, as data (headSpecs.ts): the
 * code that runs, the preview's program included, is this checkout's.
 */
export async function planAction(
  i: PulumiInputs & { repoRoot: string; specs: readonly string[]; baseRef?: string; commitSha: string; runUrl?: string; pullRequest?: PullRequestRef; specDir?: string; headSha?: string; auth?: GitAuth },
  log: ActionLog,
  octokit?: GitHubClient,
): Promise<{ ok: boolean; stacks: StackPlan[] }> {
  maskInputs(log, i);
  if (i.auth) for (const s of authSecrets(i.auth)) log.secret(s);
  let specRoot = i.repoRoot;
  let baseCode: { baseSha: string; outside: readonly string[] } | undefined;
  let deleted: readonly string[] = [];
  if (i.headSha) {
    if (!i.specDir) throw new SpecDirError("spec-dir: empty, but head-sha is set: the head's specs need a folder outside the checkout; fix: spec-dir: ${{ runner.temp }}/head-specs");
    if (!i.baseRef) throw new SpecDirError('base-ref: empty, but head-sha is set: the base commit is needed to name what else the pull request changes; fix: base-ref: ${{ github.sha }} (the checked-out base)');
    const head = await readHeadSpecs({ repoRoot: i.repoRoot, headSha: i.headSha, baseSha: i.baseRef, specDir: i.specDir, remote: 'origin', ...(i.auth ? { auth: i.auth } : {}), log });
    specRoot = head.specRoot;
    baseCode = { baseSha: i.baseRef, outside: head.outside };
    deleted = head.deleted;
  } else if (i.specDir) {
    specDirFiles(i.specDir);
    specRoot = i.specDir;
  }
  const specs = resolveSpecs(specRoot, i.specs);
  return runPlan(
    {
      repoRoot: i.repoRoot,
      specs,
      commitSha: i.commitSha,
      ...(i.baseRef ? { baseRef: i.baseRef } : {}),
      ...(i.runUrl ? { runUrl: i.runUrl } : {}),
      ...(i.pullRequest ? { pullRequest: i.pullRequest } : {}),
      ...(specRoot !== i.repoRoot ? { specRoot } : {}),
      ...(baseCode ? { baseCode } : {}),
      ...(deleted.length > 0 ? { deleted } : {}),
    },
    {
      log,
      ...(octokit ? { octokit } : {}),
      // The program reads the spec from the spec folder; everything else (the modules, the stack's settings, the policy pack) is this checkout's.
      preview: async (specFile, stack) =>
        previewStack(await openStack({ ...settings(i.repoRoot, i, specFile, stack), program: clusterProgram({ repoRoot: specRoot, specFile }) }), (s) => log.info(s.trimEnd()), {
          policyPacks: [await ensurePolicyPack(i.repoRoot)],
        }),
    },
  );
}

export async function applyAction(i: PulumiInputs & Omit<ApplyInputs, 'specs'> & { specs: readonly string[] }, log: ActionLog, overrides: Partial<ApplyDeps> = {}): Promise<StackApply[]> {
  maskInputs(log, i);
  maskKey(log, i.commitSigningKey);
  if (i.auth) for (const s of authSecrets(i.auth)) log.secret(s);
  if (i.gitCredentials) for (const v of credentialValues(i.gitCredentials)) log.secret(v);
  const specs = resolveSpecs(i.repoRoot, i.specs);
  return runApply(
    { ...i, specs },
    {
      log,
      up: async (specFile, stack) => {
        try {
          return await upStack(await openStack(settings(i.repoRoot, i, specFile, stack)), (s) => log.info(s.trimEnd()), { policyPacks: [await ensurePolicyPack(i.repoRoot)] });
        } catch (e) {
          if (isLockedError(String((e as Error).message))) throw new Error(lockedFix(stack), { cause: e });
          throw e;
        }
      },
      bootstrapFlux,
      waitFlux,
      ...overrides,
    },
  );
}

/** What apply says when an interrupted run left the stack locked: nothing was applied, and how to recover. */
export function lockedFix(stack: string): string {
  return `the stack ${stack} is locked by a run that did not finish (a cancelled or timed-out job, a lost runner): nothing was applied. Fix: run the recover workflow for ${stack} (Actions > recover > Run workflow: it removes the lock and clears what the run left pending), then apply again (re-run this job)`;
}

/**
 * After an interrupted apply: the stack's lock removed, the state refreshed with its pending creates
 * cleared (each named: it may exist at the provider, to delete or import by hand), then a preview of
 * what the next apply does. Destroys nothing, pushes nothing; the workflow runs it in the apply
 * environment, in apply's concurrency group (no apply runs meanwhile).
 */
export async function recoverAction(i: PulumiInputs & { repoRoot: string; stack: string }, log: ActionLog): Promise<Recovery & { preview: Record<string, number> }> {
  maskInputs(log, i);
  const specFile = `infra/${i.stack}.yaml`;
  if (!/^[a-z0-9][a-z0-9-]*$/.test(i.stack) || !existsSync(join(i.repoRoot, specFile))) throw new Error(`stack: "${i.stack}" has no spec ${specFile} on this branch; fix: give the name of a cluster of infra/`);
  const stack = await openStack(settings(i.repoRoot, i, specFile, i.stack));
  const recovered = await log.group(`recover ${i.stack}`, () => recoverStack(stack, (s) => log.info(s.trimEnd())));
  for (const p of recovered.pending) log.warning(`${i.stack}: the interrupted run left ${p}: it may exist at the provider without being in the state; the next apply makes it again (find the provider's copy by its tags, cluster:${i.stack}, and delete it)`);
  const preview = await log.group(`preview ${i.stack}`, () => previewStack(stack, (s) => log.info(s.trimEnd())));
  const lines = [
    `## Recovered \`${i.stack}\``,
    '',
    '- the lock of the interrupted run removed',
    `- the state refreshed from the provider: ${Object.entries(recovered.refreshed).map(([op, n]) => `${n} ${op}`).join(', ') || 'nothing'}`,
    `- pending operations cleared: ${recovered.pending.length === 0 ? 'none' : recovered.pending.map((p) => `\`${p}\``).join(', ')}`,
    `- the next apply: ${Object.entries(preview.summary).map(([op, n]) => `${n} ${op}`).join(', ') || 'no changes'}`,
    '',
  ];
  await log.summary(lines.join('\n'));
  return { ...recovered, preview: preview.summary };
}

export async function teardownAction(i: PulumiInputs & { repoRoot: string; stack: string; confirm: string; remote: string; branch: string; auth?: GitAuth; commitSigningKey?: string }, log: ActionLog) {
  maskInputs(log, i);
  maskKey(log, i.commitSigningKey);
  if (i.auth) for (const s of authSecrets(i.auth)) log.secret(s);
  const specFile = `infra/${i.stack}.yaml`;
  return runTeardown(i, { log, destroy: async (stack) => destroyStack(await openStack(settings(i.repoRoot, i, specFile, stack)), (s) => log.info(s.trimEnd())) });
}
