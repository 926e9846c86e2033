/** The plan action (action.yml): inputs to a plain object, then lib/workflows/actions.ts planAction. */
import * as core from '@actions/core';
import * as github from '@actions/github';
import { planAction } from '../../lib/workflows/actions.js';
import { createCoreLog, listInput } from '../_shared/core.js';
import { createOctokit } from '../../lib/workflows/github.js';

async function main(): Promise<void> {
  const log = createCoreLog();
  const token = core.getInput('github-token');
  if (token) log.secret(token);
  const { context } = github;
  const pr = context.payload.pull_request;
  const result = await planAction(
    {
      repoRoot: process.env.GITHUB_WORKSPACE ?? process.cwd(),
      specs: listInput('specs'),
      ...(core.getInput('base-ref') ? { baseRef: core.getInput('base-ref') } : {}),
      commitSha: (pr?.head as { sha?: string } | undefined)?.sha ?? context.sha,
      runUrl: `${context.serverUrl}/${context.repo.owner}/${context.repo.repo}/actions/runs/${context.runId}`,
      ...(pr ? { pullRequest: { owner: context.repo.owner, repo: context.repo.repo, number: pr.number } } : {}),
      backendUrl: core.getInput('backend-url', { required: true }),
      passphrase: core.getInput('passphrase', { required: true }),
      metalAuthToken: core.getInput('metal-auth-token'),
      sshPrivateKey: core.getInput('ssh-private-key'),
      ...(core.getInput('spec-dir') ? { specDir: core.getInput('spec-dir') } : {}),
      ...(core.getInput('head-sha') ? { headSha: core.getInput('head-sha').trim() } : {}),
      ...(token ? { auth: { token, serverUrl: context.serverUrl } } : {}),
    },
    log,
    token ? createOctokit(token, { log }) : undefined,
  );
  core.setOutput('changes', JSON.stringify(Object.fromEntries(result.stacks.map((s) => [s.stack, s.changes.length]))));
  if (!result.ok) core.setFailed(`plan failed for ${result.stacks.filter((s) => !s.ok).map((s) => s.stack).join(', ')}: see the annotations and the PR comment`);
}

main().catch((e: unknown) => core.setFailed(e instanceof Error ? e.message : String(e)));
