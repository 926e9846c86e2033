/**
 * The Pulumi CLI the actions and tests drive: v3.274.1, built by `npm run
 * setup` from its published Go module (github.com/pulumi/pulumi/pkg/v3,
 * through the consumer module tools/pulumi) into `.cache/pulumi/bin/`, or
 * linked there from a `pulumi` on PATH that reports that version.
 *
 * Beside it, `pulumi-resource-pulumi-nodejs`: the launcher of the Node.js
 * dynamic-provider host (the CLI looks for plugins next to itself). Upstream
 * ships it as a shell script in the CLI's archive; ours also loads tsx, since
 * our dynamic providers load TypeScript modules.
 *
 * Pulumi's Node.js language host (pulumi-language-nodejs) is not served by
 * the module proxy (403 for every version, recorded 2026-11-24): the
 * programs run inline through the Automation API, whose language runtime is
 * part of @pulumi/pulumi (README, "Pulumi").
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { nodeLauncher } from './nodeLauncher.js';
import { capture } from '../exec/run.js';
import { goSourceStamp, linkOrBuild, programReady } from './goProgram.js';

export const PULUMI = {
  module: 'github.com/pulumi/pulumi/pkg/v3',
  version: 'v3.274.1',
  package: 'github.com/pulumi/pulumi/pkg/v3/cmd/pulumi',
  sourceDir: 'tools/pulumi',
  versionVariable: 'github.com/pulumi/pulumi/sdk/v3/go/common/version.Version',
} as const;

export const DYNAMIC_PROVIDER_PLUGIN = 'pulumi-resource-pulumi-nodejs';

/** `.cache/pulumi`: what PulumiCommand.get({ root }) takes (its bin/ holds the CLI). */
export function pulumiRoot(cacheDir: string): string {
  return join(cacheDir, 'pulumi');
}

export function pulumiBinary(cacheDir: string): string {
  return join(pulumiRoot(cacheDir), 'bin', 'pulumi');
}

/** The version a pulumi binary reports, or undefined. */
export async function pulumiVersion(file: string): Promise<string | undefined> {
  const r = await capture(file, ['version'], { env: { ...process.env, PULUMI_SKIP_UPDATE_CHECK: 'true' } });
  return r.code === 0 ? r.stdout.trim() : undefined;
}

function ldflags(): string {
  return `-s -w -X ${PULUMI.versionVariable}=${PULUMI.version}`;
}

function flags(): string[] {
  return ['-trimpath', '-buildvcs=false', `-ldflags=${ldflags()}`];
}

function launcher(repoDir: string, binDir: string): string {
  return nodeLauncher({
    repoDir,
    dir: binDir,
    about: [
      'Written by `npm run setup`: the Node.js dynamic-provider host of @pulumi/pulumi, with tsx loaded',
      '(by absolute path: the provider runs in the Pulumi workspace, not in the repository).',
    ],
    imports: ['tsx/dist/loader.mjs'],
    entry: '@pulumi/pulumi/cmd/dynamic-provider/index.js',
    args: '"$@"',
  });
}

export async function pulumiReady(cacheDir: string, repoDir: string): Promise<boolean> {
  const bin = pulumiBinary(cacheDir);
  const plugin = join(dirname(bin), DYNAMIC_PROVIDER_PLUGIN);
  if (!existsSync(plugin) || readFileSync(plugin, 'utf8') !== launcher(repoDir, dirname(bin))) return false;
  return programReady(bin, PULUMI.version, pulumiVersion, goSourceStamp(repoDir, PULUMI.sourceDir, flags()));
}

/** Puts the CLI and the dynamic-provider launcher in `.cache/pulumi/bin/`. */
export async function providePulumi(cacheDir: string, repoDir: string, progress?: (line: string) => void): Promise<string> {
  const bin = pulumiBinary(cacheDir);
  const binDir = dirname(bin);
  mkdirSync(binDir, { recursive: true });
  writeFileSync(join(binDir, DYNAMIC_PROVIDER_PLUGIN), launcher(repoDir, binDir));
  chmodSync(join(binDir, DYNAMIC_PROVIDER_PLUGIN), 0o755);
  return linkOrBuild({
    bin,
    cacheDir,
    repoDir,
    sourceDir: PULUMI.sourceDir,
    package: PULUMI.package,
    flags: flags(),
    version: PULUMI.version,
    versionOf: pulumiVersion,
    note: `${PULUMI.module} ${PULUMI.version}; from an empty Go build cache this takes about 4 min on 2 cores`,
    ...(progress ? { progress } : {}),
  });
}
