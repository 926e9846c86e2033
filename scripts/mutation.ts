/**
 * npm run mutation [-- <file> ...]: mutation testing of the pure modules
 * (stryker.config.mjs) against the unit tier, then the score per module and
 * in total, and every mutant the tests let live.
 *
 *   npm run mutation                            all the modules in stryker.config.mjs
 *   npm run mutation -- lib/phases/retry.ts     one module (or several), to iterate on it
 *   npm run mutation -- --report                print the figures of every configured module, without running
 *   npm run mutation -- --save [report.json]    record a report's results (the last run's unless given) without running
 *
 * Stryker's JSON report (.cache/mutation/mutation.json, with an HTML one next
 * to it) holds the last run only. After each run its per-file results are
 * recorded in .cache/mutation/files/ (one JSON a file, with when it was
 * measured, the commit checked out and the run's time), so the figures
 * accumulate across runs of one module at a time: the table is the latest
 * result of every module in stryker.config.mjs's `mutate`, says which have no
 * result yet, and marks a module whose source changed since it was measured.
 * A benchmark-like script: not part of npm test or CI.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const REPORT = join(root, '.cache/mutation/mutation.json');
const RESULTS = join(root, '.cache/mutation/files');

type Status = 'Killed' | 'Survived' | 'NoCoverage' | 'Timeout' | 'CompileError' | 'RuntimeError' | 'Ignored' | 'Pending';

interface Mutant {
  readonly id: string;
  readonly mutatorName: string;
  readonly replacement?: string;
  readonly status: Status;
  readonly location: { readonly start: { readonly line: number; readonly column: number } };
}

interface Report {
  readonly files: Record<string, { readonly source: string; readonly mutants: readonly Mutant[] }>;
}

/** One module's latest result, as recorded in .cache/mutation/files/. */
interface Result {
  readonly file: string;
  readonly measured: string; // ISO date the report was written
  readonly commit: string; // the last commit when the run started (the tree may have had uncommitted work)
  readonly run: { readonly files: readonly string[]; readonly seconds?: number }; // the run it came from
  readonly sha1: string; // of the source as mutated
  readonly mutants: readonly Mutant[];
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
  const text = (i: number) => i === 0 || i === widths.length - 1; // the first and last columns are text, the others figures
  return rows.map((r) => r.map((c, i) => (text(i) ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd()).join('\n');
}

function oneLine(s: string | undefined, max = 100): string {
  const flat = (s ?? '').replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

const sha1 = (text: string) => createHash('sha1').update(text).digest('hex');
const resultPath = (file: string) => join(RESULTS, `${file.replaceAll('/', '__')}.json`);

/** Records each file of a report as that module's latest result. */
function record(path: string, run: { start: Date; seconds: number } | undefined): void {
  const report = JSON.parse(readFileSync(path, 'utf8')) as Report;
  const measured = statSync(path).mtime.toISOString();
  const seconds = run?.seconds;
  const since = run?.start.toISOString() ?? measured;
  const git = spawnSync('git', ['log', '-1', '--format=%h', `--before=${since}`], { cwd: root, encoding: 'utf8' });
  const commit = git.stdout.trim() || 'unknown';
  const files = Object.keys(report.files).sort();
  mkdirSync(RESULTS, { recursive: true });
  for (const file of files) {
    const { source, mutants } = report.files[file]!;
    const result: Result = { file, measured, commit, run: { files, ...(seconds === undefined ? {} : { seconds }) }, sha1: sha1(source), mutants };
    writeFileSync(resultPath(file), `${JSON.stringify(result)}\n`);
  }
  console.log(`\nrecorded ${files.length} module(s) in ${relative(root, RESULTS)}/`);
}

/** The files stryker.config.mjs's `mutate` names: plain paths, and patterns with `*` and `**` (any folders). */
async function configured(): Promise<string[]> {
  const config = (await import(pathToFileURL(join(root, 'stryker.config.mjs')).href)).default as { mutate: string[] };
  const walk = (dir: string): string[] =>
    readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(`${dir}/${e.name}`) : [`${dir}/${e.name}`]));
  const found = new Set<string>();
  for (const pattern of config.mutate) {
    const base = pattern.slice(0, pattern.indexOf('*') === -1 ? undefined : pattern.indexOf('*')).replace(/\/[^/]*$/, '');
    const re = new RegExp(`^${pattern.split(/(\*\*\/|\*)/).map((p) => (p === '**/' ? '(?:.*/)?' : p === '*' ? '[^/]*' : p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))).join('')}$`);
    if (existsSync(join(root, base))) for (const f of walk(base)) if (re.test(f)) found.add(f);
  }
  return [...found].sort();
}

const minutes = (seconds: number) => `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;

async function printReport(): Promise<void> {
  const modules = await configured();
  const read = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Result;
  const saved = existsSync(RESULTS) ? readdirSync(RESULTS).map((f) => read(join(RESULTS, f))) : [];
  const source = (file: string) => (existsSync(join(root, file)) ? sha1(readFileSync(join(root, file), 'utf8')) : undefined);
  // A module's own result, or, for a module moved unchanged, the latest result of the same source at its old path.
  const results = new Map<string, Result>();
  for (const file of modules) {
    const r = existsSync(resultPath(file)) ? read(resultPath(file)) : saved.filter((x) => x.sha1 === source(file)).sort((a, b) => b.measured.localeCompare(a.measured))[0];
    if (r) results.set(file, r);
  }
  const files = [...results.keys()];
  const header = ['module', 'killed', 'timeout', 'survived', 'no cover', 'errors', 'ignored', 'all', 'score', 'measured'];
  const row = (name: string, t: Tally, when = '') => [name, t.killed, t.timeout, t.survived, t.noCoverage, t.errors, t.ignored, t.all].map(String).concat(score(t), when);
  const when = (file: string, r: Result) =>
    `${r.measured.slice(0, 16).replace('T', ' ')} UTC at ${r.commit}${r.file !== file ? ` as ${r.file}` : ''}${source(file) !== r.sha1 ? ' (source changed since)' : ''}`;
  const total = tally(files.flatMap((f) => results.get(f)!.mutants));
  console.log(`\n${table([header, ...files.map((f) => row(f, tally(results.get(f)!.mutants), when(f, results.get(f)!))), row('TOTAL', total)])}`);
  console.log('\nscore = (killed + timeout) / (all − compile errors − runtime errors − ignored); a mutant no test reaches (no cover) counts as not killed.');
  const missing = modules.filter((f) => !results.has(f));
  console.log(missing.length === 0 ? `every configured module (${modules.length}) has a result.` : `no result yet for ${missing.length} of ${modules.length} configured module(s): ${missing.join(', ')}`);
  const runs = new Map([...results.values()].map((r) => [`${r.measured} ${r.run.files.join(', ')}`, r]));
  console.log('\nruns:');
  for (const r of [...runs.values()].sort((a, b) => a.measured.localeCompare(b.measured))) {
    console.log(`  ${r.measured.slice(0, 16).replace('T', ' ')} UTC  ${r.run.seconds === undefined ? 'time not recorded' : minutes(r.run.seconds)}  ${r.run.files.join(', ')}`);
  }

  const alive = files.flatMap((f) =>
    results.get(f)!.mutants
      .filter((m) => m.status === 'Survived' || m.status === 'NoCoverage')
      .map((m) => ({ f, m }))
      .sort((a, b) => a.m.location.start.line - b.m.location.start.line || a.m.location.start.column - b.m.location.start.column),
  );
  console.log(`\n${alive.length} mutant(s) not killed:`);
  for (const { f, m } of alive) {
    console.log(`  ${f}:${m.location.start.line}:${m.location.start.column}  ${m.mutatorName}${m.status === 'NoCoverage' ? ' (no test reaches it)' : ''}  →  ${oneLine(m.replacement)}`);
  }
}

async function main(argv: readonly string[]): Promise<number> {
  const reportOnly = argv.includes('--report') || argv.includes('--save');
  const files = argv.filter((a) => !a.startsWith('--'));
  for (const f of files) {
    if (!existsSync(join(root, f)) && !(argv.includes('--save') && existsSync(f))) {
      console.error(`mutation: ${f} does not exist (give paths relative to the repository, e.g. lib/phases/retry.ts)`);
      return 2;
    }
  }
  let run: { start: Date; seconds: number } | undefined;
  if (!reportOnly) {
    const require = createRequire(import.meta.url);
    const bin = join(dirname(require.resolve('@stryker-mutator/core/package.json')), 'bin', 'stryker.js');
    const args = [bin, 'run', 'stryker.config.mjs', ...(files.length > 0 ? ['--mutate', files.join(',')] : [])];
    const start = new Date();
    const child = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
    run = { start, seconds: (Date.now() - start.getTime()) / 1000 };
    if (child.status !== 0) {
      console.error(`mutation: stryker ended with ${child.status ?? child.signal}`);
      return child.status ?? 1;
    }
  }
  if (!reportOnly || argv.includes('--save')) {
    const path = argv.includes('--save') && files.length > 0 ? files[0]! : REPORT;
    if (!existsSync(path)) {
      console.error(`mutation: no report at ${path}; run npm run mutation first`);
      return 2;
    }
    record(path, run);
  }
  await printReport();
  if (run !== undefined) console.log(`\nthis run: ${minutes(run.seconds)} (concurrency and timeouts: stryker.config.mjs)`);
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
