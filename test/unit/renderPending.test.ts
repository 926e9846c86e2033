/**
 * A cluster whose spec gives only its block's size is not rendered until
 * apply records the provider's block (every range is carved from it): npm
 * run render's loadAll names it pending, and renders it once the facts are
 * there.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { formatAddress } from '../../lib/net/ipv6.js';
import { loadAll } from '../../lib/repo/workspace.js';
import { REPO_DIR } from '../../lib/toolchain/repo.js';

test('render: a block that is only a size is pending until the facts record it, then rendered with the real ranges', () => {
  const root = mkdtempSync(join(tmpdir(), 'native6-pending-'));
  try {
    mkdirSync(join(root, 'infra'));
    copyFileSync(join(REPO_DIR, 'infra/lab.yaml'), join(root, 'infra/lab.yaml'));
    const text = readFileSync(join(REPO_DIR, 'infra/dfw.yaml'), 'utf8').replace(/^ {4}block: .*$/m, '    blockSize: 56');
    writeFileSync(join(root, 'infra/dfw.yaml'), text);
    const before = loadAll(root);
    assert.deepEqual(before.problems, []);
    assert.deepEqual(before.pending, ['infra/dfw.yaml']);
    assert.deepEqual(before.clusters.map((c) => c.spec.name), ['lab']);

    mkdirSync(join(root, 'clusters/dfw'), { recursive: true });
    copyFileSync(join(REPO_DIR, 'test/fixtures/facts/dfw.json'), join(root, 'clusters/dfw/provider-facts.json'));
    const after = loadAll(root);
    assert.deepEqual(after.problems, []);
    assert.deepEqual(after.pending, []);
    const dfw = after.clusters.find((c) => c.spec.name === 'dfw')!;
    assert.equal(dfw.plan.resolved, true);
    assert.equal(formatAddress(dfw.plan.apiServer), '2001:db8:2a00:1::1');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
