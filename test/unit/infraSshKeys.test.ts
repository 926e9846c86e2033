/**
 * The devices' SSH keys on Equinix Metal (review security-2026-12 L6),
 * under Pulumi's mocks: with spec.sshKeys, one project key per operator key,
 * named by its fingerprint, and every device given exactly those; the
 * stack's secrets keep no private SSH key (the sealed key, used when the
 * spec names none, has only its public half: infra.test.ts checks that
 * case), and a stack made before loses the private half it kept, and
 * nothing else, at its next apply. A file of its own: Pulumi's mocks are
 * per process.
 */
import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { metalMocks, runDfwProgram, type Registered } from '../pulumi-mocks.js';
import { sshFingerprint } from '../../lib/cluster/sshKeys.js';
import { generateClusterSecrets, secretsDiff, withoutDropped } from '../../lib/pki/clusterSecrets.js';
import { generateSshKey } from '../../lib/pki/sshKey.js';
import { REPO_DIR } from '../../lib/toolchain/repo.js';

function ed25519(comment: string): string {
  const x = Buffer.from(generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }).x!, 'base64url');
  const s = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  return `ssh-ed25519 ${Buffer.concat([s(Buffer.from('ssh-ed25519')), s(x)]).toString('base64')} ${comment}`;
}
const KEYS = [ed25519('alice@laptop'), generateSshKey('bob@desk').publicKeyOpenSsh];

const root = mkdtempSync(join(tmpdir(), 'native6-sshkeys-'));
mkdirSync(join(root, 'infra'));
writeFileSync(join(root, 'infra/dfw.yaml'), `${readFileSync(join(REPO_DIR, 'infra/dfw.yaml'), 'utf8')}  sshKeys:\n${KEYS.map((k) => `    - ${k}\n`).join('')}`);

const registered: Registered[] = [];

describe('Pulumi program: Equinix Metal, the operators\' SSH keys (mocks)', () => {
  before(async () => {
    await runDfwProgram(root, metalMocks({ root, registered, block: '2001:db8:2a00::/56', deviceNet: '2001:db8:2a00:f::/64' }));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('registers one project key per operator key, named by its fingerprint, and no sealed key', () => {
    const keys = registered.filter((r) => r.type === 'equinix-metal:index/projectSshKey:ProjectSshKey');
    assert.deepEqual(keys.map((k) => String(k.inputs.publicKey)), KEYS);
    assert.deepEqual(keys.map((k) => k.inputs.name), ['native6-dfw alice@laptop', 'native6-dfw bob@desk']);
    for (const k of keys) {
      assert.match(k.name, /^dfw-ssh-[0-9a-f]{12}$/);
      assert.equal(k.inputs.projectId, 'dfw-project-id');
    }
    assert.notEqual(keys[0]!.name, keys[1]!.name);
    assert.notEqual(sshFingerprint(KEYS[0]!), sshFingerprint(KEYS[1]!));
    assert.ok(!keys.some((k) => k.name === 'dfw-ssh'), 'the sealed key is not registered when the spec names keys');
  });

  it('gives every device exactly the operators\' keys', () => {
    const ids = registered.filter((r) => r.type === 'equinix-metal:index/projectSshKey:ProjectSshKey').map((k) => `${k.name}-id`);
    const devices = registered.filter((r) => r.type === 'equinix-metal:index/device:Device');
    assert.equal(devices.length, 6);
    for (const d of devices) assert.deepEqual(d.inputs.projectSshKeyIds, ids, String(d.inputs.hostname));
  });

  it('keeps no private SSH key in the stack\'s secrets: the sealed key is a public half whose private half nobody has', () => {
    const s = generateClusterSecrets('dfw') as unknown as Record<string, unknown>;
    assert.equal(s.sshPrivateKeyPem, undefined);
    assert.match(String(s.sshPublicKey), /^ecdsa-sha2-nistp256 [A-Za-z0-9+/=]+ native6-dfw-sealed$/);
    for (const [k, v] of Object.entries(s)) {
      if (typeof v !== 'string' || !v.includes('PRIVATE KEY')) continue;
      // Every private key left is a CA's or the service accounts': none is the sealed key's.
      assert.ok(['caKeyPem', 'frontProxyCaKeyPem', 'etcdCaKeyPem', 'saKeyPem'].includes(k), k);
      assert.equal(createPrivateKey(v).asymmetricKeyType, 'ec');
    }
  });

  it('a stack made before: its secrets are updated in place to drop the private SSH key, every other value kept; otherwise no change', () => {
    const now = { cluster: 'dfw', ...generateClusterSecrets('dfw') };
    const before = { ...now, sshPrivateKeyPem: generateSshKey().privateKeyPem };
    assert.deepEqual(secretsDiff(before, { cluster: 'dfw' }), { changes: true, replaces: [], deleteBeforeReplace: false });
    assert.deepEqual(withoutDropped(before), now);
    assert.deepEqual(secretsDiff(now, { cluster: 'dfw' }), { changes: false, replaces: [], deleteBeforeReplace: false });
    assert.deepEqual(secretsDiff(now, { cluster: 'ord' }), { changes: true, replaces: ['cluster'], deleteBeforeReplace: false });
  });
});
