/**
 * The Pulumi state backend the workflows are given (review bootstrap-2026-12,
 * the tenth would-fail): a file:// backend refused on a GitHub-hosted
 * runner, whose disk goes with the job; an object store's credentials asked
 * for, by name, before any stack opens there; every workflow passing them to
 * its action; the secret ones masked.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { backendKind, BackendError, checkBackend } from '../../lib/pulumi/backend.js';
import { createLineLog } from '../../lib/workflows/log.js';
import { planAction } from '../../lib/workflows/actions.js';
import { REPO_DIR } from '../../lib/toolchain/repo.js';

const HOSTED = { GITHUB_ACTIONS: 'true', RUNNER_ENVIRONMENT: 'github-hosted' };
const SELF_HOSTED = { GITHUB_ACTIONS: 'true', RUNNER_ENVIRONMENT: 'self-hosted' };
/** What a workflow passes when a secret or variable is not set: the empty string. */
const UNSET = { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_REGION: '', GOOGLE_CREDENTIALS: '', AZURE_STORAGE_ACCOUNT: '', AZURE_STORAGE_KEY: '' };

const refused = (url: string, env: Record<string, string>, re: RegExp) =>
  assert.throws(() => checkBackend(url, env), (e: unknown) => e instanceof BackendError && re.test(e.message) && e.message.includes('docs/pulumi.md, "State backends"'));

describe('the Pulumi state backend', () => {
  it('knows the four self-managed kinds and names the variable to fix for anything else', () => {
    assert.deepEqual(['file:///var/lib/state', 's3://b/p', 'gs://b', 'azblob://c'].map(backendKind), ['file', 's3', 'gs', 'azblob']);
    for (const bad of ['', 'https://api.pulumi.com', 's3://', 'S3://b', '/var/lib/state']) {
      assert.throws(() => backendKind(bad), (e: unknown) => e instanceof BackendError && e.message.includes('repository variable PULUMI_BACKEND_URL'), bad);
    }
  });

  it('refuses a file:// backend on a GitHub-hosted runner, whose disk is wiped after the job', () => {
    refused('file:///home/runner/state', { ...HOSTED, ...UNSET }, /wiped after the job.*PULUMI_BACKEND_URL to an object store/);
    // A self-hosted runner, or a person's machine, keeps its folder.
    assert.equal(checkBackend('file:///var/lib/native6/state', SELF_HOSTED).kind, 'file');
    assert.equal(checkBackend('file:///var/lib/native6/state', {}).kind, 'file');
  });

  it('s3:// on a hosted runner: keys or a web identity, and a region', () => {
    refused('s3://state/native6', { ...HOSTED, ...UNSET }, /lacks AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY: .*configure-aws-credentials/);
    refused('s3://state/native6', { ...HOSTED, ...UNSET, AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE' }, /lacks AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/);
    const keys = { ...HOSTED, ...UNSET, AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
    refused('s3://state/native6', keys, /names no region: set AWS_REGION .* or add \?region=<region>/);
    assert.deepEqual(checkBackend('s3://state/native6', { ...keys, AWS_REGION: 'eu-central-1' }), { kind: 's3', secrets: ['wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'] });
    assert.equal(checkBackend('s3://state/native6?region=eu-central-1', keys).kind, 's3');
    assert.equal(checkBackend('s3://state?region=us-east-1', { ...HOSTED, AWS_WEB_IDENTITY_TOKEN_FILE: '/tmp/token', AWS_ROLE_ARN: 'arn:aws:iam::0:role/state' }).kind, 's3');
    // Off a hosted runner, the machine's own credentials (a profile, an instance role) may serve.
    assert.deepEqual(checkBackend('s3://state/native6', SELF_HOSTED), { kind: 's3', secrets: [] });
  });

  it('gs:// on a hosted runner: a key, workload identity or a token', () => {
    refused('gs://state', { ...HOSTED, ...UNSET }, /lacks GOOGLE_CREDENTIALS, GOOGLE_APPLICATION_CREDENTIALS or GOOGLE_OAUTH_ACCESS_TOKEN: .*google-github-actions\/auth/);
    const key = '{\n  "type": "service_account",\n  "private_key": "-----BEGIN PRIVATE KEY-----\\nMIIEexample\\n"\n}';
    assert.deepEqual(checkBackend('gs://state', { ...HOSTED, ...UNSET, GOOGLE_CREDENTIALS: key }), { kind: 'gs', secrets: [key] });
    assert.equal(checkBackend('gs://state', { ...HOSTED, GOOGLE_APPLICATION_CREDENTIALS: '/home/runner/work/_temp/gha-creds.json' }).kind, 'gs');
  });

  it('azblob:// on a hosted runner: the account, and a key, a SAS token, a connection string or an application', () => {
    refused('azblob://state', { ...HOSTED, ...UNSET }, /lacks the storage account \(AZURE_STORAGE_ACCOUNT/);
    refused('azblob://state', { ...HOSTED, ...UNSET, AZURE_STORAGE_KEY: 'a2V5' }, /lacks the storage account/);
    refused('azblob://state', { ...HOSTED, ...UNSET, AZURE_STORAGE_ACCOUNT: 'native6state' }, /lacks the storage account/);
    assert.deepEqual(checkBackend('azblob://state', { ...HOSTED, ...UNSET, AZURE_STORAGE_ACCOUNT: 'native6state', AZURE_STORAGE_KEY: 'a2V5a2V5a2V5' }), { kind: 'azblob', secrets: ['a2V5a2V5a2V5'] });
    assert.equal(checkBackend('azblob://state?storage_account=native6state', { ...HOSTED, AZURE_CLIENT_ID: '00000000-0000-0000-0000-000000000000' }).kind, 'azblob');
  });

  it('the plan action refuses a file:// backend on a hosted runner before it opens any stack', async () => {
    const lines: string[] = [];
    await assert.rejects(
      planAction({ repoRoot: REPO_DIR, specs: ['infra/lab.yaml'], commitSha: '0'.repeat(40), backendUrl: 'file:///home/runner/state', passphrase: 'p', metalAuthToken: '', env: { ...HOSTED, ...UNSET } }, createLineLog((l) => lines.push(l))),
      (e: unknown) => e instanceof BackendError && /wiped after the job/.test(e.message),
    );
    assert.deepEqual(lines, [], 'nothing ran');
  });

  it('the credentials reach the action in every workflow that runs Pulumi, secrets from secrets and names from variables', () => {
    for (const name of ['plan', 'apply', 'teardown', 'recover']) {
      const wf = parse(readFileSync(join(REPO_DIR, `.github/workflows/${name}.yml`), 'utf8')) as { jobs: Record<string, { steps?: Array<{ uses?: string; with?: Record<string, string>; env?: Record<string, string> }> }> };
      // The step that opens stacks: not teardown's check of its environment (mode: check), which runs no Pulumi.
      const step = Object.values(wf.jobs).flatMap((j) => j.steps ?? []).find((s) => s.uses === `./actions/${name}` && s.with?.mode !== 'check');
      assert.ok(step, `${name}.yml runs ./actions/${name}`);
      assert.deepEqual(step.env, {
        AWS_ACCESS_KEY_ID: '${{ secrets.AWS_ACCESS_KEY_ID }}',
        AWS_SECRET_ACCESS_KEY: '${{ secrets.AWS_SECRET_ACCESS_KEY }}',
        AWS_REGION: '${{ vars.AWS_REGION }}',
        GOOGLE_CREDENTIALS: '${{ secrets.GOOGLE_CREDENTIALS }}',
        AZURE_STORAGE_ACCOUNT: '${{ vars.AZURE_STORAGE_ACCOUNT }}',
        AZURE_STORAGE_KEY: '${{ secrets.AZURE_STORAGE_KEY }}',
      }, `${name}.yml`);
      // The metal platform's SSH key: a secret, never a variable.
      assert.equal(step.with?.['ssh-private-key'], '${{ secrets.NATIVE6_SSH_PRIVATE_KEY }}', `${name}.yml`);
    }
  });
});
