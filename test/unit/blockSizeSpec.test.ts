/**
 * spec.network.block written as only a size (`block: /56`, or 56): refused
 * at its line with the field that says "learn it" where the platform can
 * (blockSize), the prefix otherwise.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { formatProblem } from '../../lib/cluster/problems.js';
import { loadCluster } from '../../lib/platforms/load.js';
import { REPO_DIR } from '../../lib/toolchain/repo.js';

const problems = (file: string, block: string) => {
  const text = readFileSync(join(REPO_DIR, file), 'utf8').replace(/^( {4}block: ).*$/m, `$1${block}`);
  const r = loadCluster(file, text);
  return r.ok ? [] : r.problems.map(formatProblem);
};

test('block: a size where the prefix goes: blockSize on equinix-metal, the prefix on the lab', () => {
  const learn = 'Fix: write "blockSize: 56" instead of block to use the block the provider assigns (apply records it), or the prefix you hold, e.g. 2001:db8:100::/56';
  assert.deepEqual(problems('infra/dfw.yaml', '/56'), [`infra/dfw.yaml:22:12: spec.network.block: is only a size (/56); block is the prefix itself. ${learn}`]);
  assert.deepEqual(problems('infra/dfw.yaml', '56'), [`infra/dfw.yaml:22:12: spec.network.block: is only a size (/56); block is the prefix itself. ${learn}`]);
  assert.deepEqual(problems('infra/dfw.yaml', '"/48"'), ['infra/dfw.yaml:22:12: spec.network.block: is only a size (/48); block is the prefix itself. Fix: write the prefix you hold, e.g. 2001:db8:100::/48']);
  assert.deepEqual(problems('infra/lab.yaml', '/56'), ['infra/lab.yaml:17:12: spec.network.block: is only a size (/56); block is the prefix itself. Fix: write the prefix you hold, e.g. 2001:db8:100::/56']);
  assert.deepEqual(problems('infra/dfw.yaml', '/7'), ['infra/dfw.yaml:22:12: spec.network.block: is only a size (/7); block is the prefix itself. Fix: write the prefix you hold, a /32 to /60, e.g. 2001:db8:100::/56']);
  // The prefix itself, and blockSize, as before.
  assert.deepEqual(problems('infra/dfw.yaml', '2001:db8:2a00::/56'), []);
  const sized = loadCluster('infra/dfw.yaml', readFileSync(join(REPO_DIR, 'infra/dfw.yaml'), 'utf8').replace(/^ {4}block: .*$/m, '    blockSize: 56'));
  assert.ok(sized.ok);
});
