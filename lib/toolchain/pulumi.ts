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
import { capture } from '../exec/capture.js';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync, readdirSync, statSync } from 'node:fs';
import { delimiter, dirname, join, relative } from 'node:path';

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

/** A `pulumi` on PATH (outside the cache) at the pinned version. */
async function onPath(cacheDir: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
    const file = join(dir, 'pulumi');
    if (file.startsWith(cacheDir) || !existsSync(file)) continue;
    if ((await pulumiVersion(file)) === PULUMI.version) return file;
  }
  return undefined;
}

/** Hash of tools/pulumi's files and the build flags: a rebuild when either changes. */
export function pulumiStamp(repoDir: string): string {
  const h = createHash('sha256');
  const dir = join(repoDir, PULUMI.sourceDir);
  for (const f of readdirSync(dir).sort()) {
    if (statSync(join(dir, f)).isFile()) h.update(f).update('\0').update(readFileSync(join(dir, f))).update('\0');
  }
  h.update(ldflags());
  return h.digest('hex');
}

function ldflags(): string {
  return `-s -w -X ${PULUMI.versionVariable}=${PULUMI.version}`;
}

function launcher(repoDir: string, binDir: string): string {
  const modules = relative(binDir, join(repoDir, 'node_modules'));
  return [
    '#!/bin/sh',
    '# Written by `npm run setup`: the Node.js dynamic-provider host of @pulumi/pulumi, with tsx loaded',
    '# (by absolute path: the provider runs in the Pulumi workspace, not in the repository).',
    'here=$(cd "$(dirname "$0")" && pwd)',
    `exec node --import "file://$here/${modules}/tsx/dist/loader.mjs" "$here/${modules}/@pulumi/pulumi/cmd/dynamic-provider/index.js" "$@"`,
    '',
  ].join('\n');
}

export async function pulumiReady(cacheDir: string, repoDir: string): Promise<boolean> {
  const bin = pulumiBinary(cacheDir);
  const plugin = join(dirname(bin), DYNAMIC_PROVIDER_PLUGIN);
  if (!existsSync(bin) || !existsSync(plugin) || readFileSync(plugin, 'utf8') !== launcher(repoDir, dirname(bin))) return false;
  if ((await pulumiVersion(bin)) !== PULUMI.version) return false;
  const stamp = `${bin}.stamp`;
  // A link to a CLI on PATH has no stamp; a built one must come from the current sources.
  return !existsSync(stamp) || readFileSync(stamp, 'utf8').trim() === pulumiStamp(repoDir);
}

/** Puts the CLI and the dynamic-provider launcher in `.cache/pulumi/bin/`. */
export async function providePulumi(cacheDir: string, repoDir: string, progress?: (line: string) => void): Promise<string> {
  const bin = pulumiBinary(cacheDir);
  const binDir = dirname(bin);
  mkdirSync(binDir, { recursive: true });
  writeFileSync(join(binDir, DYNAMIC_PROVIDER_PLUGIN), launcher(repoDir, binDir));
  chmodSync(join(binDir, DYNAMIC_PROVIDER_PLUGIN), 0o755);
  const found = await onPath(cacheDir);
  rmSync(`${bin}.stamp`, { force: true });
  if (found) {
    rmSync(bin, { force: true });
    symlinkSync(found, bin);
    return `reused ${found} (${PULUMI.version})`;
  }
  progress?.(`  building ${relative(process.cwd(), bin)} (${PULUMI.module} ${PULUMI.version}); from an empty Go build cache this takes about 5 min on 2 cores`);
  const tmp = `${bin}.tmp-${process.pid}`;
  const r = await capture('go', ['build', '-trimpath', '-buildvcs=false', `-ldflags=${ldflags()}`, '-o', tmp, PULUMI.package], {
    cwd: join(repoDir, PULUMI.sourceDir),
    env: { ...process.env, CGO_ENABLED: '0', GOFLAGS: `${process.env.GOFLAGS ?? ''} -mod=readonly`.trim() },
  });
  if (r.code !== 0) {
    rmSync(tmp, { force: true });
    throw new Error(`go build ${PULUMI.package} (${PULUMI.sourceDir}) failed: ${r.stderr.trim()}`);
  }
  rmSync(bin, { force: true });
  renameSync(tmp, bin);
  writeFileSync(`${bin}.stamp`, `${pulumiStamp(repoDir)}\n`);
  return `built ${relative(process.cwd(), bin)}`;
}
