/**
 * The teardown action's work: refuse unless the operator typed the stack's
 * name again, destroy the stack (every resource, then the stack itself),
 * and remove the cluster from the branch: clusters/<name>/ and its spec
 * infra/<name>.yaml, in one commit (a spec left behind would render the
 * tree again; reverting the commit and applying brings the cluster back).
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { commitAndPush, type GitAuth } from '../repo/git.js';
import { activeRuns, environmentFix, requireReviewers, type EnvironmentReviewers, type GitHubClient, type RepositoryRef } from './github.js';
import type { ActionLog } from './log.js';

/** The GitHub environment the teardown job runs in; its reviewers approve every destroy. */
export const TEARDOWN_ENVIRONMENT = 'teardown';

/**
 * Refuses (EnvironmentUnprotected, naming what to set) unless the teardown
 * environment makes someone approve: it exists and has a required_reviewers
 * rule that names someone. Prevent self-review off, or every branch allowed
 * to deploy, are said as warnings.
 */
export async function checkTeardownEnvironment(octokit: GitHubClient, repo: RepositoryRef, log: ActionLog): Promise<EnvironmentReviewers> {
  const r = await requireReviewers(octokit, repo, TEARDOWN_ENVIRONMENT);
  log.info(`environment ${TEARDOWN_ENVIRONMENT}: required reviewers ${r.reviewers.join(', ')}; prevent self-review ${r.preventSelfReview ? 'on' : 'off'}; deployment branches: ${r.branches}`);
  if (!r.preventSelfReview) log.warning(`environment ${TEARDOWN_ENVIRONMENT}: "Prevent self-review" is off, so whoever starts a teardown may approve it alone. Fix: ${environmentFix(TEARDOWN_ENVIRONMENT)}`);
  if (r.branches === 'any branch') log.warning(`environment ${TEARDOWN_ENVIRONMENT}: every branch may deploy to it. Fix: ${environmentFix(TEARDOWN_ENVIRONMENT)}`);
  return r;
}

export interface TeardownInputs {
  readonly repoRoot: string;
  readonly stack: string;
  readonly confirm: string;
  readonly remote: string;
  readonly branch: string;
  /** The token for the push, given to git at push time only (the checkout keeps no credentials). */
  readonly auth?: GitAuth;
  /** The SSH private key the removal's commit is signed with: other clusters' Flux may verify the branch's HEAD (spec.gitops.verify). */
  readonly commitSigningKey?: string;
}

export interface TeardownDeps {
  readonly log: ActionLog;
  readonly destroy: (stack: string) => Promise<Record<string, number>>;
}

export class TeardownRefused extends Error {}

/** The workflow whose runs a teardown must not overlap (its own concurrency group does not wait for them). */
export const APPLY_WORKFLOW = 'apply.yml';

/**
 * Refuses while an apply run is queued, waiting or running: it may apply
 * this very cluster (applies run whole, one group), and a destroy beside it
 * would race it.
 */
export async function refuseWhileApplying(octokit: GitHubClient, repo: RepositoryRef, stack: string): Promise<void> {
  const runs = await activeRuns(octokit, repo, APPLY_WORKFLOW);
  if (runs.length === 0) return;
  throw new TeardownRefused(
    `teardown of ${stack} refused: ${runs.length} run(s) of ${APPLY_WORKFLOW} not finished (${runs.map((r) => `${r.status} ${r.url}`).join(', ')}); a destroy beside an apply would race it. Wait until they finish (or cancel them), then run teardown again`,
  );
}

export async function runTeardown(inputs: TeardownInputs, deps: TeardownDeps): Promise<{ destroyed: Record<string, number>; commit?: string }> {
  const { log } = deps;
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(inputs.stack)) throw new TeardownRefused(`"${inputs.stack}" is not a cluster name`);
  if (inputs.confirm !== inputs.stack) {
    throw new TeardownRefused(`confirmation "${inputs.confirm}" does not match the stack "${inputs.stack}": type the stack name exactly to tear it down`);
  }
  const destroyed = await log.group(`${inputs.stack}: destroy`, () => deps.destroy(inputs.stack));
  log.info(`${inputs.stack}: destroyed ${Object.entries(destroyed).map(([op, n]) => `${n} ${op}`).join(', ') || 'nothing'}`);
  const paths = [join('clusters', inputs.stack), ...['yaml', 'yml'].map((ext) => join('infra', `${inputs.stack}.${ext}`))].filter((p) => existsSync(join(inputs.repoRoot, p)));
  const pushed = await log.group(`${inputs.stack}: remove ${paths.join(', ') || 'nothing'}`, async () => {
    for (const p of paths) rmSync(join(inputs.repoRoot, p), { recursive: true, force: true });
    if (paths.length === 0) return undefined;
    return commitAndPush({ cwd: inputs.repoRoot, paths, message: `teardown ${inputs.stack}: remove ${paths.join(' and ')}`, remote: inputs.remote, branch: inputs.branch, log: (l) => log.info(l), ...(inputs.auth ? { auth: inputs.auth } : {}), ...(inputs.commitSigningKey ? { signingKey: inputs.commitSigningKey } : {}) });
  });
  const result = { destroyed, ...(pushed?.commit ? { commit: pushed.commit } : {}) };
  await log.summary(teardownSummary(inputs.stack, paths, result));
  return result;
}

/** The job summary of a teardown. */
export function teardownSummary(stack: string, removed: readonly string[], r: { destroyed: Record<string, number>; commit?: string }): string {
  const destroyed = Object.entries(r.destroyed).map(([op, n]) => `${n} ${op}`).join(', ') || 'nothing';
  return [
    `### teardown ${stack}`,
    '',
    `- destroyed: ${destroyed}`,
    `- removed from the repository: ${removed.map((p) => `\`${p}\``).join(', ') || 'nothing'}${r.commit ? ` (commit \`${r.commit.slice(0, 12)}\`)` : ''}`,
    '',
  ].join('\n');
}
