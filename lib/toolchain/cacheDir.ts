/**
 * Filling a folder of the cache from a pinned module: files copied with
 * their sha256 and size (the folder's record), and the folder replaced
 * whole: written into a temporary folder beside it and renamed over it, so
 * a reader never sees half a copy and a failed copy leaves nothing behind.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { MANIFEST_NAME, sha256, type ManifestFile } from '../validate/load.js';

/**
 * Builds `final` anew: `fill` writes into an empty temporary folder and
 * returns the record, which is written as the folder's manifest; then the
 * folder replaces `final`. `keepTheirs`, asked just before the swap, lets a
 * copy that another setup finished meanwhile stand (the temporary one is
 * dropped and undefined returned).
 */
export async function replaceCacheDir<R>(final: string, fill: (tmp: string) => R | Promise<R>, keepTheirs: () => boolean = () => false): Promise<R | undefined> {
  mkdirSync(dirname(final), { recursive: true });
  const tmp = `${final}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    const record = await fill(tmp);
    writeFileSync(join(tmp, MANIFEST_NAME), `${JSON.stringify(record, null, 2)}\n`);
    if (keepTheirs()) return undefined;
    rmSync(final, { recursive: true, force: true });
    try {
      renameSync(tmp, final);
    } catch (e) {
      if (keepTheirs()) return undefined;
      throw e;
    }
    return record;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Copies the files of `src` whose names match into `dest/sub`, sorted; each one's name (under `sub`), sha256 and size. */
export function copyMatching(src: string, dest: string, match: RegExp, sub = ''): ManifestFile[] {
  mkdirSync(join(dest, sub), { recursive: true });
  const files: ManifestFile[] = [];
  for (const n of readdirSync(src).filter((x) => match.test(x)).sort()) {
    const data = readFileSync(join(src, n));
    writeFileSync(join(dest, sub, n), data);
    files.push({ name: sub ? `${sub}/${n}` : n, sha256: sha256(data), bytes: data.length });
  }
  return files;
}
