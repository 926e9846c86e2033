/** The recover action (action.yml): inputs to a plain object, then lib/workflows/actions.ts recoverAction. */
import * as core from '@actions/core';
import { recoverAction } from '../../lib/workflows/actions.js';
import { createCoreLog } from '../_shared/core.js';

async function main(): Promise<void> {
  await recoverAction(
    {
      repoRoot: process.env.GITHUB_WORKSPACE ?? process.cwd(),
      stack: core.getInput('stack', { required: true }).trim(),
      backendUrl: core.getInput('backend-url', { required: true }),
      passphrase: core.getInput('passphrase', { required: true }),
      metalAuthToken: core.getInput('metal-auth-token'),
      sshPrivateKey: core.getInput('ssh-private-key'),
    },
    createCoreLog(),
  );
}

main().catch((e: unknown) => core.setFailed(e instanceof Error ? e.message : String(e)));
