/**
 * A program setup builds from a Go consumer module under tools/, or links
 * from PATH when one there reports the pinned version: the stamp of its
 * sources and flags (a rebuild when either changes), the search on PATH,
 * and the build into the cache (to a temporary name, then renamed, the
 * stamp written beside it). Used by lib/toolchain/setup.ts and the toolchain
 * modules (pulumi.ts, actionlint.ts).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join, relative } from 'node:path';
import { capture } from '../exec/run.js';

function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Hash of a Go consumer module's sources and of how it is built; the build is redone when it changes. */
export function goSourceStamp(repoDir: string, sourceDir: string, flags: readonly string[]): string {
  const dir = join(repoDir, sourceDir);
  const files = readdirSync(dir)
    .filter((n) => n === 'go.mod' || n === 'go.sum' || (n.endsWith('.go') && !n.endsWith('_test.go')))
    .sort();
  const h: string[] = [process.platform, process.arch, ...flags];
  for (const n of files) h.push(`${sourceDir}/${n}\n${sha256(readFileSync(join(dir, n)))}`);
  return sha256(h.join('\n'));
}

/** The environment of every build: no cgo; go.mod and go.sum complete as committed. */
export function goBuildEnv(): NodeJS.ProcessEnv {
  return { ...process.env, CGO_ENABLED: '0', GOFLAGS: `${process.env.GOFLAGS ?? ''} -mod=readonly`.trim() };
}

/** A program called `name` on PATH (outside the cache) whose version is the pinned one. */
export async function pinnedOnPath(name: string, cacheDir: string, version: string, versionOf: (file: string) => Promise<string | undefined>): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
    const file = join(dir, name);
    if (file.startsWith(cacheDir) || !existsSync(file)) continue;
    if ((await versionOf(file)) === version) return file;
  }
  return undefined;
}

/** True when `bin` reports the version and, if built here, comes from the current sources (a link has no stamp). */
export async function programReady(bin: string, version: string, versionOf: (file: string) => Promise<string | undefined>, stamp: string): Promise<boolean> {
  if (!existsSync(bin) || (await versionOf(bin)) !== version) return false;
  const stampFile = `${bin}.stamp`;
  return !existsSync(stampFile) || readFileSync(stampFile, 'utf8').trim() === stamp;
}

export interface GoProgram {
  /** Where it goes in the cache. */
  readonly bin: string;
  readonly cacheDir: string;
  readonly repoDir: string;
  /** The consumer module (tools/<name>) and the package to build in it. */
  readonly sourceDir: string;
  readonly package: string;
  readonly flags: readonly string[];
  readonly version: string;
  readonly versionOf: (file: string) => Promise<string | undefined>;
  /** Printed before a build: what it is and how long it takes. */
  readonly note: string;
  readonly progress?: (line: string) => void;
}

/** Links the pinned program from PATH, or builds it; says which. */
export async function linkOrBuild(p: GoProgram): Promise<string> {
  mkdirSync(dirname(p.bin), { recursive: true });
  rmSync(`${p.bin}.stamp`, { force: true });
  const found = await pinnedOnPath(p.bin.split('/').pop()!, p.cacheDir, p.version, p.versionOf);
  if (found) {
    rmSync(p.bin, { force: true });
    symlinkSync(found, p.bin);
    return `reused ${found} (${p.version})`;
  }
  p.progress?.(`  building ${relative(process.cwd(), p.bin)} (${p.note})`);
  const tmp = `${p.bin}.tmp-${process.pid}`;
  const r = await capture('go', ['build', ...p.flags, '-o', tmp, p.package], { cwd: join(p.repoDir, p.sourceDir), env: goBuildEnv() });
  if (r.code !== 0) {
    rmSync(tmp, { force: true });
    throw new Error(`go build ${p.package} (${p.sourceDir}) failed: ${r.stderr.trim()}`);
  }
  rmSync(p.bin, { force: true });
  renameSync(tmp, p.bin);
  writeFileSync(`${p.bin}.stamp`, `${goSourceStamp(p.repoDir, p.sourceDir, p.flags)}\n`);
  return `built ${relative(process.cwd(), p.bin)}`;
}
