/**
 * The policy pack as Pulumi runs it here: infra/policy/index.ts bundled by
 * esbuild into one CommonJS file under `.cache/policy-pack/`, beside an
 * executable analyzer (`run`) that starts @pulumi/pulumi's policy runner on
 * it. Pulumi runs a directory pack through its Node.js language host, which
 * cannot be built here (README, "Pulumi"); an executable pack it starts
 * itself. The runner also registers ts-node for TypeScript packs, which
 * cannot load our ES modules: hence the bundle. Rebuilt when a source changes.
 */
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nodeLauncher } from '../toolchain/nodeLauncher.js';

export const POLICY_PACK_SOURCE = 'infra/policy';

export function policyPackDir(repoRoot: string): string {
  return join(repoRoot, '.cache', 'policy-pack');
}

/** The analyzer to pass as --policy-pack. */
export function policyPackRunner(repoRoot: string): string {
  return join(policyPackDir(repoRoot), 'run');
}

function launcher(repoRoot: string, dir: string): string {
  return nodeLauncher({
    repoDir: repoRoot,
    dir,
    about: ['Written by lib/pulumi/policyPack.ts: the native6 policy pack as an executable analyzer', '(Pulumi starts it with the engine address).'],
    cdWhy: "@pulumi/policy reads the pack's package.json from the working directory.",
    entry: '@pulumi/pulumi/cmd/run-policy-pack/index.js',
    args: '"$1" "$here"',
  });
}

/** Builds the pack unless it is there from the same sources; returns the analyzer's path. */
export async function ensurePolicyPack(repoRoot: string): Promise<string> {
  const dir = policyPackDir(repoRoot);
  const esbuild = await import('esbuild');
  // The bundle's inputs decide; esbuild's metafile lists them.
  const stampFile = join(dir, 'stamp');
  const runner = policyPackRunner(repoRoot);
  if (existsSync(stampFile) && existsSync(runner)) {
    const { inputs, hash } = JSON.parse(readFileSync(stampFile, 'utf8')) as { inputs: string[]; hash: string };
    if (inputs.every((f) => existsSync(join(repoRoot, f))) && hashOf(repoRoot, inputs) === hash) return runner;
  }
  mkdirSync(dir, { recursive: true });
  const result = await esbuild.build({
    absWorkingDir: repoRoot,
    entryPoints: [join(POLICY_PACK_SOURCE, 'index.ts')],
    outfile: join(dir, 'index.cjs'),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['@pulumi/policy', '@pulumi/pulumi'],
    metafile: true,
    logLevel: 'silent',
  });
  const inputs = Object.keys(result.metafile.inputs).filter((f) => !f.startsWith('node_modules/')).sort();
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ name: 'native6-policy-pack', version: (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version, private: true, main: 'index.cjs' }, null, 2)}\n`);
  copyFileSync(join(repoRoot, POLICY_PACK_SOURCE, 'PulumiPolicy.yaml'), join(dir, 'PulumiPolicy.yaml'));
  writeFileSync(runner, launcher(repoRoot, dir));
  chmodSync(runner, 0o755);
  writeFileSync(stampFile, `${JSON.stringify({ inputs, hash: hashOf(repoRoot, inputs) })}\n`);
  return runner;
}

function hashOf(repoRoot: string, files: readonly string[]): string {
  const h = createHash('sha256');
  for (const f of files) h.update(f).update('\0').update(readFileSync(join(repoRoot, f))).update('\0');
  return h.digest('hex');
}
