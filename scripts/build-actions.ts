// `npm run build:actions [-- NAME…]`: bundles each action, actions/<name>/main.ts,
// into actions/<name>/dist/index.js (lib/toolchain/actionBundles.ts says how and why).
// One line per action:
//
//   ✓ plan      actions/plan/dist/index.js (1.9 MB)

import { relative } from 'node:path';
import { actionNames, buildActions } from '../lib/toolchain/actionBundles.js';
import { isMain, repoRoot } from './common.js';

function size(bytes: number): string {
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${(bytes / 1e3).toFixed(0)} kB`;
}

async function main(argv: readonly string[]): Promise<number> {
  const repoDir = repoRoot();
  const all = actionNames(repoDir);
  const unknown = argv.filter((a) => !all.includes(a));
  if (unknown.length > 0) {
    process.stderr.write(`build-actions: no action ${unknown.join(', ')} (actions: ${all.join(', ')})\n`);
    return 2;
  }
  const t0 = performance.now();
  try {
    const built = await buildActions(repoDir, argv.length > 0 ? argv : all);
    const width = Math.max(...built.map((b) => b.name.length));
    for (const b of built) {
      const ext = b.externals.length > 0 ? `; from node_modules at run time: ${b.externals.join(', ')}` : '';
      process.stdout.write(`✓ ${b.name.padEnd(width)}  ${relative(process.cwd(), b.outfile)} (${size(b.bytes)}${ext})\n`);
      if (b.importMetaUrl.length > 0) {
        process.stdout.write(`  note: import.meta.url in ${b.importMetaUrl.join(', ')} is actions/${b.name}/dist/index.js in the bundle\n`);
      }
    }
    process.stdout.write(`build-actions: ${built.length} bundle${built.length === 1 ? '' : 's'} (${((performance.now() - t0) / 1000).toFixed(1)}s)\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`✗ build-actions: ${(e as Error).message}\n`);
    return 1;
  }
}

if (isMain(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
