/** Setup step calico:confd-templates: Calico's own confd templates for BIRD, copied from the pinned module. */
import { type PhaseReport } from '../../phases/phase.js';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { MANIFEST_NAME, sha256, type ManifestFile } from '../../validate/load.js';
import { CALICO_CONFD, calicoConfdDir } from '../pins.js';
import { type RunOptions, type Step, runSteps } from './step.js';
import { DEFAULT_CACHE_DIR, REPO_DIR } from '../repo.js';
import { goModDownload } from '../go.js';
import { yamlcheckStep } from './goTools.js';

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
