/**
 * The tier runner's reading of node:test's TAP output (test/tiers.ts),
 * checked against TAP that node's own reporter writes for a file made here:
 * passes, a failure, a skip at the top and one nested in a suite, a todo.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { closingLine, parseTap, tierBlocker, tierProblems } from '../tiers.js';

function nodeTap(source: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'native6-tap-'));
  const file = join(dir, 'sample.test.mjs');
  writeFileSync(file, source);
  return new Promise((resolve) => {
    // Without NODE_TEST_CONTEXT, which this runner sets for its children: the child reports as a run of its own.
    const { NODE_TEST_CONTEXT: _, ...env } = process.env;
    execFile(process.execPath, ['--test', '--test-reporter=tap', file], { encoding: 'utf8', env }, (_err, stdout) => {
      rmSync(dir, { recursive: true, force: true });
      resolve(stdout);
    });
  });
}

const SAMPLE = `
import { test, describe, it } from 'node:test';
import assert from 'node:assert';
test('passes', () => {});
test('fails', () => assert.equal(1, 2));
test('needs a # in its name', { skip: 'the Pulumi CLI is not built: npm run setup -- bin:pulumi' }, () => {});
describe('a suite', () => {
  it('runs', () => {});
  it('skips inside', (t) => t.skip('openssl is not installed'));
  it('is todo', { todo: 'later' }, () => {});
});
`;

test('parseTap reads node:test\'s closing counts and names every skipped and todo test with its reason', async () => {
  const tap = parseTap(await nodeTap(SAMPLE));
  assert.deepEqual(tap.counts, { tests: 6, pass: 2, fail: 1, cancelled: 0, skipped: 2, todo: 1 });
  assert.deepEqual(tap.skipped, [
    { name: 'needs a # in its name', reason: 'the Pulumi CLI is not built: npm run setup -- bin:pulumi' },
    { name: 'skips inside', reason: 'openssl is not installed' },
  ]);
  assert.deepEqual(tap.todo, [{ name: 'is todo', reason: 'later' }]);
});

test('a tier passes only when every test ran and passed: skips, todos, failures and missing counts are problems', async () => {
  const clean = parseTap(await nodeTap(`import { test } from 'node:test';\ntest('a', () => {});\ntest('b', () => {});\n`));
  assert.deepEqual(tierProblems({ tier: 'unit', exitCode: 0, tap: clean }), []);
  assert.equal(closingLine([{ tier: 'unit', exitCode: 0, tap: clean }]), 'tests: 2 passed, 0 failed, 0 skipped');

  const mixed = { tier: 'integration' as const, exitCode: 1, tap: parseTap(await nodeTap(SAMPLE)) };
  assert.deepEqual(tierProblems(mixed), [
    '1 failed',
    '2 skipped (a test whose prerequisite is missing must fail and name the command that provides it): "needs a # in its name" (the Pulumi CLI is not built: npm run setup -- bin:pulumi), "skips inside" (openssl is not installed)',
    '1 todo: "is todo"',
  ]);
  assert.equal(closingLine([{ tier: 'unit', exitCode: 0, tap: clean }, mixed]), 'tests: 4 passed, 1 failed, 3 skipped');

  // Only skips, exit code 0 (what node:test returns for a run of skips): still a problem.
  const skipsOnly = parseTap(await nodeTap(`import { test } from 'node:test';\ntest('s', { skip: 'needs root' }, () => {});\n`));
  assert.deepEqual(tierProblems({ tier: 'lab', exitCode: 0, tap: skipsOnly }), ['1 skipped (a test whose prerequisite is missing must fail and name the command that provides it): "s" (needs root)']);

  // A runner that died before its summary, and one that ran nothing.
  assert.deepEqual(tierProblems({ tier: 'lab', exitCode: 1, tap: parseTap('TAP version 13\n# Subtest: x\n') }), ['the lab tier printed no closing counts (the test runner exited with 1 before the end)']);
  const none = parseTap(await nodeTap(`export {};\n`));
  assert.equal(none.emptyFiles.length, 1);
  assert.deepEqual(tierProblems({ tier: 'unit', exitCode: 0, tap: none }), [`1 file(s) with no test: ${none.emptyFiles[0]}`]);
  assert.match(none.emptyFiles[0]!, /sample\.test\.mjs$/);
  assert.deepEqual(tierProblems({ tier: 'unit', exitCode: 0, tap: parseTap('TAP version 13\n1..0\n# tests 0\n# suites 0\n# pass 0\n# fail 0\n# cancelled 0\n# skipped 0\n# todo 0\n') }), ['the unit tier ran no test']);
});

test('the lab tier is blocked without root, every tier runs as root', () => {
  assert.match(tierBlocker('lab', { uid: 1000 }) ?? '', /needs root/);
  assert.equal(tierBlocker('lab', { uid: 0 }), undefined);
  assert.equal(tierBlocker('unit', { uid: 1000 }), undefined);
  assert.equal(tierBlocker('integration', { uid: undefined }), undefined);
});
