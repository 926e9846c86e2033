/** The job summaries apply and teardown write (plan's is its comment, tested in comment.test.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applySummary } from '../../lib/workflows/apply.js';
import { teardownSummary } from '../../lib/workflows/teardown.js';

test("apply's summary: one row per stack, what Pulumi changed, the commit, Flux and the Ready nodes", () => {
  assert.equal(
    applySummary([
      { stack: 'dfw', resources: { create: 7, same: 1 }, pulumiUnchanged: false, commit: '0123456789abcdef0123', files: ['clusters/dfw/a.yaml', 'clusters/dfw/b.yaml'], flux: 'installed', readyNodes: 6 },
      { stack: 'lab', resources: { same: 2 }, pulumiUnchanged: true, files: [], flux: 'present', readyNodes: 5 },
    ]),
    [
      '### apply',
      '',
      '| stack | resources | commit | files | Flux | Ready nodes |',
      '| --- | --- | --- | --- | --- | --- |',
      '| dfw | 7 create, 1 same | `0123456789ab` | 2 | installed | 6 |',
      '| lab | unchanged | none (nothing changed) | 0 | present | 5 |',
      '',
    ].join('\n'),
  );
});

test("teardown's summary: what was destroyed and what left the repository", () => {
  assert.equal(
    teardownSummary('dfw', ['clusters/dfw', 'infra/dfw.yaml'], { destroyed: { delete: 9 }, commit: 'fedcba9876543210' }),
    '### teardown dfw\n\n- destroyed: 9 delete\n- removed from the repository: `clusters/dfw`, `infra/dfw.yaml` (commit `fedcba987654`)\n',
  );
  assert.equal(teardownSummary('gone', [], { destroyed: {} }), '### teardown gone\n\n- destroyed: nothing\n- removed from the repository: nothing\n');
});
