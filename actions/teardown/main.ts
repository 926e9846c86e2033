/** The teardown action (action.yml): inputs to a plain object, then lib/workflows/actions.ts teardownAction (or, in mode check, only the environment's check). */
import * as core from '@actions/core';
import * as github from '@actions/github';
import { teardownAction } from '../../lib/workflows/actions.js';
import { createOctokit } from '../../lib/workflows/github.js';
import { checkTeardownEnvironment, refuseWhileApplying } from '../../lib/workflows/teardown.js';
import { createCoreLog } from '../_shared/core.js';

async function main(): Promise<void> {
  const log = createCoreLog();
  const mode = core.getInput('mode') || 'teardown';
  if (mode !== 'teardown' && mode !== 'check') throw new Error(`input mode: "${mode}" is neither teardown nor check`);
  const token = core.getInput('github-token', { required: true });
  log.secret(token);
  // The push's token: the GitHub App's where the workflow gives one (#15, H1), else the workflow's.
  const pushToken = core.getInput('push-token') || token;
  log.secret(pushToken);
  const { context } = github;
  const octokit = createOctokit(token, { log });
  // Both modes: no destroy unless the teardown environment makes someone approve it (#15, H2),
  // and none while an apply run is queued or running (#15, M4: teardown's group is its own).
  await checkTeardownEnvironment(octokit, context.repo, log);
  await refuseWhileApplying(octokit, context.repo, core.getInput('stack', { required: true }).trim());
  if (mode === 'check') return;
  await teardownAction(
    {
      repoRoot: process.env.GITHUB_WORKSPACE ?? process.cwd(),
      stack: core.getInput('stack', { required: true }).trim(),
      confirm: core.getInput('confirm', { required: true }).trim(),
      remote: core.getInput('remote') || 'origin',
      branch: core.getInput('branch', { required: true }),
      backendUrl: core.getInput('backend-url', { required: true }),
      passphrase: core.getInput('passphrase', { required: true }),
      metalAuthToken: core.getInput('metal-auth-token'),
      sshPrivateKey: core.getInput('ssh-private-key'),
      ...(core.getInput('commit-signing-key') ? { commitSigningKey: core.getInput('commit-signing-key') } : {}),
      auth: { token: pushToken, serverUrl: context.serverUrl },
    },
    log,
  );
}

main().catch((e: unknown) => core.setFailed(e instanceof Error ? e.message : String(e)));
