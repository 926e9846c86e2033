/**
 * The CrossGuard pack under the real engine: built once and reused, run by
 * the real Pulumi CLI on a preview of the lab stack (it passes), and a
 * mandatory violation failing a preview.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as pulumi from '@pulumi/pulumi';
import { ensurePolicyPack } from '../../lib/infra/policyPack.js';
import { openStack, previewStack } from '../../lib/infra/stack.js';
import { pulumiBinary } from '../../lib/toolchain/pulumi.js';
import { repoRoot } from '../../scripts/common.js';

const root = repoRoot();
const skip = existsSync(pulumiBinary(join(root, '.cache'))) ? false : 'the Pulumi CLI is not built: npm run setup -- bin:pulumi';

describe('CrossGuard: the native6 pack under the real CLI', { skip }, () => {
  let work = '';
  before(() => {
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
