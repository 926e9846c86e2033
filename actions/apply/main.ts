/** The apply action (action.yml): inputs to a plain object, then lib/workflows/actions.ts applyAction. */
import * as core from '@actions/core';
import { gitCredentials } from '../../lib/flux/gitSecret.js';
import { applyAction } from '../../lib/workflows/actions.js';
import { createCoreLog, durationInput, listInput } from '../_shared/core.js';

async function main(): Promise<void> {
  // A private repository's credentials (GitHub secrets), for the Secret spec.gitops.secretRef names; masked before use.
  const git = { username: core.getInput('flux-git-username'), password: core.getInput('flux-git-password'), identity: core.getInput('flux-git-identity'), knownHosts: core.getInput('flux-git-known-hosts') };
  for (const v of [git.password, git.identity]) if (v) core.setSecret(v);
  const gitCredentialsGiven = gitCredentials(git);
  const results = await applyAction(
    {
      repoRoot: process.env.GITHUB_WORKSPACE ?? process.cwd(),
      specs: listInput('specs'),
      remote: core.getInput('remote') || 'origin',
      branch: core.getInput('branch', { required: true }),
      fluxTimeoutMs: durationInput('flux-timeout'),
      backendUrl: core.getInput('backend-url', { required: true }),
      passphrase: core.getInput('passphrase', { required: true }),
      metalAuthToken: core.getInput('metal-auth-token'),
      ...(gitCredentialsGiven ? { gitCredentials: gitCredentialsGiven } : {}),
    },
    createCoreLog(),
  );
  core.setOutput('commit', results.map((r) => r.commit).filter(Boolean).pop() ?? '');
}

main().catch((e: unknown) => core.setFailed(e instanceof Error ? e.message : String(e)));
