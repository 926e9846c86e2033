/**
 * A bootstrap rendered before the provider's block is known
 * (spec.network.blockSize), moved on the machine into the block its
 * metadata names: native6-relocate run by bash on the rendered files, each
 * then compared with the file rendered with that block. And the boot
 * script's lines that learn the block and run it, with the metadata
 * fixtures' parent_block read by jq as the machine reads it.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { formatAddress, parsePrefix } from '../../lib/net/ipv6.js';
import { planInBlock } from '../../lib/plan/addressPlan.js';
import { loadCluster } from '../../lib/platforms/load.js';
import { EQUINIX_DISCOVERY } from '../../lib/platforms/equinixMetal/cloudInit.js';
import { BLOCK_FILE, RELOCATE_SCRIPT, STAND_IN_HEAD, relocateScript, relocationLines, standInBlock } from '../../lib/render/blockRelocation.js';
import { BOOT_SCRIPT, nodeBootstrap, type BootFile, type BootSecrets } from '../../lib/render/bootstrap.js';
import { REPO_DIR } from '../../lib/toolchain/repo.js';

const dfwText = readFileSync(join(REPO_DIR, 'infra/dfw.yaml'), 'utf8');
const sizeOnly = dfwText.replace(/^ {4}block: .*$/m, '    blockSize: 56');
const loaded = loadCluster('infra/dfw.yaml', sizeOnly);
if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
const { spec, plan } = loaded;

const secrets: BootSecrets = {
  bootstrapToken: 'abcdef.0123456789abcdef',
  certificateKey: 'c'.repeat(64),
  caCertPem: '-----BEGIN CERTIFICATE-----\nplaceholder\n-----END CERTIFICATE-----\n',
  caKeyPem: '-----BEGIN EC PRIVATE KEY-----\nplaceholder\n-----END EC PRIVATE KEY-----\n',
  caCertHash: `sha256:${'1'.repeat(64)}`,
};

/** Blocks as a provider might write them: zero groups in every place, leading zeros, upper case. */
const BLOCKS = ['2604:1380:4641:c500::/56', '2001:0:0:ff00::/56', '2A01:0db8:00ab:0000::/56', '2604:1380:0:0::/56'];

function relocate(block: string, files: readonly BootFile[]): { dir: string; run: ReturnType<typeof spawnSync> } {
  const dir = mkdtempSync(join(tmpdir(), 'native6-relocate-'));
  for (const f of files) {
    mkdirSync(dirname(join(dir, f.path)), { recursive: true });
    writeFileSync(join(dir, f.path), f.content, { mode: Number.parseInt(f.mode, 8) });
  }
  const script = files.find((f) => f.path === RELOCATE_SCRIPT)!;
  const targets = files.filter((f) => f.path !== RELOCATE_SCRIPT).map((f) => join(dir, f.path));
  const run = spawnSync('bash', ['-c', script.content, 'native6-relocate', block, ...targets], { encoding: 'utf8' });
  return { dir, run };
}

/** The boot script without the lines only a relative bootstrap has (they name files, no address). */
function withoutRelocation(script: string): string {
  return script.replace(/# The plan is relative to the block[\s\S]*?\n\[ "\$\(cat [^\n]*\n/, '');
}

describe('a bootstrap rendered inside the stand-in block, moved into the provider\'s', () => {
  it('is rendered inside the stand-in: every address of the plan, none of another block, and the script that moves them', () => {
    assert.equal(plan.resolved, false);
    const boot = nodeBootstrap(spec, plan, plan.machines[0]!, secrets, EQUINIX_DISCOVERY);
    const text = boot.files.map((f) => f.content).join('\n');
    assert.ok(text.includes(`[${STAND_IN_HEAD}:b10c:b101::1]:443`), 'the ClusterIP is the first host of the stand-in\'s second /64');
    assert.equal(standInBlock(56).address.toString(16), '3fffb10cb10cb1000000000000000000');
    assert.ok(!/2001:db8:2a00/.test(text), 'no address of the spec file\'s example block');
    assert.ok(boot.files.some((f) => f.path === RELOCATE_SCRIPT && f.mode === '0700'));
    const script = boot.files.find((f) => f.path === BOOT_SCRIPT)!.content;
    execFileSync('bash', ['-n'], { input: script });
    execFileSync('bash', ['-n'], { input: relocateScript(56) });
  });

  for (const block of BLOCKS) {
    it(`moved into ${block}: each file as rendered with that block, byte for byte`, () => {
      const prefix = parsePrefix(block.toLowerCase());
      const absolute = planInBlock(spec, prefix);
      for (const machine of plan.machines.filter((m) => m.index === 1)) {
        const rel = nodeBootstrap(spec, plan, machine, secrets, EQUINIX_DISCOVERY);
        const abs = nodeBootstrap(spec, absolute, absolute.machines.find((m) => m.name === machine.name)!, secrets, EQUINIX_DISCOVERY);
        const { dir, run } = relocate(block, rel.files);
        try {
          assert.equal(run.status, 0, `${machine.name}: ${run.stderr}`);
          assert.deepEqual(
            rel.files.filter((f) => f.path !== RELOCATE_SCRIPT).map((f) => f.path),
            abs.files.map((f) => f.path),
          );
          for (const f of abs.files) {
            const moved = readFileSync(join(dir, f.path), 'utf8');
            assert.equal(f.path === BOOT_SCRIPT ? withoutRelocation(moved) : moved, f.content, `${machine.name}: ${f.path}`);
          }
          // Run again: nothing left to move, nothing changed.
          const again = spawnSync('bash', ['-c', rel.files.find((f) => f.path === RELOCATE_SCRIPT)!.content, 'native6-relocate', block, join(dir, BOOT_SCRIPT)], { encoding: 'utf8' });
          assert.equal(again.status, 0, again.stderr);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }
    });
  }

  it('writes every moved address as RFC 5952 does (formatAddress): 400 offsets, zero groups anywhere, into blocks with zero groups', () => {
    // A deterministic generator: groups zero half the time, so runs of zeros of every length and place.
    let seed = 0x6e36;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    const group = () => (next() % 2 === 0 ? 0n : BigInt(next() % 0x10000));
    const offsets = Array.from({ length: 400 }, () => {
      let a = group() & 0xffn; // the low byte of the /56's fourth group
      for (let i = 0; i < 4; i++) a = (a << 16n) | group();
      return a;
    });
    const standIn = standInBlock(56).address;
    const text = offsets.map((o) => `${formatAddress(standIn | o)}\n`).join('');
    for (const block of ['2001:0:0:ff00::/56', '2604:1380:0:0::/56', '0:0:0:100::/56', '2001:db8:1:2300::/56']) {
      const file: BootFile = { path: '/etc/addresses', mode: '0644', content: text };
      const { dir, run } = relocate(block, [file, { path: RELOCATE_SCRIPT, mode: '0700', content: relocateScript(56) }]);
      try {
        assert.equal(run.status, 0, String(run.stderr));
        const want = offsets.map((o) => `${formatAddress(parsePrefix(block).address | o)}\n`).join('');
        assert.equal(readFileSync(join(dir, file.path), 'utf8'), want, block);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  it('refuses a block of another size, with bits past its length, or not a prefix, and leaves no stand-in address unmoved', () => {
    const files = nodeBootstrap(spec, plan, plan.machines[0]!, secrets, EQUINIX_DISCOVERY).files;
    const refused = (block: string) => {
      const { dir, run } = relocate(block, files);
      rmSync(dir, { recursive: true, force: true });
      assert.notEqual(run.status, 0, block);
      return String(run.stderr).trim();
    };
    assert.equal(refused('2604:1380:4641:c500::/48'), 'native6-relocate: the provider\'s block 2604:1380:4641:c500::/48 is not a /56, the size the plan was made for (spec.network.blockSize)');
    assert.equal(refused('2604:1380:4641:c501::/56'), 'native6-relocate: the provider\'s block 2604:1380:4641:c501::/56 has bits set past its /56');
    assert.equal(refused('null'), 'native6-relocate: the provider\'s block is "null", not an IPv6 prefix');
    assert.equal(refused('2604:1380::4641::/56'), 'native6-relocate: the provider\'s block 2604:1380::4641::/56 is not an IPv6 prefix');
    // An address that only looks like the stand-in's (another block's bits after its head) is refused, not moved.
    const odd: BootFile[] = [...files, { path: '/etc/odd.conf', mode: '0644', content: `x ${STAND_IN_HEAD}:1::1\n` }];
    const { dir, run } = relocate('2604:1380:4641:c500::/56', odd);
    rmSync(dir, { recursive: true, force: true });
    assert.match(String(run.stderr), /odd\.conf: 3fff:b10c:1::1 is not an address of the stand-in block/);
  });

  it('has a stand-in for every size from /32 to /64, and none for another', () => {
    assert.deepEqual(standInBlock(32), { address: 0x3fffb10c000000000000000000000000n, length: 32 });
    assert.deepEqual(standInBlock(64), { address: 0x3fffb10cb10cb10c0000000000000000n, length: 64 });
    for (const length of [31, 65]) assert.throws(() => standInBlock(length), { message: `a stand-in block is a /32 to /64, not a /${length}` });
  });
});

describe('the boot script learns the block from the metadata and moves the plan into it, once', () => {
  const boot = nodeBootstrap(spec, plan, plan.machines[0]!, secrets, EQUINIX_DISCOVERY);
  const script = boot.files.find((f) => f.path === BOOT_SCRIPT)!.content;
  const lines = script.split('\n');
  const from = lines.findIndex((l) => l.startsWith('block='));
  const to = lines.findIndex((l) => l.startsWith('[ "$(cat '));

  /** The discovery's block lines and the relocation, run by bash with the metadata fixture, the paths under a folder of the test's. */
  function run(metadata: string, blockFile: string | undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'native6-boot-block-'));
    try {
      const part = lines
        .slice(from, to + 1)
        .join('\n')
        .replaceAll(BLOCK_FILE, join(dir, 'block'))
        .replaceAll(RELOCATE_SCRIPT, join(dir, 'relocate'))
        .replace(/exec \S+/, `echo "exec: $block"; echo "recorded: $(cat ${join(dir, 'block')})"; exit 0`);
      writeFileSync(join(dir, 'relocate'), '#!/bin/bash\necho "relocate: $*"\n', { mode: 0o755 });
      if (blockFile) writeFileSync(join(dir, 'block'), `${blockFile}\n`);
      const prelude = 'set -Eeuo pipefail\nlog() { echo "log: $*"; }\nfail() { echo "failed: $*"; exit 1; }\n';
      const r = spawnSync('bash', ['-c', `${prelude}meta=$(cat ${JSON.stringify(metadata)})\n${part}\necho "kept: $block"`], { encoding: 'utf8' });
      return r.stdout.replaceAll(dir, '<dir>');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const fixture = (name: string) => join(REPO_DIR, 'test/fixtures/metadata', `${name}.json`);

  it('at the first run: the parent block of the machine\'s address, every file with an address moved, the block recorded, then the script again', () => {
    assert.ok(from > 0 && to > from, script);
    const out = run(fixture('dfw-cp-1'), undefined);
    assert.match(out, /^log: the provider's block is 2001:db8:2a00::\/56: the plan's addresses moved into it\nrelocate: 2001:db8:2a00::\/56 \/etc\/native6\/kubeadm-init\.yaml \/etc\/native6\/kubeadm-join\.yaml .*\/usr\/local\/sbin\/native6-boot\nexec: 2001:db8:2a00::\/56\nrecorded: 2001:db8:2a00::\/56\n$/);
    for (const f of ['/etc/native6/api-bootstrap.nft', '/usr/local/sbin/native6-api-handover', '/etc/native6/host-firewall.nft']) assert.ok(out.includes(f) || !boot.files.some((b) => b.path === f), f);
  });

  it('at a later run: the block recorded and the same, nothing moved again; another block is a failure that says both', () => {
    assert.equal(run(fixture('dfw-cp-1'), '2001:db8:2a00::/56'), 'kept: 2001:db8:2a00::/56\n');
    assert.equal(run(fixture('dfw-cp-1'), '2001:db8:9900::/56'), 'failed: the addresses were moved into 2001:db8:9900::/56, the metadata now says 2001:db8:2a00::/56\n');
  });

  it('a metadata document without a parent block fails the boot with the reason', () => {
    const dir = mkdtempSync(join(tmpdir(), 'native6-meta-'));
    try {
      const doc = JSON.parse(readFileSync(fixture('dfw-general-1'), 'utf8')) as { network: { addresses: Array<Record<string, unknown>> } };
      for (const a of doc.network.addresses) delete a.parent_block;
      writeFileSync(join(dir, 'meta.json'), JSON.stringify(doc));
      assert.equal(run(join(dir, 'meta.json'), undefined), 'failed: no parent block for this machine\'s address in the metadata\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a platform whose discovery cannot learn the block is refused when rendering, saying what to write instead', () => {
    assert.throws(() => relocationLines({}, ['/etc/native6/kubeadm-init.yaml']), {
      message: 'the platform gives no way for a machine to learn its block, which spec.network.blockSize needs: name the block (spec.network.block)',
    });
  });
});
