/**
 * Recovering a stack after an interrupted up (review security-2026-12 M5), under the real Pulumi
 * CLI with a DIY (file://) backend: what an interrupted run leaves (its lock file, a create it
 * started and never finished) makes the next up fail with the lock error, which isLockedError()
 * knows; recoverStack() removes the lock, names the pending create and drops it from the state by
 * a refresh; the next up then runs. Everything is made in a temporary folder and removed.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isLockedError, openStack, recoverStack } from '../../lib/pulumi/stack.js';
import { pulumiBinary } from '../../lib/toolchain/pulumi.js';
import { REPO_DIR } from '../../lib/toolchain/repo.js';
import { need } from '../prerequisites.js';

test('an interrupted up: locked, then recovered (lock removed, pending create named and cleared), then up runs', { timeout: 300_000 }, async () => {
  need(pulumiBinary(join(REPO_DIR, '.cache')), 'npm run setup -- bin:pulumi');
  const work = mkdtempSync(join(tmpdir(), 'n6-recover-'));
  try {
    const { ClusterSecrets } = await import('../../lib/pki/clusterSecrets.js');
    const program = async () => {
      const s = new ClusterSecrets('rec-secrets', { cluster: 'rec' });
      return { caCertHash: s.caCertHash };
    };
    const state = join(work, 'state');
    const stack = await openStack({ repoRoot: REPO_DIR, specFile: 'infra/rec.yaml', stackName: 'rec', backendUrl: `file://${state}`, passphrase: 'recover', pulumiHome: join(work, 'home'), workDir: join(work, 'ws'), program });
    const first = await stack.up({ color: 'never' });
    assert.deepEqual(first.summary.resourceChanges, { create: 2 });

    // What a runner lost mid-up leaves: a create it started (a pending operation in the stack's checkpoint
    // file, as the engine writes it before asking the provider; `stack import` would drop it), and its lock file.
    const checkpointFile = join(state, '.pulumi', 'stacks', 'native6', 'rec.json');
    const checkpoint = JSON.parse(readFileSync(checkpointFile, 'utf8')) as { checkpoint: { latest: { resources: Array<{ urn: string; type: string }>; pending_operations?: unknown[] } } };
    const made = checkpoint.checkpoint.latest.resources.find((r) => r.urn.endsWith('::rec-secrets'));
    assert.ok(made, checkpoint.checkpoint.latest.resources.map((r) => `${r.type} ${r.urn}`).join('\n'));
    const urn = made.urn.replace('::rec-secrets', '::rec-half-made');
    checkpoint.checkpoint.latest.pending_operations = [{ resource: { urn, custom: true, type: made.type }, type: 'creating' }];
    writeFileSync(checkpointFile, JSON.stringify(checkpoint));
    const locks = join(state, '.pulumi', 'locks', 'organization', 'native6', 'rec');
    mkdirSync(locks, { recursive: true });
    writeFileSync(join(locks, '7d6c5b4a-0000-4000-8000-000000000001.json'), JSON.stringify({ pid: 4242, username: 'runner', hostname: 'lost-runner', timestamp: '2026-12-07T08:00:00Z' }));

    const locked = await stack.up({ color: 'never' }).then(
      () => assert.fail('up ran on a locked stack'),
      (e: unknown) => String((e as Error).message),
    );
    assert.ok(isLockedError(locked), `the lock error, known: ${locked.split('\n').find((l) => l.includes('lock')) ?? locked.slice(0, 300)}`);
    assert.equal(isLockedError('error: update failed'), false);

    const recovered = await recoverStack(stack);
    assert.deepEqual(recovered.pending, [`creating ${urn}`]);
    assert.deepEqual(readdirSync(locks), [], 'the lock file is gone');
    const after = (await stack.exportStack()).deployment as { pending_operations?: unknown[] };
    assert.deepEqual(after.pending_operations ?? [], [], 'the pending create is cleared from the state');

    const again = await stack.up({ color: 'never' });
    assert.deepEqual(again.summary.resourceChanges, { same: 2 }, 'up runs again, and nothing was lost');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
