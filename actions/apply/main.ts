/** The apply action (action.yml): inputs to a plain object, then lib/workflows/actions.ts applyAction. */
import * as core from '@actions/core';
import { applyAction } from '../../lib/workflows/actions.js';
import { createCoreLog, durationInput, listInput } from '../_shared/core.js';

async function main(): Promise<void> {
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
    },
    createCoreLog(),
  );
  core.setOutput('commit', results.map((r) => r.commit).filter(Boolean).pop() ?? '');
}

main().catch((e: unknown) => core.setFailed(e instanceof Error ? e.message : String(e)));
