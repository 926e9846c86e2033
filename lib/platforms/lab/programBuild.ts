/**
 * Bundles the lab's programs (programLaunch.ts says why and how they are
 * started): esbuild, kept apart from the launcher so that the programs
 * themselves (the kubelet starts the echo pods) do not load it.
 */
import { buildSync } from 'esbuild';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { CODE_ROOT } from './codeRoot.js';
import { LAB_PROGRAMS, labProgramSource } from './programLaunch.js';

/** Bundles every lab program from its sources now; the time it took. */
export function buildLabPrograms(codeRoot = CODE_ROOT): { ms: number; files: string[] } {
  const t = Date.now();
  const outdir = join(codeRoot, '.cache/lab/programs');
  const result = buildSync({
    entryPoints: LAB_PROGRAMS.map((p) => labProgramSource(p, codeRoot)),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    outdir,
    outExtension: { '.js': '.mjs' },
    sourcemap: 'inline',
    write: false,
    logLevel: 'silent',
  });
  if (result.errors.length > 0) throw new Error(`bundling the lab's programs: ${result.errors.map((e) => e.text).join('; ')}`);
  mkdirSync(outdir, { recursive: true });
  const files: string[] = [];
  for (const f of result.outputFiles) {
    const tmp = `${f.path}.tmp-${process.pid}`;
    writeFileSync(tmp, f.contents);
    renameSync(tmp, f.path);
    files.push(basename(f.path));
  }
  return { ms: Date.now() - t, files: files.sort() };
}

