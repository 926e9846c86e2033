/**
 * The CrossGuard pack under the real engine: built once and reused, run by
 * the real Pulumi CLI on a preview of the lab stack (it passes), and a
 * mandatory violation failing a preview.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as pulumi from '@pulumi/pulumi';
import { ensurePolicyPack } from '../../lib/pulumi/policyPack.js';
import { openStack, previewStack } from '../../lib/pulumi/stack.js';
import { pulumiBinary } from '../../lib/toolchain/pulumi.js';
import { REPO_DIR } from '../../lib/toolchain/repo.js';
import { need } from '../prerequisites.js';

const root = REPO_DIR;
const needPulumi = () => need(pulumiBinary(join(root, '.cache')), 'npm run setup -- bin:pulumi');

describe('CrossGuard: the native6 pack under the real CLI', () => {
  let work = '';
  before(() => {
    needPulumi();
    work = mkdtempSync(join(tmpdir(), 'n6-policy-'));
  });
  after(() => rmSync(work, { recursive: true, force: true }));
  const settings = (stackName: string) => ({ repoRoot: root, specFile: 'infra/lab.yaml', stackName, backendUrl: `file://${join(work, 'state')}`, passphrase: 'policy', pulumiHome: join(work, 'home'), workDir: join(work, `ws-${stackName}`) });

  it('is built once, then reused while its sources are unchanged', async () => {
    const runner = await ensurePolicyPack(root);
    const built = statSync(join(runner, '..', 'index.cjs')).mtimeMs;
    assert.equal(await ensurePolicyPack(root), runner);
    assert.equal(statSync(join(runner, '..', 'index.cjs')).mtimeMs, built);
  });

  it('passes a preview of the lab stack, and says it ran', async () => {
    const out = await previewStack(await openStack(settings('lab')), () => {}, { policyPacks: [await ensurePolicyPack(root)] });
    // The diff display lists the packs that ran.
    assert.match(out.output, /Policy Packs run:[\s\S]*native6\|local\|\S+\/policy-pack\/run\s+\d+\.\d+\.\d+/);
  });

  it('fails a preview on a mandatory violation, naming the policy and the resource', async () => {
    const provider: pulumi.dynamic.ResourceProvider = { create: async (inputs: Record<string, unknown>) => ({ id: 'x', outs: inputs }) };
    class Lab extends pulumi.dynamic.Resource {}
    const program = async () => {
      // A lab resource whose Service range left documentation space.
      new Lab(provider, 'lab', { cluster: 'lab', ranges: ['block=2001:db8:100::/56', 'services=2a00:1::/112'] }, {}, 'native6-lab');
    };
    let output = '';
    await assert.rejects(
      previewStack(await openStack({ ...settings('lab'), program }), (s) => (output += s), { policyPacks: [await ensurePolicyPack(root)] }),
      () => true,
    );
    assert.match(output, /lab-documentation-space/);
    assert.match(output, /mandatory/);
    assert.match(output, /lab range services is 2a00:1::\/112: the lab uses 2001:db8::\/32 only/);
  });
});

describe('the cluster secrets and the admin credential under the real engine', () => {
  let work = '';
  before(() => {
    needPulumi();
    work = mkdtempSync(join(tmpdir(), 'n6-secrets-'));
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it('are made by up, kept secret in the state, unchanged by a second up, and the admin certificate is the CA\'s', async () => {
    const { AdminCredential, ClusterSecrets } = await import('../../lib/pki/clusterSecrets.js');
    const program = async () => {
      const s = new ClusterSecrets('dfw-secrets', { cluster: 'dfw' });
      const admin = new AdminCredential('dfw-admin', { cluster: 'dfw', caCertPem: s.caCertPem, caKeyPem: pulumi.secret(s.caKeyPem) });
      return { caCertPem: s.caCertPem, caCertHash: s.caCertHash, token: s.bootstrapToken, adminCertPem: admin.certPem, adminKeyPem: admin.keyPem, notAfter: admin.notAfter };
    };
    const stack = await openStack({ repoRoot: root, specFile: 'infra/dfw.yaml', stackName: 'dfw', backendUrl: `file://${join(work, 'state')}`, passphrase: 'secrets', pulumiHome: join(work, 'home'), workDir: join(work, 'ws'), program });
    const first = await stack.up({ color: 'never' });
    assert.deepEqual(first.summary.resourceChanges, { create: 3 }, "the two resources and their provider");
    assert.equal(first.outputs.token!.secret, true, 'the bootstrap token is secret');
    assert.equal(first.outputs.adminKeyPem!.secret, true, 'the admin key is secret');
    assert.match(String(first.outputs.token!.value), /^[a-z0-9]{6}\.[a-z0-9]{16}$/);
    const { X509Certificate } = await import('node:crypto');
    const ca = new X509Certificate(String(first.outputs.caCertPem!.value));
    assert.ok(new X509Certificate(String(first.outputs.adminCertPem!.value)).verify(ca.publicKey));
    const second = await stack.up({ color: 'never' });
    assert.deepEqual(second.summary.resourceChanges, { same: 3 });
    assert.equal(second.outputs.caCertHash!.value, first.outputs.caCertHash!.value);
    assert.equal(second.outputs.token!.value, first.outputs.token!.value);
    // The backend's file holds secrets as ciphertext only (exportStack would decrypt them).
    const file = join(work, 'state', '.pulumi', 'stacks', 'native6', 'dfw.json');
    const onDisk = readFileSync(file, 'utf8');
    assert.ok(onDisk.includes('"ciphertext"'));
    assert.ok(!onDisk.includes(String(first.outputs.token!.value)), 'the bootstrap token is not in the state in clear');
    assert.ok(!onDisk.includes('PRIVATE KEY'), 'no private key is in the state in clear');
  });
});
