/** Setup step calico:confd-templates: Calico's own confd templates for BIRD, copied from the pinned module. */
import { type PhaseReport } from '../../phases/phase.js';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { MANIFEST_NAME, type ManifestFile } from '../cacheDir.js';
import { CALICO_CONFD, calicoConfdDir } from '../pins.js';
import { type RunOptions, type Step, runSteps } from './step.js';
import { DEFAULT_CACHE_DIR, REPO_DIR } from '../repo.js';
import { goModDownload } from '../go.js';
import { yamlcheckStep } from './goTools.js';
import { copyMatching, replaceCacheDir } from '../cacheDir.js';

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
      const manifest = await replaceCacheDir(final, (tmp): ConfdManifest => {
        const files = CALICO_CONFD.parts.flatMap((part) => copyMatching(join(mod.Dir, CALICO_CONFD.dir, part.sub), tmp, part.match, part.sub));
        const missing = CALICO_CONFD.mustHave.filter((n) => !files.some((f) => f.name === n));
        if (missing.length > 0) throw new Error(`${CALICO_CONFD.module}@${CALICO_CONFD.version} lacks ${missing.map((n) => `${CALICO_CONFD.dir}/${n}`).join(', ')}`);
        return { module: CALICO_CONFD.module, version: CALICO_CONFD.version, sum: mod.Sum, files };
      });
      return `copied ${manifest!.files.length} files (Calico ${CALICO_CONFD.productVersion} confd) into ${relative(process.cwd(), final) || final}`;
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
