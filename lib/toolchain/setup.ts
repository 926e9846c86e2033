/**
 * The project's setup, as an ordered list of named steps (run by
 * `npm run setup`, scripts/setup.ts). Each step says whether it is already
 * done (check) and how to do it (run); running the setup twice does nothing
 * the second time. One line per step:
 *
 *   ✓ schemas:kubernetes            cached (0.0s)
 *   ✓ tools:yamlcheck               built .cache/bin/yamlcheck (1.9s)
 *   ✗ schemas:calico                go mod download failed: … (0.4s)
 *   ✓ bin:kubernetes                kube-apiserver, … -> .cache/bin/k8s (built) (543.9s)
 *
 * The steps: schemas:* (pinned API schemas), tools:yamlcheck, bin:kubernetes,
 * bin:etcd, bin:cni (the lab's programs, pinned in lib/toolchain/pins.ts),
 * flux:crds, bin:flux-source, bin:flux-kustomize (Flux's controllers and
 * their CRDs), calico:manifest, bin:pulumi, bin:actionlint and
 * debian:packages (host packages the lab needs).
 *
 * ensureSetup() runs all of it (or the steps whose names start with the
 * given words); ensureSchemas()/ensureYamlcheck()/ensureToolchain() run
 * parts. New steps go into setupSteps().
 */
import { progressLine, runPhases, type Phase, type PhaseReport } from '../phases/phase.js';
import { providePulumi, pulumiReady } from './pulumi.js';
import { goBuildEnv, goSourceStamp } from './goProgram.js';
export { goSourceStamp };
import { actionlintReady, provideActionlint } from './actionlint.js';
import { calicoManifestReady, provideCalicoManifest } from './calicoManifest.js';
import { execFile, spawn } from 'node:child_process';
import {
  accessSync,
  constants as fsConstants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  GO_MIN_VERSION,
  SCHEMA_PINS,
  YAMLCHECK_SOURCE_DIR,
  type SchemaPin,
} from '../validate/pins.js';
import {
  MANIFEST_NAME,
  readManifest,
  schemaDir,
  sha256,
  yamlcheckPath,
  type ManifestFile,
  type SchemaManifest,
} from '../validate/load.js';
import {
  CALICO_CONFD,
  calicoConfdDir,
  CONFD_SOURCE_DIR,
  confdBinary,
  CNI_BUILD,
  CNI_PLUGIN_PACKAGES,
  cniLdflags,
  DEBIAN_PACKAGES,
  ETCD_VERSION,
  FLUX_CONTROLLERS,
  FLUX_CRDS,
  FLUX_LDFLAGS,
  fluxBinary,
  fluxCrdDir,
  K8S_BUILD,
  k8sLdflags,
  KUBERNETES_VERSION,
  POLICY_RC_D,
  TOOL_MANIFEST,
  TOOL_PINS,
  toolPath,
  toolPaths,
  type FluxControllerPin,
  type GoBuildPin,
  type ToolGroup,
  type ToolPaths,
  type ToolPin,
} from './pins.js';

export const REPO_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const DEFAULT_CACHE_DIR = join(REPO_DIR, '.cache');

// ------------------------------------------------------------------- steps

/** A setup step: a phase of the setup's list (lib/phases), `done` when its result is already there. */
export type Step = Phase<void>;

export interface RunOptions {
  /** Where report lines go (default: stdout). */
  log?: (line: string) => void;
  /** Run even when a step says it is done. */
  force?: boolean;
  /** Do not print lines for steps that were already done. */
  quietCached?: boolean;
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

/**
 * Runs steps in order, one report line each. Stops at the first failure and
 * throws PhaseError (later steps may depend on earlier ones).
 */
export async function runSteps(steps: readonly Step[], opts: RunOptions = {}): Promise<PhaseReport[]> {
  const log = opts.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const width = Math.max(0, ...steps.map((s) => s.name.length));
  return runPhases(undefined, steps, {
    force: opts.force ?? false,
    progress: (r) => {
      if (!(r.cached && opts.quietCached)) log(progressLine({ ...r, note: r.note || 'done' }, width));
    },
  });
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
    done: () => schemasCached(cacheDir, pin),
    run: () => fetchSchemas(cacheDir, pin),
  }));
}

/** Makes sure every pinned schema source is in `<cacheDir>/schemas/`. */
export async function ensureSchemas(cacheDir: string = DEFAULT_CACHE_DIR, opts: RunOptions = {}): Promise<PhaseReport[]> {
  return runSteps(schemaSteps(cacheDir), opts);
}

// ------------------------------------------------- small Go tools of ours

function goToolSources(repoDir: string, sourceDir: string): string[] {
  const dir = join(repoDir, sourceDir);
  return readdirSync(dir)
    .filter((n) => n === 'go.mod' || n === 'go.sum' || (n.endsWith('.go') && !n.endsWith('_test.go')))
    .sort()
    .map((n) => join(dir, n));
}

/** Hash of a tool's sources; the build is redone when it changes. */
export function goToolStamp(repoDir: string, sourceDir: string): string {
  const h: string[] = [process.platform, process.arch];
  for (const f of goToolSources(repoDir, sourceDir)) h.push(`${relative(repoDir, f)}\n${sha256(readFileSync(f))}`);
  return sha256(h.join('\n'));
}

export function yamlcheckStamp(repoDir: string): string {
  return goToolStamp(repoDir, YAMLCHECK_SOURCE_DIR);
}

/** Builds one of our small Go programs (tools/<x>, stdlib and a few modules) into the cache. */
function goToolStep(name: string, sourceDir: string, bin: string, repoDir: string): Step {
  const stampFile = `${bin}.stamp`;
  return {
    name,
    done: () => existsSync(bin) && existsSync(stampFile) && readFileSync(stampFile, 'utf8').trim() === goToolStamp(repoDir, sourceDir),
    run: async () => {
      await requireGo();
      mkdirSync(dirname(bin), { recursive: true });
      const tmp = `${bin}.tmp-${process.pid}`;
      const { stderr, code } = await run('go', ['build', ...BUILD_FLAGS, '-o', tmp, '.'], { cwd: join(repoDir, sourceDir), env: goBuildEnv() });
      if (code !== 0) {
        rmSync(tmp, { force: true });
        throw new Error(`go build ${sourceDir} failed: ${stderr.trim()}`);
      }
      renameSync(tmp, bin);
      writeFileSync(stampFile, `${goToolStamp(repoDir, sourceDir)}\n`);
      return `built ${relative(process.cwd(), bin) || bin}`;
    },
  };
}

export function yamlcheckStep(cacheDir: string = DEFAULT_CACHE_DIR, repoDir: string = REPO_DIR): Step {
  return goToolStep('tools:yamlcheck', YAMLCHECK_SOURCE_DIR, yamlcheckPath(cacheDir), repoDir);
}

export function confdStep(cacheDir: string = DEFAULT_CACHE_DIR, repoDir: string = REPO_DIR): Step {
  return goToolStep('tools:n6-confd', CONFD_SOURCE_DIR, confdBinary(cacheDir), repoDir);
}

// ------------------------------------------------ Calico's confd templates

interface ConfdManifest {
  module: string;
  version: string;
  sum: string;
  files: ManifestFile[];
}

/** true when the templates are in the cache, complete and from the pinned module. */
export function confdTemplatesCached(cacheDir: string): boolean {
  const dir = calicoConfdDir(cacheDir);
  try {
    const m = JSON.parse(readFileSync(join(dir, MANIFEST_NAME), 'utf8')) as ConfdManifest;
    if (m.module !== CALICO_CONFD.module || m.version !== CALICO_CONFD.version) return false;
    const names = new Set(m.files.map((f) => f.name));
    if (!CALICO_CONFD.mustHave.every((n) => names.has(n))) return false;
    return m.files.every((f) => existsSync(join(dir, f.name)) && statSync(join(dir, f.name)).size === f.bytes);
  } catch {
    return false;
  }
}

export function confdTemplatesStep(cacheDir: string = DEFAULT_CACHE_DIR): Step {
  return {
    name: 'calico:confd-templates',
    done: () => confdTemplatesCached(cacheDir),
    run: async () => {
      const mod = await goModDownload(CALICO_CONFD.module, CALICO_CONFD.version);
      const final = calicoConfdDir(cacheDir);
      const tmp = `${final}.tmp-${process.pid}`;
      rmSync(tmp, { recursive: true, force: true });
      const files: ManifestFile[] = [];
      try {
        for (const part of CALICO_CONFD.parts) {
          const src = join(mod.Dir, CALICO_CONFD.dir, part.sub);
          mkdirSync(join(tmp, part.sub), { recursive: true });
          for (const n of readdirSync(src).filter((x) => part.match.test(x)).sort()) {
            const data = readFileSync(join(src, n));
            writeFileSync(join(tmp, part.sub, n), data);
            files.push({ name: `${part.sub}/${n}`, sha256: sha256(data), bytes: data.length });
          }
        }
        const missing = CALICO_CONFD.mustHave.filter((n) => !files.some((f) => f.name === n));
        if (missing.length > 0) throw new Error(`${CALICO_CONFD.module}@${CALICO_CONFD.version} lacks ${missing.map((n) => `${CALICO_CONFD.dir}/${n}`).join(', ')}`);
        const manifest: ConfdManifest = { module: CALICO_CONFD.module, version: CALICO_CONFD.version, sum: mod.Sum, files };
        writeFileSync(join(tmp, MANIFEST_NAME), `${JSON.stringify(manifest, null, 2)}\n`);
        rmSync(final, { recursive: true, force: true });
        mkdirSync(dirname(final), { recursive: true });
        renameSync(tmp, final);
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
      return `copied ${files.length} files (Calico ${CALICO_CONFD.productVersion} confd) into ${relative(process.cwd(), final) || final}`;
    },
  };
}

/** Makes sure `<cacheDir>/bin/yamlcheck` is built from the current sources. */
export async function ensureYamlcheck(
  cacheDir: string = DEFAULT_CACHE_DIR,
  repoDir: string = REPO_DIR,
  opts: RunOptions = {},
): Promise<PhaseReport[]> {
  return runSteps([yamlcheckStep(cacheDir, repoDir)], opts);
}

// ----------------------------------------------------------- lab toolchain
//
// The programs the lab runs (lib/toolchain/pins.ts). Each ends up at
// `<cache>/bin/<name>` or `<cache>/cni/bin/<name>` (toolPaths()): a link to
// the multi-call binary built from tools/k8s (Kubernetes and etcd), a plugin
// built from tools/cni, or a link to a program of that name on PATH that
// already reports the pinned version. `<cache>/bin/manifest.json` records
// which, and for built ones the stamp of the sources and flags they were
// built from.

/** One program in `<cache>/bin/manifest.json`. */
export interface ToolEntry {
  name: string;
  /** Absolute path the lab runs (what toolPaths() gives). */
  path: string;
  /** Built here from tools/…, or reused from PATH. */
  source: 'built' | 'path';
  /** What `path` is or links to: the multi-call binary, or the program on PATH. */
  target: string;
  /** The version it reported. */
  version: string;
  /** For built programs: the stamp of the sources and flags. */
  stamp?: string;
}

export interface ToolManifest {
  tools: Record<string, ToolEntry>;
}

export function readToolManifest(cacheDir: string): ToolManifest {
  try {
    const m = JSON.parse(readFileSync(join(cacheDir, TOOL_MANIFEST), 'utf8')) as ToolManifest;
    if (m && typeof m.tools === 'object' && m.tools) return m;
  } catch {
    // absent or broken: nothing recorded
  }
  return { tools: {} };
}

function writeToolManifest(cacheDir: string, entries: readonly ToolEntry[]): void {
  const file = join(cacheDir, TOOL_MANIFEST);
  const m = readToolManifest(cacheDir);
  for (const e of entries) m.tools[e.name] = e;
  const sorted: ToolManifest = { tools: Object.fromEntries(Object.entries(m.tools).sort(([a], [b]) => a.localeCompare(b))) };
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(sorted, null, 2)}\n`);
  renameSync(tmp, file);
}

/** Runs a program with a time limit and optional stdin; never rejects. */
function probe(
  cmd: string,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {},
): Promise<{ stdout: string; stderr: string; code: number | null; error?: string }> {
  return new Promise((resolveProbe) => {
    let child;
    try {
      child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    } catch (e) {
      resolveProbe({ stdout: '', stderr: '', code: null, error: (e as Error).message });
      return;
    }
    let stdout = '';
    let stderr = '';
    let error: string | undefined;
    const timer = setTimeout(() => {
      error = `timed out after ${opts.timeoutMs ?? 10_000} ms`;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 10_000);
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdin.on('error', () => {}); // a program that does not read stdin
    child.on('error', (e) => (error = e.message));
    child.on('close', (code) => {
      clearTimeout(timer);
      resolveProbe({ stdout, stderr, code, ...(error ? { error } : {}) });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** The environment version probes run in: none of the variables that would make etcd or a CNI plugin do something. */
function probeEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CNI_') && !k.startsWith('ETCD_')));
}

/** The version `file` reports as pin's program, or undefined (with why). */
export async function toolVersion(file: string, pin: ToolPin): Promise<{ version?: string; why: string }> {
  const r = await probe(file, pin.versionArgs, { env: probeEnv() });
  if (r.error) return { why: `${file} ${pin.versionArgs.join(' ')}: ${r.error}` };
  const m = pin.versionPattern.exec(`${r.stdout}\n${r.stderr}`);
  if (!m) return { why: `${file} ${pin.versionArgs.join(' ')} printed no version (exit ${r.code}): ${(r.stdout + r.stderr).trim().slice(0, 200)}` };
  return { version: m[1]!, why: `${file} reports ${m[1]}` };
}

function isExecutableFile(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function inside(dir: string, file: string): boolean {
  const rel = relative(dir, file);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/** Folders besides PATH where CNI runtimes look for plugins. */
const CNI_DIRS = ['/opt/cni/bin', '/usr/lib/cni'];

/**
 * A program named like pin on PATH (outside the cache) that reports the
 * pinned version, if there is one.
 */
export async function findOnPath(pin: ToolPin, cacheDir: string, pathVar: string = process.env.PATH ?? ''): Promise<string | undefined> {
  let cacheReal = resolve(cacheDir);
  try {
    cacheReal = realpathSync(cacheDir);
  } catch {
    // not there yet
  }
  const dirs = pathVar.split(delimiter).filter((d) => d !== '' && isAbsolute(d));
  if (pin.group === 'cni') dirs.push(...CNI_DIRS);
  const seen = new Set<string>();
  for (const dir of dirs) {
    const file = join(dir, pin.name);
    if (!isExecutableFile(file)) continue;
    let real: string;
    try {
      real = realpathSync(file);
    } catch {
      continue;
    }
    if (seen.has(real) || inside(cacheReal, real) || inside(resolve(cacheDir), file)) continue;
    seen.add(real);
    const v = await toolVersion(file, pin);
    if (v.version === pin.version) return file;
  }
  return undefined;
}

/** Replaces `link` with a symlink to `target`, atomically. */
function linkTo(link: string, target: string): void {
  mkdirSync(dirname(link), { recursive: true });
  const tmp = `${link}.tmp-${process.pid}`;
  rmSync(tmp, { force: true });
  symlinkSync(target, tmp);
  renameSync(tmp, link);
}

/** The `module version` lines of a go.mod's require directives. */
export function goModRequires(goMod: string): Map<string, string> {
  const out = new Map<string, string>();
  const line = (l: string) => {
    const m = /^\s*([^\s/][^\s]*)\s+(v\S+)/.exec(l.replace(/\/\/.*$/, ''));
    if (m) out.set(m[1]!, m[2]!);
  };
  for (const block of goMod.matchAll(/^require\s*\(([\s\S]*?)^\)/gm)) block[1]!.split('\n').forEach(line);
  for (const single of goMod.matchAll(/^require\s+([^(\s].*)$/gm)) line(single[1]!);
  return out;
}

/** Throws when the consumer module's go.mod does not require what the pins say. */
export function checkGoModPins(repoDir: string, pin: GoBuildPin): void {
  const file = join(repoDir, pin.sourceDir, 'go.mod');
  const reqs = goModRequires(readFileSync(file, 'utf8'));
  const wrong = Object.entries(pin.requires).filter(([mod, v]) => reqs.get(mod) !== v);
  if (wrong.length > 0) {
    const what = wrong.map(([mod, v]) => `${mod} ${reqs.get(mod) ?? '(not required)'} instead of ${v}`).join(', ');
    const fix = wrong.map(([mod, v]) => `${mod}@${v}`).join(' ');
    throw new Error(
      `${pin.sourceDir}/go.mod disagrees with lib/toolchain/pins.ts: ${what}; run \`cd ${pin.sourceDir} && go get ${fix} && go mod tidy\` (or change the pin)`,
    );
  }
}



const BUILD_FLAGS = ['-trimpath', '-buildvcs=false'];

function k8sStamp(repoDir: string): string {
  return goSourceStamp(repoDir, K8S_BUILD.sourceDir, [...BUILD_FLAGS, k8sLdflags()]);
}

function cniStamp(repoDir: string): string {
  return goSourceStamp(repoDir, CNI_BUILD.sourceDir, [...BUILD_FLAGS, cniLdflags()]);
}

/** `<cache>/bin/k8s`, the multi-call binary with etcd and the Kubernetes programs. */
export function k8sBinaryPath(cacheDir: string): string {
  return join(cacheDir, 'bin', K8S_BUILD.binary);
}

function readStampFile(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Builds `<cache>/bin/k8s` from tools/k8s unless it is there from the same sources and flags. */
export async function buildK8s(ctx: SetupContext): Promise<string> {
  const bin = k8sBinaryPath(ctx.cacheDir);
  const stampFile = `${bin}.stamp`;
  checkGoModPins(ctx.repoDir, K8S_BUILD);
  const stamp = k8sStamp(ctx.repoDir);
  if (existsSync(bin) && readStampFile(stampFile) === stamp) return 'already built';
  await requireGo();
  ctx.progress?.(
    `  building ${relative(process.cwd(), bin) || bin} (k8s.io/kubernetes ${KUBERNETES_VERSION}, etcd ${ETCD_VERSION}); ` +
      'from an empty Go build cache this takes 4-9 min on 2 cores',
  );
  mkdirSync(dirname(bin), { recursive: true });
  const tmp = `${bin}.tmp-${process.pid}`;
  const { stderr, code } = await run('go', ['build', ...BUILD_FLAGS, `-ldflags=${k8sLdflags()}`, '-o', tmp, '.'], {
    cwd: join(ctx.repoDir, K8S_BUILD.sourceDir),
    env: goBuildEnv(),
  });
  if (code !== 0) {
    rmSync(tmp, { force: true });
    throw new Error(`go build ${K8S_BUILD.sourceDir} failed: ${stderr.trim()}`);
  }
  renameSync(tmp, bin);
  writeFileSync(stampFile, `${stamp}\n`);
  return 'built';
}

/** Builds the given CNI plugins from tools/cni straight into `<cache>/cni/bin/`. */
export async function buildCni(ctx: SetupContext, names: readonly string[]): Promise<void> {
  checkGoModPins(ctx.repoDir, CNI_BUILD);
  await requireGo();
  const outDir = join(ctx.cacheDir, 'cni', 'bin');
  mkdirSync(outDir, { recursive: true });
  const tmp = mkdtempSync(join(outDir, '.build-'));
  try {
    const pkgs = names.map((n) => {
      const pkg = CNI_PLUGIN_PACKAGES[n];
      if (!pkg) throw new Error(`no CNI plugin package for ${n}`);
      return pkg;
    });
    const { stderr, code } = await run('go', ['build', ...BUILD_FLAGS, `-ldflags=${cniLdflags()}`, '-o', `${tmp}/`, ...pkgs], {
      cwd: join(ctx.repoDir, CNI_BUILD.sourceDir),
      env: goBuildEnv(),
    });
    if (code !== 0) throw new Error(`go build ${CNI_BUILD.sourceDir} failed: ${stderr.trim()}`);
    for (const n of names) renameSync(join(tmp, n), join(outDir, n));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** true when the pin's program is in the cache, reports the pinned version and (if built) is from the current sources. */
export async function toolCached(ctx: SetupContext, pin: ToolPin): Promise<boolean> {
  const entry = readToolManifest(ctx.cacheDir).tools[pin.name];
  const path = toolPath(ctx.cacheDir, pin);
  if (!entry || entry.path !== path || !existsSync(path)) return false;
  if (entry.source === 'built') {
    if (pin.group === 'cni') {
      if (entry.stamp !== cniStamp(ctx.repoDir)) return false;
    } else {
      const bin = k8sBinaryPath(ctx.cacheDir);
      if (readStampFile(`${bin}.stamp`) !== k8sStamp(ctx.repoDir) || entry.stamp !== readStampFile(`${bin}.stamp`)) return false;
    }
  }
  return (await toolVersion(path, pin)).version === pin.version;
}

/**
 * Puts the group's programs in place: each one found on PATH at the pinned
 * version is linked to; the others are built (or linked to the multi-call
 * binary).
 */
async function provideTools(ctx: SetupContext, group: ToolGroup): Promise<string> {
  const pins = TOOL_PINS.filter((p) => p.group === group);
  const entries: ToolEntry[] = [];
  const toBuild: ToolPin[] = [];
  for (const pin of pins) {
    const found = await findOnPath(pin, ctx.cacheDir);
    if (found) {
      const path = toolPath(ctx.cacheDir, pin);
      linkTo(path, found);
      entries.push({ name: pin.name, path, source: 'path', target: found, version: pin.version });
    } else {
      toBuild.push(pin);
    }
  }
  let built = '';
  if (toBuild.length > 0) {
    if (group === 'cni') {
      await buildCni(ctx, toBuild.map((p) => p.name));
      const stamp = cniStamp(ctx.repoDir);
      for (const pin of toBuild) {
        const path = toolPath(ctx.cacheDir, pin);
        entries.push({ name: pin.name, path, source: 'built', target: path, version: pin.version, stamp });
      }
      built = `built ${toBuild.map((p) => p.name).join(', ')} into ${relative(process.cwd(), join(ctx.cacheDir, 'cni', 'bin')) || '.'}`;
    } else {
      const how = await buildK8s(ctx);
      const bin = k8sBinaryPath(ctx.cacheDir);
      const stamp = readStampFile(`${bin}.stamp`);
      for (const pin of toBuild) {
        const path = toolPath(ctx.cacheDir, pin);
        // Relative, so the cache can move; the program is chosen by the link's name.
        linkTo(path, relative(dirname(path), bin));
        entries.push({ name: pin.name, path, source: 'built', target: bin, version: pin.version, ...(stamp ? { stamp } : {}) });
      }
      built = `${toBuild.map((p) => p.name).join(', ')} -> ${relative(process.cwd(), bin) || bin} (${how})`;
    }
  }
  writeToolManifest(ctx.cacheDir, entries);
  const reused = entries.filter((e) => e.source === 'path').map((e) => `${e.name} from ${e.target}`);
  return [built, reused.length > 0 ? `reused ${reused.join(', ')}` : ''].filter(Boolean).join('; ');
}

function toolStep(ctx: SetupContext, group: ToolGroup): Step {
  const pins = TOOL_PINS.filter((p) => p.group === group);
  return {
    name: `bin:${group}`,
    done: async () => (await Promise.all(pins.map((p) => toolCached(ctx, p)))).every(Boolean),
    run: () => provideTools(ctx, group),
  };
}

/** `bin:kubernetes`, `bin:etcd`, `bin:cni`. */
export function toolSteps(ctx: SetupContext = { repoDir: REPO_DIR, cacheDir: DEFAULT_CACHE_DIR }): Step[] {
  return (['kubernetes', 'etcd', 'cni'] as const).map((g) => toolStep(ctx, g));
}

/** Makes sure every program the lab runs is in place; returns where (toolPaths()). */
export async function ensureToolchain(
  cacheDir: string = DEFAULT_CACHE_DIR,
  repoDir: string = REPO_DIR,
  opts: RunOptions = {},
): Promise<ToolPaths> {
  await runSteps(toolSteps({ repoDir, cacheDir }), opts);
  return toolPaths(cacheDir);
}

export { toolPaths, type ToolPaths };

// -------------------------------------------------------------------- Flux
//
// Flux's source-controller and kustomize-controller (FLUX_CONTROLLERS in
// lib/toolchain/pins.ts), each built from its consumer module tools/flux/<name>
// into `<cache>/bin/<name>`, and their CRDs copied from the same modules into
// `<cache>/flux/crds/`. The controllers print no version: what they "report"
// is their Go build info (`go version -m`), whose main module line names the
// controller's module and version. A program of the same name on PATH whose
// build info says the pinned module version is linked to instead of building.

function fluxStamp(repoDir: string, pin: FluxControllerPin): string {
  return goSourceStamp(repoDir, pin.sourceDir, [...BUILD_FLAGS, FLUX_LDFLAGS]);
}

/** The version of `module` a Go binary was built from, per its build info (`go version -m`); undefined when not recorded. */
export async function goBinaryModuleVersion(file: string, module: string): Promise<string | undefined> {
  await requireGo();
  const { stdout, code } = await run('go', ['version', '-m', file]);
  if (code !== 0) return undefined;
  for (const line of stdout.split('\n')) {
    const [, kind, path, version] = line.split('\t');
    if ((kind === 'mod' || kind === 'dep') && path === module && version) return version;
  }
  return undefined;
}

/** A Flux controller of that name on PATH (outside the cache) built from the pinned module version. */
export async function findFluxOnPath(pin: FluxControllerPin, cacheDir: string, pathVar: string = process.env.PATH ?? ''): Promise<string | undefined> {
  const cacheReal = existsSync(cacheDir) ? realpathSync(cacheDir) : resolve(cacheDir);
  const seen = new Set<string>();
  for (const dir of pathVar.split(delimiter).filter((d) => d !== '' && isAbsolute(d))) {
    const file = join(dir, pin.name);
    if (!isExecutableFile(file)) continue;
    const real = realpathSync(file);
    if (seen.has(real) || inside(cacheReal, real) || inside(resolve(cacheDir), file)) continue;
    seen.add(real);
    if ((await goBinaryModuleVersion(file, pin.module)) === pin.version) return file;
  }
  return undefined;
}

/** true when the controller is in the cache from the pinned module version and (if built) from the current consumer module. */
export async function fluxControllerCached(ctx: SetupContext, pin: FluxControllerPin): Promise<boolean> {
  const entry = readToolManifest(ctx.cacheDir).tools[pin.name];
  const path = fluxBinary(ctx.cacheDir, pin.name);
  if (!entry || entry.path !== path || !existsSync(path)) return false;
  if (entry.source === 'built') {
    const stamp = fluxStamp(ctx.repoDir, pin);
    if (entry.stamp !== stamp || readStampFile(`${path}.stamp`) !== stamp) return false;
  }
  return (await goBinaryModuleVersion(path, pin.module)) === pin.version;
}

/** Builds one controller from tools/flux/<name> into `<cache>/bin/<name>` (or links to one on PATH). */
async function provideFluxController(ctx: SetupContext, pin: FluxControllerPin): Promise<string> {
  const path = fluxBinary(ctx.cacheDir, pin.name);
  const found = await findFluxOnPath(pin, ctx.cacheDir);
  if (found) {
    linkTo(path, found);
    rmSync(`${path}.stamp`, { force: true });
    writeToolManifest(ctx.cacheDir, [{ name: pin.name, path, source: 'path', target: found, version: pin.version }]);
    return `reused ${found} (built from ${pin.module}@${pin.version})`;
  }
  checkGoModPins(ctx.repoDir, pin);
  await requireGo();
  ctx.progress?.(`  building ${relative(process.cwd(), path) || path} (${pin.module} ${pin.version}); about 3 min on 2 cores from an empty Go build cache`);
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  const { stderr, code } = await run('go', ['build', ...BUILD_FLAGS, `-ldflags=${FLUX_LDFLAGS}`, '-o', tmp, pin.module], {
    cwd: join(ctx.repoDir, pin.sourceDir),
    env: goBuildEnv(),
  });
  if (code !== 0) {
    rmSync(tmp, { force: true });
    throw new Error(`go build ${pin.module} in ${pin.sourceDir} failed: ${stderr.trim()}`);
  }
  rmSync(path, { force: true }); // may be a link to a program on PATH
  renameSync(tmp, path);
  const stamp = fluxStamp(ctx.repoDir, pin);
  writeFileSync(`${path}.stamp`, `${stamp}\n`);
  writeToolManifest(ctx.cacheDir, [{ name: pin.name, path, source: 'built', target: path, version: pin.version, stamp }]);
  const mb = (statSync(path).size / 1e6).toFixed(0);
  return `built ${relative(process.cwd(), path) || path} from ${pin.module}@${pin.version} (${mb} MB)`;
}

/** One file list per controller module in `<cache>/flux/crds/manifest.json`. */
export interface FluxCrdManifest {
  modules: Array<{ module: string; version: string; sum: string; dir: string; files: ManifestFile[] }>;
}

/** true when every controller's CRDs are in the cache, from the pinned module versions, unchanged. */
export function fluxCrdsCached(cacheDir: string): boolean {
  const dir = fluxCrdDir(cacheDir);
  try {
    const m = JSON.parse(readFileSync(join(dir, MANIFEST_NAME), 'utf8')) as FluxCrdManifest;
    return FLUX_CONTROLLERS.every((pin) => {
      const mod = m.modules.find((x) => x.module === pin.module);
      if (!mod || mod.version !== pin.version) return false;
      if (!FLUX_CRDS.mustHave[pin.name].every((n) => mod.files.some((f) => f.name === n))) return false;
      return mod.files.every((f) => existsSync(join(dir, f.name)) && sha256(readFileSync(join(dir, f.name))) === f.sha256);
    });
  } catch {
    return false;
  }
}

export function fluxCrdsStep(cacheDir: string = DEFAULT_CACHE_DIR): Step {
  return {
    name: 'flux:crds',
    done: () => fluxCrdsCached(cacheDir),
    run: async () => {
      const final = fluxCrdDir(cacheDir);
      const tmp = `${final}.tmp-${process.pid}`;
      rmSync(tmp, { recursive: true, force: true });
      mkdirSync(tmp, { recursive: true });
      try {
        const manifest: FluxCrdManifest = { modules: [] };
        for (const pin of FLUX_CONTROLLERS) {
          const mod = await goModDownload(pin.module, pin.version);
          const src = join(mod.Dir, FLUX_CRDS.dir);
          const files: ManifestFile[] = [];
          for (const n of readdirSync(src).filter((x) => FLUX_CRDS.match.test(x)).sort()) {
            const data = readFileSync(join(src, n));
            writeFileSync(join(tmp, n), data);
            files.push({ name: n, sha256: sha256(data), bytes: data.length });
          }
          const missing = FLUX_CRDS.mustHave[pin.name].filter((n) => !files.some((f) => f.name === n));
          if (missing.length > 0) throw new Error(`${pin.module}@${pin.version} lacks ${missing.map((n) => `${FLUX_CRDS.dir}/${n}`).join(', ')}`);
          manifest.modules.push({ module: pin.module, version: pin.version, sum: mod.Sum, dir: FLUX_CRDS.dir, files });
        }
        writeFileSync(join(tmp, MANIFEST_NAME), `${JSON.stringify(manifest, null, 2)}\n`);
        rmSync(final, { recursive: true, force: true });
        mkdirSync(dirname(final), { recursive: true });
        renameSync(tmp, final);
        const n = manifest.modules.reduce((s, m) => s + m.files.length, 0);
        return `copied ${n} CRDs (${FLUX_CONTROLLERS.map((p) => `${p.name} ${p.version}`).join(', ')}) into ${relative(process.cwd(), final) || final}`;
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    },
  };
}

/** `flux:crds`, `bin:flux-source`, `bin:flux-kustomize`. */
export function fluxSteps(ctx: SetupContext = { repoDir: REPO_DIR, cacheDir: DEFAULT_CACHE_DIR }): Step[] {
  return [
    fluxCrdsStep(ctx.cacheDir),
    ...FLUX_CONTROLLERS.map((pin) => ({
      name: pin.step,
      done: () => fluxControllerCached(ctx, pin),
      run: () => provideFluxController(ctx, pin),
    })),
  ];
}

// ------------------------------------------------------------------ debian

export type Exec = (cmd: string, args: readonly string[], env?: NodeJS.ProcessEnv) => Promise<{ stdout: string; stderr: string; code: number }>;

export interface DebianOptions {
  packages?: readonly string[];
  /** Effective user id (default: this process's). */
  uid?: number;
  /** Runs dpkg-query and apt-get (default: the real ones); tests pass a fake. */
  exec?: Exec;
  /** Default /usr/sbin/policy-rc.d. */
  policyRcD?: string;
}

/** The packages of `packages` that are not installed (dpkg status other than "ii"). */
export async function missingDebianPackages(packages: readonly string[], exec: Exec = run): Promise<string[]> {
  let out: { stdout: string; code: number };
  try {
    out = await exec('dpkg-query', ['-W', '-f=${Package}\\t${db:Status-Abbrev}\\n', ...packages]);
  } catch {
    throw new Error(`dpkg-query is not on PATH: the lab needs a Debian (or Ubuntu) host with ${packages.join(' ')}`);
  }
  const installed = new Set(
    out.stdout
      .split('\n')
      .map((l) => l.split('\t'))
      .filter(([, status]) => status?.trim() === 'ii')
      .map(([name]) => name!.replace(/:.*$/, '')),
  );
  return packages.filter((p) => !installed.has(p));
}

/** What a root shell runs to install `packages` without starting their daemons. */
export function debianInstallCommand(packages: readonly string[], policyRcD: string = POLICY_RC_D): string {
  const script =
    `[ -e ${policyRcD} ] || { printf "%s\\n" "#!/bin/sh" "exit 101" > ${policyRcD} && chmod 755 ${policyRcD}; } && ` +
    `apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${packages.join(' ')}`;
  return `sudo sh -c '${script}'`;
}

export function debianPackagesStep(opts: DebianOptions = {}): Step {
  const packages = opts.packages ?? DEBIAN_PACKAGES;
  const exec = opts.exec ?? run;
  const policyRcD = opts.policyRcD ?? POLICY_RC_D;
  return {
    name: 'debian:packages',
    done: async () => (await missingDebianPackages(packages, exec)).length === 0,
    run: async () => {
      const missing = await missingDebianPackages(packages, exec);
      if (missing.length === 0) return 'installed';
      const uid = opts.uid ?? process.getuid?.() ?? -1;
      if (uid !== 0) {
        throw new Error(`missing Debian packages ${missing.join(' ')}; as root, run: ${debianInstallCommand(missing, policyRcD)}`);
      }
      // exit 101 = "action forbidden": installing never starts a daemon in
      // the host's namespaces (the lab runs frr and bird in its own). An
      // existing policy is the host owner's and is kept as it is.
      let policyNote = `kept ${policyRcD}`;
      if (!existsSync(policyRcD)) {
        writeFileSync(policyRcD, '#!/bin/sh\n# Written by `npm run setup` (native6): packages never start daemons on install.\nexit 101\n', {
          mode: 0o755,
        });
        policyNote = `wrote ${policyRcD}`;
      }
      const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
      const update = await exec('apt-get', ['update'], env);
      if (update.code !== 0) throw new Error(`apt-get update failed: ${update.stderr.trim().slice(-2000)}`);
      const install = await exec('apt-get', ['install', '-y', '--no-install-recommends', ...missing], env);
      if (install.code !== 0) throw new Error(`apt-get install ${missing.join(' ')} failed: ${install.stderr.trim().slice(-2000)}`);
      return `installed ${missing.join(' ')} (${policyNote})`;
    },
  };
}

// -------------------------------------------------------------------- all

export interface SetupContext {
  repoDir: string;
  cacheDir: string;
  /** Where long steps say what they are doing before they finish (default: nowhere). */
  progress?: (line: string) => void;
}

/**
 * Every setup step, in order. Add new steps here. The Debian packages come
 * last: nothing before needs them, and a host where they cannot be
 * installed (not root) still gets everything else.
 */
export function setupSteps(ctx: SetupContext = { repoDir: REPO_DIR, cacheDir: DEFAULT_CACHE_DIR }): Step[] {
  return [
    ...schemaSteps(ctx.cacheDir),
    yamlcheckStep(ctx.cacheDir, ctx.repoDir),
    confdTemplatesStep(ctx.cacheDir),
    {
      name: 'calico:manifest',
      done: () => calicoManifestReady(ctx.cacheDir),
      run: () => provideCalicoManifest(ctx.cacheDir, ctx.progress),
    },
    confdStep(ctx.cacheDir, ctx.repoDir),
    ...toolSteps(ctx),
    ...fluxSteps(ctx),
    {
      name: 'bin:pulumi',
      done: () => pulumiReady(ctx.cacheDir, ctx.repoDir),
      run: () => providePulumi(ctx.cacheDir, ctx.repoDir, ctx.progress),
    },
    {
      name: 'bin:actionlint',
      done: () => actionlintReady(ctx.cacheDir, ctx.repoDir),
      run: () => provideActionlint(ctx.cacheDir, ctx.repoDir, ctx.progress),
    },
    debianPackagesStep(),
  ];
}

/** Runs the whole setup (what `npm run setup` does); throws PhaseError on a failed step. */
export async function ensureSetup(
  opts: RunOptions & Partial<SetupContext> & { only?: readonly string[] } = {},
): Promise<PhaseReport[]> {
  const ctx: SetupContext = {
    repoDir: opts.repoDir ?? REPO_DIR,
    cacheDir: opts.cacheDir ?? DEFAULT_CACHE_DIR,
    ...(opts.progress ? { progress: opts.progress } : {}),
  };
  let steps = setupSteps(ctx);
  if (opts.only && opts.only.length > 0) {
    const only = opts.only;
    steps = steps.filter((s) => only.some((p) => s.name.startsWith(p)));
    if (steps.length === 0) {
      throw new Error(`no setup step matches ${only.join(', ')} (steps: ${setupSteps(ctx).map((s) => s.name).join(', ')})`);
    }
  }
  return runSteps(steps, opts);
}
