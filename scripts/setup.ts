// `npm run setup [-- [--force] [STEP…]]`
//
// The project's setup, as an ordered list of named steps. Each step says
// whether it is already done (check) and how to do it (run); running the
// setup twice does nothing the second time. One line per step:
//
//   ✓ schemas:kubernetes            cached (0.0s)
//   ✓ tools:yamlcheck               built .cache/bin/yamlcheck (1.9s)
//   ✗ schemas:calico                go mod download failed: … (0.4s)
//
// STEP arguments run only the steps whose name starts with one of them;
// --force runs them even when their check says they are done.
//
// Everything is exported so tests and other scripts can call it:
// ensureSetup() for all of it, ensureSchemas()/ensureYamlcheck() for parts.
// Later steps (building kube-apiserver, …) go into setupSteps().

import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  GO_MIN_VERSION,
  SCHEMA_PINS,
  YAMLCHECK_SOURCE_DIR,
  type SchemaPin,
} from '../lib/validate/pins.js';
import {
  MANIFEST_NAME,
  readManifest,
  schemaDir,
  sha256,
  yamlcheckPath,
  type ManifestFile,
  type SchemaManifest,
} from '../lib/validate/load.js';
import { isMain } from './common.js';

export const REPO_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const DEFAULT_CACHE_DIR = join(REPO_DIR, '.cache');

// ------------------------------------------------------------------- steps

export interface Step {
  /** `group:name`, e.g. `schemas:kubernetes`. */
  name: string;
  /** true when the step's result is already there. */
  check(): boolean | Promise<boolean>;
  /** Does the work; may return a short note for the report line. */
  run(): Promise<string | void>;
}

export interface StepResult {
  name: string;
  ok: boolean;
  /** The check said it was done; run() was not called. */
  cached: boolean;
  note: string;
  ms: number;
}

export interface RunOptions {
  /** Where report lines go (default: stdout). */
  log?: (line: string) => void;
  /** Run even when check() says done. */
  force?: boolean;
  /** Do not print lines for steps that were already done. */
  quietCached?: boolean;
}

export class SetupError extends Error {
  override name = 'SetupError';
  constructor(
    message: string,
    readonly results: StepResult[],
  ) {
    super(message);
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

/**
 * Runs steps in order, one report line each. Stops at the first failure and
 * throws SetupError (later steps may depend on earlier ones).
 */
export async function runSteps(steps: readonly Step[], opts: RunOptions = {}): Promise<StepResult[]> {
  const log = opts.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const width = Math.max(0, ...steps.map((s) => s.name.length));
  const results: StepResult[] = [];
  for (const step of steps) {
    const t0 = performance.now();
    let r: StepResult;
    try {
      if (!opts.force && (await step.check())) {
        r = { name: step.name, ok: true, cached: true, note: 'cached', ms: performance.now() - t0 };
      } else {
        const note = await step.run();
        if (!(await step.check())) throw new Error('the step ran but its check still fails');
        r = { name: step.name, ok: true, cached: false, note: note || 'done', ms: performance.now() - t0 };
      }
    } catch (e) {
      r = { name: step.name, ok: false, cached: false, note: (e as Error).message, ms: performance.now() - t0 };
    }
    results.push(r);
    if (!(r.cached && opts.quietCached)) {
      log(`${r.ok ? '✓' : '✗'} ${r.name.padEnd(width)}  ${r.note} (${seconds(r.ms)})`);
    }
    if (!r.ok) throw new SetupError(`setup step ${r.name} failed: ${r.note}`, results);
  }
  return results;
}

// ---------------------------------------------------------------------- go

export interface GoInfo {
  version: string;
  major: number;
  minor: number;
}

let goInfo: Promise<GoInfo> | undefined;

function run(cmd: string, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolveRun, reject) => {
    execFile(
      cmd,
      args,
      { cwd: opts.cwd, env: opts.env ?? process.env, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') reject(err);
        else resolveRun({ stdout, stderr, code: err ? (typeof err.code === 'number' ? err.code : 1) : 0 });
      },
    );
  });
}

const GO_NEEDED =
  `Go >= ${GO_MIN_VERSION.join('.')} is needed for \`npm run setup\`: it fetches the pinned upstream API schemas ` +
  `with \`go mod download\` and builds tools/yamlcheck. Install a Go ${GO_MIN_VERSION.join('.')}+ toolchain ` +
  `(the official release archive, or a distribution package of that version or newer), put its bin/ on PATH ` +
  `so that \`go version\` works, and run \`npm run setup\` again.`;

/** Checks that a recent enough `go` is on PATH (once per process). */
export function requireGo(): Promise<GoInfo> {
  goInfo ??= (async () => {
    let out: { stdout: string; code: number };
    try {
      out = await run('go', ['version']);
    } catch {
      throw new Error(`\`go\` is not on PATH. ${GO_NEEDED}`);
    }
    const m = /go(\d+)\.(\d+)(\.\d+)?/.exec(out.stdout);
    if (out.code !== 0 || !m) throw new Error(`\`go version\` did not work (${out.stdout.trim()}). ${GO_NEEDED}`);
    const info = { version: m[0], major: Number(m[1]), minor: Number(m[2]) };
    const [wantMajor, wantMinor] = GO_MIN_VERSION;
    if (info.major < wantMajor || (info.major === wantMajor && info.minor < wantMinor)) {
      throw new Error(`found ${info.version}, too old. ${GO_NEEDED}`);
    }
    return info;
  })();
  goInfo.catch(() => {
    goInfo = undefined;
  });
  return goInfo;
}

export interface DownloadedModule {
  Path: string;
  Version: string;
  Dir: string;
  Sum: string;
}

/** `go mod download -json module@version`; returns where the module was unpacked. */
export async function goModDownload(module: string, version: string): Promise<DownloadedModule> {
  await requireGo();
  const dir = mkdtempSync(join(tmpdir(), 'native6-gomod-'));
  try {
    const env = { ...process.env, GOFLAGS: `${process.env.GOFLAGS ?? ''} -mod=mod`.trim() };
    const { stdout, stderr, code } = await run('go', ['mod', 'download', '-json', `${module}@${version}`], { cwd: dir, env });
    let info: Partial<DownloadedModule> & { Error?: string } = {};
    try {
      info = JSON.parse(stdout) as typeof info;
    } catch {
      // fall through to the error below
    }
    if (code !== 0 || info.Error || !info.Dir) {
      throw new Error(`go mod download ${module}@${version} failed: ${(info.Error ?? stderr.trim()) || `exit ${code}`}`);
    }
    return { Path: info.Path ?? module, Version: info.Version ?? version, Dir: info.Dir, Sum: info.Sum ?? '' };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ----------------------------------------------------------------- schemas

/** true when the pin's files are in the cache and match their manifest. */
export function schemasCached(cacheDir: string, pin: SchemaPin): boolean {
  try {
    readManifest(cacheDir, pin);
    return true;
  } catch {
    return false;
  }
}

/** Downloads one pinned module and copies its schema files into the cache. */
export async function fetchSchemas(cacheDir: string, pin: SchemaPin): Promise<string> {
  const mod = await goModDownload(pin.module, pin.version);
  const src = join(mod.Dir, pin.dir);
  let names: string[];
  try {
    names = readdirSync(src).filter((n) => pin.match.test(n)).sort();
  } catch (e) {
    throw new Error(`${pin.module}@${pin.version} has no ${pin.dir}: ${(e as Error).message}`);
  }
  const missing = pin.mustHave.filter((n) => !names.includes(n));
  if (missing.length > 0) throw new Error(`${pin.module}@${pin.version} lacks ${missing.map((n) => `${pin.dir}/${n}`).join(', ')}`);

  const final = schemaDir(cacheDir, pin);
  mkdirSync(dirname(final), { recursive: true });
  const tmp = `${final}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    const files: ManifestFile[] = [];
    for (const name of names) {
      const data = readFileSync(join(src, name));
      writeFileSync(join(tmp, name), data);
      files.push({ name, sha256: sha256(data), bytes: data.length });
    }
    const manifest: SchemaManifest = {
      module: pin.module,
      version: pin.version,
      sum: mod.Sum,
      product: pin.product,
      productVersion: pin.productVersion,
      dir: pin.dir,
      files,
    };
    writeFileSync(join(tmp, MANIFEST_NAME), `${JSON.stringify(manifest, null, 2)}\n`);
    // Another setup (a parallel test run) may have finished first; keep
    // its complete copy rather than pulling it from under its readers.
    if (schemasCached(cacheDir, pin)) {
      rmSync(tmp, { recursive: true, force: true });
      return 'cached (by a concurrent setup)';
    }
    rmSync(final, { recursive: true, force: true });
    try {
      renameSync(tmp, final);
    } catch (e) {
      if (!schemasCached(cacheDir, pin)) throw e;
      rmSync(tmp, { recursive: true, force: true });
      return 'cached (by a concurrent setup)';
    }
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  return `copied ${names.length} file${names.length === 1 ? "" : "s"} from ${pin.module}@${pin.version}`;
}

export function schemaSteps(cacheDir: string = DEFAULT_CACHE_DIR, pins: readonly SchemaPin[] = SCHEMA_PINS): Step[] {
  return pins.map((pin) => ({
    name: `schemas:${pin.name}`,
    check: () => schemasCached(cacheDir, pin),
    run: () => fetchSchemas(cacheDir, pin),
  }));
}

/** Makes sure every pinned schema source is in `<cacheDir>/schemas/`. */
export async function ensureSchemas(cacheDir: string = DEFAULT_CACHE_DIR, opts: RunOptions = {}): Promise<StepResult[]> {
  return runSteps(schemaSteps(cacheDir), opts);
}

// ---------------------------------------------------------- tools/yamlcheck

function yamlcheckSources(repoDir: string): string[] {
  const dir = join(repoDir, YAMLCHECK_SOURCE_DIR);
  return readdirSync(dir)
    .filter((n) => n === 'go.mod' || n === 'go.sum' || (n.endsWith('.go') && !n.endsWith('_test.go')))
    .sort()
    .map((n) => join(dir, n));
}

/** Hash of the tool's sources; the build is redone when it changes. */
export function yamlcheckStamp(repoDir: string): string {
  const h: string[] = [process.platform, process.arch];
  for (const f of yamlcheckSources(repoDir)) h.push(`${relative(repoDir, f)}\n${sha256(readFileSync(f))}`);
  return sha256(h.join('\n'));
}

export function yamlcheckStep(cacheDir: string = DEFAULT_CACHE_DIR, repoDir: string = REPO_DIR): Step {
  const bin = yamlcheckPath(cacheDir);
  const stampFile = `${bin}.stamp`;
  return {
    name: 'tools:yamlcheck',
    check: () => existsSync(bin) && existsSync(stampFile) && readFileSync(stampFile, 'utf8').trim() === yamlcheckStamp(repoDir),
    run: async () => {
      await requireGo();
      mkdirSync(dirname(bin), { recursive: true });
      const tmp = `${bin}.tmp-${process.pid}`;
      const env = { ...process.env, CGO_ENABLED: '0' };
      const { stderr, code } = await run('go', ['build', '-trimpath', '-buildvcs=false', '-o', tmp, '.'], {
        cwd: join(repoDir, YAMLCHECK_SOURCE_DIR),
        env,
      });
      if (code !== 0) {
        rmSync(tmp, { force: true });
        throw new Error(`go build ${YAMLCHECK_SOURCE_DIR} failed: ${stderr.trim()}`);
      }
      renameSync(tmp, bin);
      writeFileSync(stampFile, `${yamlcheckStamp(repoDir)}\n`);
      return `built ${relative(process.cwd(), bin) || bin}`;
    },
  };
}

/** Makes sure `<cacheDir>/bin/yamlcheck` is built from the current sources. */
export async function ensureYamlcheck(
  cacheDir: string = DEFAULT_CACHE_DIR,
  repoDir: string = REPO_DIR,
  opts: RunOptions = {},
): Promise<StepResult[]> {
  return runSteps([yamlcheckStep(cacheDir, repoDir)], opts);
}

// -------------------------------------------------------------------- all

export interface SetupContext {
  repoDir: string;
  cacheDir: string;
}

/** Every setup step, in order. Add new steps here. */
export function setupSteps(ctx: SetupContext = { repoDir: REPO_DIR, cacheDir: DEFAULT_CACHE_DIR }): Step[] {
  return [...schemaSteps(ctx.cacheDir), yamlcheckStep(ctx.cacheDir, ctx.repoDir)];
}

/** Runs the whole setup (what `npm run setup` does); throws SetupError on failure. */
export async function ensureSetup(
  opts: RunOptions & Partial<SetupContext> & { only?: readonly string[] } = {},
): Promise<StepResult[]> {
  const ctx = { repoDir: opts.repoDir ?? REPO_DIR, cacheDir: opts.cacheDir ?? DEFAULT_CACHE_DIR };
  let steps = setupSteps(ctx);
  if (opts.only && opts.only.length > 0) {
    const only = opts.only;
    steps = steps.filter((s) => only.some((p) => s.name.startsWith(p)));
    if (steps.length === 0) {
      throw new SetupError(`no setup step matches ${only.join(', ')} (steps: ${setupSteps(ctx).map((s) => s.name).join(', ')})`, []);
    }
  }
  return runSteps(steps, opts);
}

// -------------------------------------------------------------------- main

async function main(argv: readonly string[]): Promise<number> {
  const force = argv.includes('--force');
  const only = argv.filter((a) => !a.startsWith('--'));
  const t0 = performance.now();
  try {
    const results = await ensureSetup({ force, only });
    const ran = results.filter((r) => !r.cached).length;
    process.stdout.write(`setup: ${results.length} steps, ${ran} ran, ${results.length - ran} cached (${seconds(performance.now() - t0)})\n`);
    return 0;
  } catch (e) {
    if (e instanceof SetupError && e.results.length > 0) {
      // The failing step's line above already says why.
      const failed = e.results[e.results.length - 1]!;
      process.stderr.write(`setup: stopped at ${failed.name}; fix the problem above and run \`npm run setup\` again\n`);
    } else {
      process.stderr.write(`setup: ${(e as Error).message}\n`);
    }
    return 1;
  }
}

if (isMain(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
