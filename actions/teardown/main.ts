/** The teardown action (action.yml): inputs to a plain object, then lib/workflows/actions.ts teardownAction. */
import * as core from '@actions/core';
import { teardownAction } from '../../lib/workflows/actions.js';
import { createCoreLog } from '../_shared/core.js';

async function main(): Promise<void> {
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
    },
    createCoreLog(),
  );
}

main().catch((e: unknown) => core.setFailed(e instanceof Error ? e.message : String(e)));
