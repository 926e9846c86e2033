/** The apply action (action.yml): inputs to a plain object, then lib/workflows/actions.ts applyAction. */
import * as core from '@actions/core';
import { gitCredentials } from '../../lib/flux/gitSecret.js';
import * as github from '@actions/github';
import { remoteFileState } from '../../lib/repo/git.js';
import { applyAction, resolveSpecs } from '../../lib/workflows/actions.js';
import { createCoreLog, durationInput, listInput } from '../_shared/core.js';

async function main(): Promise<void> {
  // A private repository's credentials (GitHub secrets), for the Secret spec.gitops.secretRef names; masked before use.
  const git = { username: core.getInput('flux-git-username'), password: core.getInput('flux-git-password'), identity: core.getInput('flux-git-identity'), knownHosts: core.getInput('flux-git-known-hosts') };
  for (const v of [git.password, git.identity]) if (v) core.setSecret(v);
  const gitCredentialsGiven = gitCredentials(git);
  const log = createCoreLog();
  const token = core.getInput('github-token');
  if (token) log.secret(token);
  const auth = token ? { token, serverUrl: github.context.serverUrl } : undefined;
  const repoRoot = process.env.GITHUB_WORKSPACE ?? process.cwd();
  const remote = core.getInput('remote') || 'origin';
  const branch = core.getInput('branch', { required: true });
  // Only what the branch still holds (#15, M4): a spec that main changed since this run's commit is
  // applied by the run of that change; one removed from main (a teardown) is not brought back.
  const specs: string[] = [];
  const skipped: string[] = [];
  for (const spec of resolveSpecs(repoRoot, listInput('specs'))) {
    const r = await remoteFileState({ cwd: repoRoot, remote, branch, path: spec, ...(auth ? { auth } : {}) });
    if (r.state === 'same') specs.push(spec);
    else {
      skipped.push(spec);
      const line = `apply of ${spec} skipped: ${remote}/${branch} (${r.remoteCommit.slice(0, 12)}) ${r.state === 'missing' ? 'no longer has it (torn down or removed)' : 'holds another version of it than this run\'s commit'} ${(process.env.GITHUB_SHA ?? '').slice(0, 12)}; ${r.state === 'missing' ? 'nothing to apply' : 'the run of the commit that changed it applies it'}`;
      log.info(line);
      core.notice(line);
    }
  }
  core.setOutput('skipped', skipped.join('\n'));
  if (specs.length === 0) {
    core.setOutput('commit', '');
    return;
  }
  const results = await applyAction(
    {
      repoRoot,
      specs,
      remote,
      branch,
      ...(auth ? { auth } : {}),
      fluxTimeoutMs: durationInput('flux-timeout'),
      backendUrl: core.getInput('backend-url', { required: true }),
      passphrase: core.getInput('passphrase', { required: true }),
      metalAuthToken: core.getInput('metal-auth-token'),
      sshPrivateKey: core.getInput('ssh-private-key'),
      ...(core.getInput('commit-signing-key') ? { commitSigningKey: core.getInput('commit-signing-key') } : {}),
      ...(gitCredentialsGiven ? { gitCredentials: gitCredentialsGiven } : {}),
    },
    log,
  );
  core.setOutput('commit', results.map((r) => r.commit).filter(Boolean).pop() ?? '');
}

main().catch((e: unknown) => core.setFailed(e instanceof Error ? e.message : String(e)));
