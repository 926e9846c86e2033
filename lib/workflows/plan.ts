/**
 * The plan action's work, as a plain function of its inputs: for each spec,
 * load it (a bad spec: annotations on the file and line, and the check
 * fails), its address plan on the base branch (read with git), a Pulumi
 * preview of its stack, then one comment per stack on the pull request,
 * edited in place, mirrored to the job summary.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatAddress } from '../net/ipv6.js';
import type { AddressPlan } from '../plan/addressPlan.js';
import { decodeFacts, planWithFacts } from '../plan/facts.js';
import { prefixText, relativeNote } from '../plan/relativeText.js';
import type { ClusterSpec } from '../cluster/cluster.js';
import type { ProviderFacts } from '../cluster/devices.js';
import { loadSpecFile } from '../repo/workspace.js';
import { platformOf } from '../platforms/index.js';
import { loadCluster } from '../platforms/load.js';
import { FACTS_FILE } from '../render/tree.js';
import type { Problem } from '../cluster/problems.js';
import { commentMarker, renderPlanComment, type PlanView } from './comment.js';
import type { ResourceChange } from '../pulumi/stack.js';
import { git } from '../repo/git.js';
import { baseCodeNote, deletedSpecComment, withNote } from './headSpecs.js';
import { upsertComment, type GitHubClient, type PullRequestRef } from './github.js';
import type { ActionLog } from './log.js';
import type { PreviewOutcome } from '../pulumi/stack.js';

export interface PlanInputs {
  readonly repoRoot: string;
  /** Spec files relative to the repository root. */
  readonly specs: readonly string[];
  /** The base branch's commit, for the "before" plan; undefined: every cluster is new. */
  readonly baseRef?: string;
  readonly commitSha: string;
  readonly runUrl?: string;
  /** Where the comment goes; undefined: job summary only. */
  readonly pullRequest?: PullRequestRef;
  /**
   * Where the specs are read from, laid out as the repository
   * (`<specRoot>/infra/<name>.yaml`); default repoRoot. The trusted preview
   * reads a pull request's specs from such a folder (lib/workflows/headSpecs.ts);
   * the recorded facts and the base's specs still come from repoRoot.
   */
  readonly specRoot?: string;
  /** The specs are the pull request's, run with the base's code: the comment says so (baseCodeNote). */
  readonly baseCode?: { readonly baseSha: string; readonly outside: readonly string[] };
  /** Specs the pull request deletes: each stack's comment says that merging destroys nothing (deletedSpecComment). */
  readonly deleted?: readonly string[];
}

export interface PlanDeps {
  readonly log: ActionLog;
  readonly octokit?: GitHubClient;
  /** Runs the Pulumi preview of one stack (lib/pulumi/stack.ts in the action). */
  readonly preview: (specFile: string, stack: string) => Promise<PreviewOutcome>;
}

export interface StackPlan {
  readonly stack: string;
  readonly specFile: string;
  readonly ok: boolean;
  readonly changes: readonly ResourceChange[];
  readonly comment?: 'created' | 'updated' | 'unchanged';
}

/** The plan as the comment shows it; while the block is not known, its ranges relative to it, and a note that says so (`note`). */
export function planView(plan: AddressPlan, note?: string): PlanView {
  return {
    ranges: plan.ranges.map((r) => ({ name: r.name, prefix: prefixText(plan, r.prefix), purpose: r.purpose })),
    machines: plan.machines.map((m) => ({ name: m.name, role: m.role, pool: m.pool, address: m.link ? formatAddress(m.link.address) : 'from the provider' })),
    ...(note ? { note } : {}),
  };
}

const factsPath = (cluster: string) => `clusters/${cluster}/${FACTS_FILE}`;

/**
 * The provider facts apply recorded for a cluster, when there are and they
 * read: the plan takes the provider's block from them (a spec that gives only
 * the block's size). Their other checks are render's and apply's.
 */
export function recordedFacts(repoRoot: string, cluster: string): ProviderFacts | undefined {
  const file = factsPath(cluster);
  if (!existsSync(join(repoRoot, file))) return undefined;
  const decoded = decodeFacts(file, readFileSync(join(repoRoot, file), 'utf8'));
  return decoded.ok ? decoded.facts : undefined;
}

/** A spec's plan as the comment shows it: with the recorded block, or relative to the block with the note. */
export function specView(spec: ClusterSpec, facts: ProviderFacts | undefined): PlanView {
  const plan = planWithFacts(spec, facts);
  return planView(plan, relativeNote(plan, `the provider (${platformOf(spec).describe(spec)})`, factsPath(spec.name)));
}

/** The stack's name: the spec file's base name (metadata.name must match it). */
export function stackOf(specFile: string): string {
  return specFile.replace(/^.*\//, '').replace(/\.ya?ml$/, '');
}

/** The plan on the base branch, with the same recorded block as the head's (the project's block is no change of the pull request). */
async function basePlan(repoRoot: string, baseRef: string | undefined, specFile: string): Promise<PlanView | undefined> {
  if (!baseRef) return undefined;
  const r = await git(repoRoot, ['show', `${baseRef}:${specFile}`]);
  if (r.code !== 0) return undefined; // a new cluster
  const loaded = loadCluster(specFile, r.stdout);
  return loaded.ok ? specView(loaded.spec, recordedFacts(repoRoot, loaded.spec.name)) : undefined;
}

function annotate(log: ActionLog, problems: readonly Problem[]): void {
  for (const p of problems) {
    log.error(`${p.field}: ${p.message}. Fix: ${p.fix}`, { file: p.file, ...(p.line !== undefined ? { line: p.line } : {}), title: 'native6 spec' });
  }
}

export async function runPlan(inputs: PlanInputs, deps: PlanDeps): Promise<{ ok: boolean; stacks: StackPlan[] }> {
  const { log } = deps;
  if (!/^[0-9a-f]{7,40}$/.test(inputs.commitSha ?? '')) throw new Error(`plan: the commit to plan is "${inputs.commitSha ?? ''}", not a git commit (GITHUB_SHA unset?)`);
  const stacks: StackPlan[] = [];
  for (const specFile of inputs.specs) {
    const stack = stackOf(specFile);
    const result = await log.group(`plan ${stack} (${specFile})`, async (): Promise<StackPlan> => {
      const { cluster, problems } = loadSpecFile(inputs.specRoot ?? inputs.repoRoot, specFile, { ignoreFacts: true });
      const before = await basePlan(inputs.repoRoot, inputs.baseRef, specFile);
      let changes: ResourceChange[] = [];
      let rawOutput = '';
      let failed: string | undefined;
      if (!cluster) {
        annotate(log, problems);
        failed = `${specFile} has ${problems.length} problem(s); nothing was previewed`;
      } else {
        try {
          const p = await deps.preview(specFile, stack);
          changes = p.changes;
          rawOutput = p.output;
        } catch (e) {
          failed = e instanceof Error ? e.message : String(e);
          rawOutput = failed;
          log.error(`the preview of ${stack} failed: ${failed.split('\n')[0]}`, { file: specFile });
        }
      }
      const rendered = renderPlanComment({
        stack,
        specFile,
        commitSha: inputs.commitSha,
        ...(inputs.runUrl ? { runUrl: inputs.runUrl } : {}),
        changes,
        ...(before ? { before } : {}),
        ...(cluster ? { after: specView(cluster.spec, recordedFacts(inputs.repoRoot, cluster.spec.name)) } : {}),
        ...(problems.length > 0 ? { problems } : {}),
        rawOutput,
        ...(failed ? { failed } : {}),
      });
      const body = inputs.baseCode ? withNote(rendered, baseCodeNote(inputs.baseCode)) : rendered;
      await log.summary(body);
      let comment: StackPlan['comment'];
      if (inputs.pullRequest && deps.octokit) {
        const r = await upsertComment(deps.octokit, inputs.pullRequest, commentMarker(stack), body);
        comment = r.action;
        log.info(`comment ${r.action}: ${r.url}`);
        if (r.duplicates.length > 0) log.warning(`older plan comments for ${stack} left as they are: ${r.duplicates.join(', ')}`);
        if (r.impostors.length > 0) log.warning(`comments that start with the plan marker of ${stack} but were not written by this workflow, not edited: ${r.impostors.join(', ')}`);
      }
      const counts = changes.reduce<Record<string, number>>((acc, c) => ({ ...acc, [c.op]: (acc[c.op] ?? 0) + 1 }), {});
      log.info(`${stack}: ${failed ? 'failed' : Object.entries(counts).map(([op, n]) => `${n} ${op}`).join(', ') || 'no changes'}`);
      return { stack, specFile, ok: !failed, changes, ...(comment ? { comment } : {}) };
    });
    stacks.push(result);
  }
  for (const specFile of inputs.deleted ?? []) {
    const stack = stackOf(specFile);
    const body = deletedSpecComment({ stack, specFile, commitSha: inputs.commitSha });
    await log.summary(body);
    log.warning(`${specFile} is deleted by this pull request: merging destroys nothing; run the teardown workflow for ${stack} to remove the cluster`, { file: specFile });
    let comment: StackPlan['comment'];
    if (inputs.pullRequest && deps.octokit) {
      const r = await upsertComment(deps.octokit, inputs.pullRequest, commentMarker(stack), body);
      comment = r.action;
      log.info(`comment ${r.action}: ${r.url}`);
    }
    stacks.push({ stack, specFile, ok: true, changes: [], ...(comment ? { comment } : {}) });
  }
  return { ok: stacks.every((s) => s.ok), stacks };
}
