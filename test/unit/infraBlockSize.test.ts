/**
 * The Pulumi program on Equinix Metal for a spec that gives only the
 * block's size (spec.network.blockSize: 56), under Pulumi's mocks: the
 * user-data carries no address of any real block (the machines compute
 * theirs from the metadata's parent block), the facts record the block the
 * provider assigned, and the kubeconfig and the API's DNS record name the
 * ClusterIP inside it. A file of its own: Pulumi's mocks are per process.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as pulumi from '@pulumi/pulumi';
import { parse } from 'yaml';
import { metalMocks, plain, runDfwProgram, valueOf, type Registered } from '../pulumi-mocks.js';
import { checkFacts, decodeFacts, planWithFacts } from '../../lib/plan/facts.js';
import { providerBlock } from '../../lib/platforms/equinixMetal/pulumi.js';
import { RELOCATE_SCRIPT, STAND_IN_HEAD } from '../../lib/render/blockRelocation.js';
import { loadSpecFile } from '../../lib/repo/workspace.js';
import { REPO_DIR } from '../../lib/toolchain/repo.js';

/** What Equinix Metal assigned this project in the metro: not the spec file's example block. */
const PROVIDER_BLOCK = '2604:1380:4641:c500::/56';

const root = mkdtempSync(join(tmpdir(), 'native6-blocksize-'));
mkdirSync(join(root, 'infra'));
const text = readFileSync(join(REPO_DIR, 'infra/dfw.yaml'), 'utf8').replace(/^ {4}block: .*$/m, '    blockSize: 56');
writeFileSync(join(root, 'infra/dfw.yaml'), text);

const registered: Registered[] = [];
let outputs: Record<string, pulumi.Output<unknown>> = {};

describe('Pulumi program: Equinix Metal, the block learned from the provider (mocks)', () => {
  before(async () => {
    outputs = await runDfwProgram(root, metalMocks({ root, registered, block: PROVIDER_BLOCK, deviceNet: '2604:1380:4641:c500::/64' }));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('boots every device with the plan inside the stand-in block, moved at boot; no address of a real block', () => {
    const devices = registered.filter((r) => r.type === 'equinix-metal:index/device:Device');
    assert.equal(devices.length, 6);
    for (const d of devices) {
      const config = parse(String(plain(d.inputs.userData))) as { write_files: Array<{ path: string; content: string }> };
      const all = config.write_files.map((f) => f.content).join('\n');
      assert.ok(all.includes(`${STAND_IN_HEAD}:`), `${d.name}: the plan inside the stand-in`);
      assert.ok(!all.includes('2604:1380') && !all.includes('2001:db8:2a00'), `${d.name}: an address guessed before the project exists`);
      assert.ok(config.write_files.some((f) => f.path === RELOCATE_SCRIPT), `${d.name}: no ${RELOCATE_SCRIPT}`);
    }
  });

  it('records the provider\'s block in the facts, which then plan the real ranges and pass the facts check', async () => {
    const facts = decodeFacts('clusters/dfw/provider-facts.json', JSON.stringify(await valueOf(outputs.facts)));
    assert.ok(facts.ok, JSON.stringify(facts));
    assert.equal(facts.facts.reservedBlock, PROVIDER_BLOCK);
    const { spec, plan } = loadSpecFile(root, 'infra/dfw.yaml', { ignoreFacts: true }).cluster!;
    assert.equal(plan.resolved, false);
    const real = planWithFacts(spec, facts.facts);
    assert.equal(real.resolved, true);
    assert.deepEqual(checkFacts('clusters/dfw/provider-facts.json', facts.facts, spec, real), []);
  });

  it('names the API ClusterIP inside the provider\'s block in the kubeconfig and the DNS record', async () => {
    const kc = parse(await valueOf<string>(outputs.kubeconfig)) as { clusters: Array<{ cluster: { server: string } }> };
    assert.equal(kc.clusters[0]!.cluster.server, 'https://[2604:1380:4641:c501::1]:443');
    const record = registered.find((r) => r.type === 'digitalocean:index/dnsRecord:DnsRecord')!;
    assert.equal(record.inputs.value, '2604:1380:4641:c501::1');
  });
});

describe('the provider\'s block, checked', () => {
  it('is the prefix Equinix Metal names, holding the first device\'s address', () => {
    assert.equal(providerBlock('da', '2604:1380:4641:C500:0::/56', '2604:1380:4641:c500::3'), PROVIDER_BLOCK);
    assert.throws(() => providerBlock('da', undefined, '2604:1380:4641:c500::3'), /^Error: Equinix Metal's public IPv6 block for the project in metro "da" is not there yet \(it is assigned with the project's first device there\): run apply again$/);
    assert.throws(() => providerBlock('da', '2604:1380:4641:c600::/56', '2604:1380:4641:c500::3'), /in metro "da" is 2604:1380:4641:c600::\/56, which does not hold the first device's address 2604:1380:4641:c500::3: open an issue with both$/);
    assert.throws(() => providerBlock('da', '10.0.0.0/8', '2604:1380:4641:c500::3'), /in metro "da" is "10\.0\.0\.0\/8": /);
  });
});
