/**
 * actionlint, the linter of the workflows in .github/workflows/ (and of
 * their `uses: ./actions/<name>` inputs against actions/<name>/action.yml):
 * v1.7.12, built by `npm run setup -- bin:actionlint` from its published Go
 * module (github.com/rhysd/actionlint, through the consumer module
 * tools/actionlint) into `.cache/bin/actionlint`, or linked there from an
 * `actionlint` on PATH that reports that version.
 *
 * The version variable is the one upstream's release build sets
 * (.goreleaser.yaml: `-X github.com/rhysd/actionlint.version={{.Version}}`,
 * without the "v"); `go install …@v1.7.12` builds report "v1.7.12" from
 * their build info instead. Both count as the pinned version.
 */
import { capture } from '../exec/capture.js';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join, relative } from 'node:path';

export const ACTIONLINT = {
  module: 'github.com/rhysd/actionlint',
  version: 'v1.7.12',
  package: 'github.com/rhysd/actionlint/cmd/actionlint',
  sourceDir: 'tools/actionlint',
  versionVariable: 'github.com/rhysd/actionlint.version',
  installedFromVariable: 'github.com/rhysd/actionlint.installedFrom',
} as const;

/** `.cache/bin/actionlint`. */
export function actionlintBinary(cacheDir: string): string {
  return join(cacheDir, 'bin', 'actionlint');
}

/** The version an actionlint binary reports (first line of `-version`, with a "v"), or undefined. */
export async function actionlintVersion(file: string): Promise<string | undefined> {
  const r = await capture(file, ['-version']);
  const first = r.stdout.split('\n')[0]?.trim() ?? '';
  if (r.code !== 0 || !/^v?\d+\.\d+\.\d+/.test(first)) return undefined;
  return first.startsWith('v') ? first : `v${first}`;
}

/** An `actionlint` on PATH (outside the cache) at the pinned version. */
async function onPath(cacheDir: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
    const file = join(dir, 'actionlint');
    if (file.startsWith(cacheDir) || !existsSync(file)) continue;
    if ((await actionlintVersion(file)) === ACTIONLINT.version) return file;
  }
  return undefined;
}

function ldflags(): string {
  // cmd/go splits -ldflags like a shell: the quotes keep the sentence one argument.
  return [
    '-s -w',
    `-X ${ACTIONLINT.versionVariable}=${ACTIONLINT.version.replace(/^v/, '')}`,
    `'-X=${ACTIONLINT.installedFromVariable}=built by npm run setup from ${ACTIONLINT.sourceDir}'`,
  ].join(' ');
}

const BUILD_FLAGS = ['-trimpath', '-buildvcs=false'] as const;

/** Hash of tools/actionlint's files and the build flags: a rebuild when either changes. */
export function actionlintStamp(repoDir: string): string {
  const h = createHash('sha256');
  h.update(`${process.platform}/${process.arch}\0`);
  const dir = join(repoDir, ACTIONLINT.sourceDir);
  for (const f of readdirSync(dir).sort()) {
    if (statSync(join(dir, f)).isFile()) h.update(f).update('\0').update(readFileSync(join(dir, f))).update('\0');
  }
  h.update([...BUILD_FLAGS, ldflags()].join(' '));
  return h.digest('hex');
}

/** Throws when tools/actionlint/go.mod does not require the pinned version. */
function checkGoMod(repoDir: string): void {
  const goMod = readFileSync(join(repoDir, ACTIONLINT.sourceDir, 'go.mod'), 'utf8');
  const m = new RegExp(`^\\s*(?:require\\s+)?${ACTIONLINT.module.replace(/\./g, '\\.')}\\s+(\\S+)`, 'm').exec(goMod);
  if (m?.[1] !== ACTIONLINT.version) {
    throw new Error(
      `${ACTIONLINT.sourceDir}/go.mod requires ${ACTIONLINT.module} ${m?.[1] ?? '(nothing)'} instead of ${ACTIONLINT.version}; ` +
        `run \`cd ${ACTIONLINT.sourceDir} && go get ${ACTIONLINT.module}@${ACTIONLINT.version} && go mod tidy\` (or change the pin)`,
    );
  }
}

export async function actionlintReady(cacheDir: string, repoDir: string): Promise<boolean> {
  const bin = actionlintBinary(cacheDir);
  if (!existsSync(bin) || (await actionlintVersion(bin)) !== ACTIONLINT.version) return false;
  const stamp = `${bin}.stamp`;
  // A link to an actionlint on PATH has no stamp; a built one must come from the current sources.
  return !existsSync(stamp) || readFileSync(stamp, 'utf8').trim() === actionlintStamp(repoDir);
}

/** Puts actionlint at `.cache/bin/actionlint`: a link to the one on PATH at the pinned version, or a build. */
export async function provideActionlint(cacheDir: string, repoDir: string, progress?: (line: string) => void): Promise<string> {
  const bin = actionlintBinary(cacheDir);
  mkdirSync(dirname(bin), { recursive: true });
  const found = await onPath(cacheDir);
  rmSync(`${bin}.stamp`, { force: true });
  if (found) {
    rmSync(bin, { force: true });
    symlinkSync(found, bin);
    return `reused ${found} (${ACTIONLINT.version})`;
  }
  checkGoMod(repoDir);
  progress?.(`  building ${relative(process.cwd(), bin)} (${ACTIONLINT.module} ${ACTIONLINT.version}); from an empty Go build cache this takes about 10 s on 2 cores`);
  const tmp = `${bin}.tmp-${process.pid}`;
  const r = await capture('go', ['build', ...BUILD_FLAGS, `-ldflags=${ldflags()}`, '-o', tmp, ACTIONLINT.package], {
    cwd: join(repoDir, ACTIONLINT.sourceDir),
    // -mod=readonly: go.mod and go.sum must be complete as committed.
    env: { ...process.env, CGO_ENABLED: '0', GOFLAGS: `${process.env.GOFLAGS ?? ''} -mod=readonly`.trim() },
  });
  if (r.code !== 0) {
    rmSync(tmp, { force: true });
    throw new Error(`go build ${ACTIONLINT.package} (${ACTIONLINT.sourceDir}) failed: ${r.stderr.trim()}`);
  }
  rmSync(bin, { force: true });
  renameSync(tmp, bin);
  writeFileSync(`${bin}.stamp`, `${actionlintStamp(repoDir)}\n`);
  return `built ${relative(process.cwd(), bin)}`;
}
