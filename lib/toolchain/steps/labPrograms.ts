/** Setup steps bin:kubernetes, bin:etcd, bin:cni: the lab's programs, found on PATH or built from their pinned modules. */
import { goBuildEnv, goSourceStamp } from '../goProgram.js';
import { spawn } from 'node:child_process';
import { accessSync, constants as fsConstants, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { CNI_BUILD, CNI_PLUGIN_PACKAGES, cniLdflags, ETCD_VERSION, K8S_BUILD, k8sLdflags, KUBERNETES_VERSION, TOOL_MANIFEST, TOOL_PINS, toolPath, toolPaths, type GoBuildPin, type ToolGroup, type ToolPaths, type ToolPin } from '../pins.js';
import { type RunOptions, runSteps, type SetupContext, type Step } from './step.js';
import { DEFAULT_CACHE_DIR, REPO_DIR } from '../repo.js';
import { BUILD_FLAGS, requireGo, run } from '../go.js';

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

export function writeToolManifest(cacheDir: string, entries: readonly ToolEntry[]): void {
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

export function isExecutableFile(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function inside(dir: string, file: string): boolean {
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
export function linkTo(link: string, target: string): void {
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

export function readStampFile(file: string): string | undefined {
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
