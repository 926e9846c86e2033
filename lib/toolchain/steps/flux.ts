/** Setup steps flux:crds, bin:flux-source, bin:flux-kustomize: Flux's CRDs and controllers of the pinned release. */
import { goBuildEnv, goSourceStamp } from '../goProgram.js';
import { existsSync, mkdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { MANIFEST_NAME, sha256, type ManifestFile } from '../cacheDir.js';
import { COREDNS, FLUX_CONTROLLERS, FLUX_CRDS, fluxCrdDir, goProgramBinary, type GoProgramPin } from '../pins.js';
import { type SetupContext, type Step } from './step.js';
import { DEFAULT_CACHE_DIR, REPO_DIR } from '../repo.js';
import { BUILD_FLAGS, goModDownload, requireGo, run } from '../go.js';
import { checkGoModPins, inside, isExecutableFile, linkTo, readStampFile, readToolManifest, writeToolManifest } from './labPrograms.js';
import { copyMatching, replaceCacheDir } from '../cacheDir.js';

// -------------------------------------------------------------------- Flux
//
// Flux's source-controller and kustomize-controller (FLUX_CONTROLLERS in
// lib/toolchain/pins.ts), each built from its consumer module tools/flux/<name>
// into `<cache>/bin/<name>`, and their CRDs copied from the same modules into
// `<cache>/flux/crds/`. The controllers print no version: what they "report"
// is their Go build info (`go version -m`), whose main module line names the
// controller's module and version. A program of the same name on PATH whose
// build info says the pinned module version is linked to instead of building.

function fluxStamp(repoDir: string, pin: GoProgramPin): string {
  return goSourceStamp(repoDir, pin.sourceDir, [...BUILD_FLAGS, pin.ldflags]);
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
export async function findFluxOnPath(pin: GoProgramPin, cacheDir: string, pathVar: string = process.env.PATH ?? ''): Promise<string | undefined> {
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
export async function fluxControllerCached(ctx: SetupContext, pin: GoProgramPin): Promise<boolean> {
  const entry = readToolManifest(ctx.cacheDir).tools[pin.name];
  const path = goProgramBinary(ctx.cacheDir, pin.name);
  if (!entry || entry.path !== path || !existsSync(path)) return false;
  if (entry.source === 'built') {
    const stamp = fluxStamp(ctx.repoDir, pin);
    if (entry.stamp !== stamp || readStampFile(`${path}.stamp`) !== stamp) return false;
  }
  return (await goBinaryModuleVersion(path, pin.module)) === pin.version;
}

/** Builds one controller from tools/flux/<name> into `<cache>/bin/<name>` (or links to one on PATH). */
async function provideFluxController(ctx: SetupContext, pin: GoProgramPin): Promise<string> {
  const path = goProgramBinary(ctx.cacheDir, pin.name);
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
  const { stderr, code } = await run('go', ['build', ...BUILD_FLAGS, `-ldflags=${pin.ldflags}`, '-o', tmp, pin.module], {
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
      const manifest = await replaceCacheDir(final, async (tmp): Promise<FluxCrdManifest> => {
        const modules: FluxCrdManifest['modules'] = [];
        for (const pin of FLUX_CONTROLLERS) {
          const mod = await goModDownload(pin.module, pin.version);
          const files = copyMatching(join(mod.Dir, FLUX_CRDS.dir), tmp, FLUX_CRDS.match);
          const missing = FLUX_CRDS.mustHave[pin.name].filter((n) => !files.some((f) => f.name === n));
          if (missing.length > 0) throw new Error(`${pin.module}@${pin.version} lacks ${missing.map((n) => `${FLUX_CRDS.dir}/${n}`).join(', ')}`);
          modules.push({ module: pin.module, version: pin.version, sum: mod.Sum, dir: FLUX_CRDS.dir, files });
        }
        return { modules };
      });
      const n = manifest!.modules.reduce((s, m) => s + m.files.length, 0);
      return `copied ${n} CRDs (${FLUX_CONTROLLERS.map((p) => `${p.name} ${p.version}`).join(', ')}) into ${relative(process.cwd(), final) || final}`;
    },
  };
}

/** `flux:crds`, `bin:flux-source`, `bin:flux-kustomize`, and `bin:coredns` (built the same way). */
export function fluxSteps(ctx: SetupContext = { repoDir: REPO_DIR, cacheDir: DEFAULT_CACHE_DIR }): Step[] {
  return [
    fluxCrdsStep(ctx.cacheDir),
    ...[...FLUX_CONTROLLERS, COREDNS].map((pin) => ({
      name: pin.step,
      done: () => fluxControllerCached(ctx, pin),
      run: () => provideFluxController(ctx, pin),
    })),
  ];
}
