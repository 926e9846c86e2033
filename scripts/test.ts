/**
 * npm test [-- [unit|integration|lab ...] [--exclude <tier>]...]: runs the
 * test tiers (all three unless named), each with node:test, printing the
 * spec reporter and reading the TAP reporter's counts from a file.
 *
 * A run passes only when every tier asked for ran and every test in it ran
 * and passed: a skipped, todo or cancelled test fails it. A tier this
 * machine cannot run (the lab without root) fails the run too, unless it is
 * excluded by name (`--exclude lab`), which the closing lines say.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { repoRoot } from './common.js';
import { createRunner } from '../lib/exec/run.js';
import { labDown } from '../lib/platforms/lab/lab.js';
import { listNamespaces } from '../lib/platforms/lab/machine/netns.js';
import { NS_PREFIX } from '../lib/platforms/lab/topology.js';
import { closingLine, parseTap, tierBlocker, tierProblems, TIERS, type Tier, type TierOutcome } from '../test/tiers.js';

const USAGE = `usage: npm test [-- [${TIERS.join('|')} ...] [--exclude <tier>]...]`;

function fail(message: string): never {
  console.error(`npm test: ${message}\n${USAGE}`);
  process.exit(2);
}

function asTier(word: string, what: string): Tier {
  if (!(TIERS as readonly string[]).includes(word)) fail(`${what} "${word}" is not a tier: the tiers are ${TIERS.join(', ')}`);
  return word as Tier;
}

let parsed;
try {
  parsed = parseArgs({ args: process.argv.slice(2), allowPositionals: true, strict: true, options: { exclude: { type: 'string', multiple: true } } });
} catch (e) {
  fail((e as Error).message);
}
const asked = parsed.positionals.length > 0 ? parsed.positionals.map((w) => asTier(w, 'argument')) : [...TIERS];
const excluded = (parsed.values.exclude ?? []).map((w) => asTier(w, '--exclude'));
const tiers = TIERS.filter((t) => asked.includes(t) && !excluded.includes(t));
if (tiers.length === 0) fail('every tier asked for is excluded: nothing to run');

const root = repoRoot();
const uid = process.getuid?.();
const blocked = tiers.flatMap((t) => {
  const why = tierBlocker(t, { uid });
  return why ? [{ tier: t, why }] : [];
});
if (blocked.length > 0) {
  for (const b of blocked) console.error(`✗ ${b.tier} tier NOT RUN: ${b.why}.`);
  fail(`run as root, or exclude the tier by name: npm test -- ${blocked.map((b) => `--exclude ${b.tier}`).join(' ')}`);
}

function runTier(tier: Tier, tapFile: string): Promise<number> {
  const dir = join(root, 'test', tier);
  const files = readdirSync(dir).filter((f) => f.endsWith('.test.ts')).sort().map((f) => join('test', tier, f));
  if (files.length === 0) fail(`test/${tier}/ has no *.test.ts file`);
  const args = ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-reporter-destination=stdout', '--test-reporter=tap', `--test-reporter-destination=${tapFile}`];
  // The lab tier's tests each build a lab on this one machine: one at a time.
  if (tier === 'lab') args.push('--test-concurrency=1');
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...args, ...files], { cwd: root, stdio: 'inherit' });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

/**
 * The lab tier's safety net: network namespaces a test left behind (a test that hung in a failure
 * never reaches its `finally`) are torn down with their processes, and the tier fails naming them.
 */
async function sweepLabs(before: ReadonlySet<string>): Promise<string[]> {
  const runner = createRunner();
  const left = (await listNamespaces(runner, NS_PREFIX)).filter((ns) => !before.has(ns));
  // A lab's routers are n6-<cluster>_r1/_r2: their cluster names what labDown removes.
  const clusters = [...new Set(left.flatMap((ns) => /^n6-(.+)_[^_]+$/.exec(ns)?.[1] ?? []))];
  for (const c of clusters) await labDown(runner, root, c).catch(() => []);
  return left;
}

const work = mkdtempSync(join(tmpdir(), 'native6-test-'));
const outcomes: TierOutcome[] = [];
const leftBehind: string[] = [];
try {
  for (const tier of tiers) {
    console.log(`\n== ${tier} tier`);
    const tapFile = join(work, `${tier}.tap`);
    const namespacesBefore = tier === 'lab' ? new Set(await listNamespaces(createRunner(), NS_PREFIX)) : undefined;
    const exitCode = await runTier(tier, tapFile);
    if (namespacesBefore) leftBehind.push(...(await sweepLabs(namespacesBefore)));
    let text = '';
    try {
      text = readFileSync(tapFile, 'utf8');
    } catch {
      // No TAP at all: reported below as a run without closing counts.
    }
    outcomes.push({ tier, exitCode, tap: parseTap(text) });
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

console.log('\n== summary');
let ok = true;
for (const o of outcomes) {
  const problems = tierProblems(o);
  const c = o.tap.counts;
  const counts = c ? `${c.pass} passed, ${c.fail + c.cancelled} failed, ${c.skipped + c.todo} skipped` : 'no counts';
  console.log(`${problems.length === 0 ? '✓' : '✗'} ${o.tier}: ${counts}${problems.length ? `: ${problems.join('; ')}` : ''}`);
  if (problems.length > 0) ok = false;
}
if (leftBehind.length > 0) {
  console.log(`✗ lab: tests left ${leftBehind.length} network namespace(s) behind, now removed: ${leftBehind.join(' ')}`);
  ok = false;
}
if (excluded.length > 0) console.log(`! excluded by name, not run and not counted: ${excluded.join(', ')}`);
console.log(closingLine(outcomes));
process.exit(ok ? 0 : 1);
