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
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { capture } from '../exec/run.js';
import { goSourceStamp, linkOrBuild, programReady } from './goProgram.js';

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

function ldflags(): string {
  // cmd/go splits -ldflags like a shell: the quotes keep the sentence one argument.
  return [
    '-s -w',
    `-X ${ACTIONLINT.versionVariable}=${ACTIONLINT.version.replace(/^v/, '')}`,
    `'-X=${ACTIONLINT.installedFromVariable}=built by npm run setup from ${ACTIONLINT.sourceDir}'`,
  ].join(' ');
}

const BUILD_FLAGS = ['-trimpath', '-buildvcs=false'] as const;

function flags(): string[] {
  return [...BUILD_FLAGS, `-ldflags=${ldflags()}`];
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
  return programReady(actionlintBinary(cacheDir), ACTIONLINT.version, actionlintVersion, goSourceStamp(repoDir, ACTIONLINT.sourceDir, flags()));
}

/** Puts actionlint at `.cache/bin/actionlint`: a link to the one on PATH at the pinned version, or a build. */
export async function provideActionlint(cacheDir: string, repoDir: string, progress?: (line: string) => void): Promise<string> {
  checkGoMod(repoDir);
  return linkOrBuild({
    bin: actionlintBinary(cacheDir),
    cacheDir,
    repoDir,
    sourceDir: ACTIONLINT.sourceDir,
    package: ACTIONLINT.package,
    flags: flags(),
    version: ACTIONLINT.version,
    versionOf: actionlintVersion,
    note: `${ACTIONLINT.module} ${ACTIONLINT.version}; from an empty Go build cache this takes about 10 s on 2 cores`,
    ...(progress ? { progress } : {}),
  });
}
