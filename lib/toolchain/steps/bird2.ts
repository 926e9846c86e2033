/**
 * Setup step debian:bird2: BIRD 2, to check the routers' configurations a
 * metal cluster renders (lib/render/routers.ts; the parse test is
 * test/integration/routersParse.test.ts). Debian's bird2 package conflicts
 * with bird (BIRD 1.6, Calico's version, which the lab runs), so it is not
 * installed: the package and the one library it needs beyond the host's
 * (libssh-gcrypt-4) are downloaded with apt-get and unpacked under
 * .cache/bird2, and the binary runs from there with LD_LIBRARY_PATH.
 * The parse test names BIRD2_PROVIDE (the same commands by hand) when it
 * is missing.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { capture } from '../../exec/run.js';
import type { Step } from './step.js';

export const BIRD2_PACKAGES = ['bird2', 'libssh-gcrypt-4'] as const;

/** Where BIRD 2 is unpacked, and how to run it. */
export function bird2Paths(cacheDir: string): { dir: string; bird: string; env: NodeJS.ProcessEnv } {
  const dir = join(cacheDir, 'bird2');
  return { dir, bird: join(dir, 'usr/sbin/bird'), env: { ...process.env, LD_LIBRARY_PATH: join(dir, 'usr/lib/x86_64-linux-gnu') } };
}

/** The same by hand, from the repository's root. */
export const BIRD2_PROVIDE = `mkdir -p .cache/bird2 && cd .cache/bird2 && apt-get download ${BIRD2_PACKAGES.join(' ')} && for d in *.deb; do dpkg-deb -x "$d" .; done`;

type Exec = (cmd: string, args: readonly string[], opts?: { cwd?: string }) => Promise<{ stdout: string; stderr: string; code: number }>;

/** The version line BIRD prints (on stderr), or the failure. */
export async function bird2Version(cacheDir: string, exec: (cmd: string, args: readonly string[], opts?: { env?: NodeJS.ProcessEnv }) => Promise<{ stdout: string; stderr: string; code: number }> = capture): Promise<string> {
  const p = bird2Paths(cacheDir);
  const r = await exec(p.bird, ['--version'], { env: p.env });
  return `${r.stdout}${r.stderr}`.trim();
}

export function bird2Step(cacheDir: string, exec: Exec = capture): Step {
  const p = bird2Paths(cacheDir);
  return {
    name: 'debian:bird2',
    done: async () => existsSync(p.bird) && /^BIRD version 2\./.test(await bird2Version(cacheDir)),
    run: async () => {
      const work = mkdtempSync(join(tmpdir(), 'n6-bird2-'));
      try {
        let got = await exec('apt-get', ['download', ...BIRD2_PACKAGES], { cwd: work });
        if (got.code !== 0) {
          // A host whose package lists were never fetched knows no package yet.
          const update = await exec('apt-get', ['update']);
          if (update.code !== 0) throw new Error(`apt-get update failed: ${update.stderr.trim().slice(-2000)}`);
          got = await exec('apt-get', ['download', ...BIRD2_PACKAGES], { cwd: work });
        }
        if (got.code !== 0) throw new Error(`apt-get download ${BIRD2_PACKAGES.join(' ')} failed: ${got.stderr.trim().slice(-2000)}`);
        rmSync(p.dir, { recursive: true, force: true });
        mkdirSync(p.dir, { recursive: true });
        for (const deb of readdirSync(work).filter((f) => f.endsWith('.deb')).sort()) {
          const x = await exec('dpkg-deb', ['-x', join(work, deb), p.dir]);
          if (x.code !== 0) throw new Error(`dpkg-deb -x ${deb} failed: ${x.stderr.trim().slice(-2000)}`);
        }
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
      const version = await bird2Version(cacheDir);
      if (!/^BIRD version 2\./.test(version)) throw new Error(`${p.bird} does not run as BIRD 2: ${version}`);
      return `${version} in ${p.dir}`;
    },
  };
}
