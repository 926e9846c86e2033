/**
 * npm run mutation [-- <file> ...]: mutation testing of the pure modules
 * (stryker.config.mjs) against the unit tier, then the score per module and
 * in total, and every mutant the tests let live.
 *
 *   npm run mutation                            all the modules in stryker.config.mjs
 *   npm run mutation -- lib/gitops/retry.ts     one module (or several), to iterate on it
 *   npm run mutation -- --report                print the last run's report again, without running
 *
 * Stryker's JSON report (.cache/mutation/mutation.json, with an HTML one next
 * to it) is what is read. A benchmark-like script: not part of npm test or CI.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const REPORT = join(root, '.cache/mutation/mutation.json');

type Status = 'Killed' | 'Survived' | 'NoCoverage' | 'Timeout' | 'CompileError' | 'RuntimeError' | 'Ignored' | 'Pending';

interface Mutant {
  readonly id: string;
  readonly mutatorName: string;
  readonly replacement?: string;
  readonly status: Status;
  readonly location: { readonly start: { readonly line: number; readonly column: number } };
}

interface Report {
  readonly files: Record<string, { readonly mutants: readonly Mutant[] }>;
}

interface Tally {
  killed: number;
  timeout: number;
  survived: number;
  noCoverage: number;
  errors: number;
  ignored: number;
  all: number;
}

function tally(mutants: readonly Mutant[]): Tally {
  const t: Tally = { killed: 0, timeout: 0, survived: 0, noCoverage: 0, errors: 0, ignored: 0, all: mutants.length };
  for (const m of mutants) {
    if (m.status === 'Killed') t.killed++;
    else if (m.status === 'Timeout') t.timeout++;
    else if (m.status === 'Survived') t.survived++;
    else if (m.status === 'NoCoverage') t.noCoverage++;
    else if (m.status === 'CompileError' || m.status === 'RuntimeError') t.errors++;
    else if (m.status === 'Ignored') t.ignored++;
  }
  return t;
}

/** (Killed + Timeout) / (all − CompileError − RuntimeError − Ignored); NoCoverage counts as not killed. */
function score(t: Tally): string {
  const valid = t.all - t.errors - t.ignored;
  return valid === 0 ? 'n/a' : `${((100 * (t.killed + t.timeout)) / valid).toFixed(1)} %`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')).join('\n');
}

function oneLine(s: string | undefined, max = 100): string {
  const flat = (s ?? '').replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

function printReport(report: Report): void {
  const files = Object.keys(report.files).sort();
  const header = ['module', 'killed', 'timeout', 'survived', 'no cover', 'errors', 'ignored', 'all', 'score'];
  const row = (name: string, t: Tally) => [name, t.killed, t.timeout, t.survived, t.noCoverage, t.errors, t.ignored, t.all].map(String).concat(score(t));
  const total = tally(files.flatMap((f) => report.files[f]!.mutants));
  console.log(`\n${table([header, ...files.map((f) => row(f, tally(report.files[f]!.mutants))), row('TOTAL', total)])}`);
  console.log('\nscore = (killed + timeout) / (all − compile errors − runtime errors − ignored); a mutant no test reaches (no cover) counts as not killed.');

  const alive = files.flatMap((f) =>
    report.files[f]!.mutants
      .filter((m) => m.status === 'Survived' || m.status === 'NoCoverage')
      .map((m) => ({ f, m }))
      .sort((a, b) => a.m.location.start.line - b.m.location.start.line || a.m.location.start.column - b.m.location.start.column),
  );
  console.log(`\n${alive.length} mutant(s) not killed:`);
  for (const { f, m } of alive) {
    console.log(`  ${f}:${m.location.start.line}:${m.location.start.column}  ${m.mutatorName}${m.status === 'NoCoverage' ? ' (no test reaches it)' : ''}  →  ${oneLine(m.replacement)}`);
  }
}

function main(argv: readonly string[]): number {
  const reportOnly = argv.includes('--report');
  const files = argv.filter((a) => !a.startsWith('--'));
  for (const f of files) {
    if (!existsSync(join(root, f))) {
      console.error(`mutation: ${f} does not exist (give paths relative to the repository, e.g. lib/gitops/retry.ts)`);
      return 2;
    }
  }
  let seconds: number | undefined;
  if (!reportOnly) {
    const require = createRequire(import.meta.url);
    const stryker = join(dirname(require.resolve('@stryker-mutator/core/package.json')), 'bin', 'stryker.js');
    const args = [stryker, 'run', 'stryker.config.mjs', ...(files.length > 0 ? ['--mutate', files.join(',')] : [])];
    const start = Date.now();
    const run = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
    seconds = (Date.now() - start) / 1000;
    if (run.status !== 0) {
      console.error(`mutation: stryker ended with ${run.status ?? run.signal}`);
      return run.status ?? 1;
    }
  }
  if (!existsSync(REPORT)) {
    console.error(`mutation: no report at ${REPORT}; run npm run mutation first`);
    return 2;
  }
  printReport(JSON.parse(readFileSync(REPORT, 'utf8')) as Report);
  if (seconds !== undefined) console.log(`\nrun time: ${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s (concurrency and timeouts: stryker.config.mjs)`);
  return 0;
}

process.exitCode = main(process.argv.slice(2));
