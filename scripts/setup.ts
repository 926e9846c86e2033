// `npm run setup [-- [--force] [STEP…] | --print-paths]`
//
// Runs the project's setup (lib/toolchain/setup.ts): the pinned schemas, the
// programs the lab and the tests run, built from their Go modules into
// .cache/, and the Debian packages the lab needs. One line per step; running
// it twice does nothing the second time.
//
// STEP arguments run only the steps whose name starts with one of them;
// --force runs them even when their check says they are done.
//
// --print-paths prints the absolute path of every program the lab runs
// (toolPaths() from lib/toolchain/pins.ts) as JSON and sets nothing up.

import { PhaseError } from '../lib/phases/phase.js';
import { DEFAULT_CACHE_DIR } from '../lib/toolchain/repo.js';
import { ensureSetup } from '../lib/toolchain/setup.js';
import { seconds } from '../lib/toolchain/steps/step.js';
import { toolPaths } from '../lib/toolchain/pins.js';
import { isMain, parseCommandLine } from './common.js';

// -------------------------------------------------------------------- main

const USAGE = 'npm run setup [-- [--force] [STEP…] | --print-paths]';

async function main(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommandLine('setup', USAGE, argv, { force: { type: 'boolean' }, 'print-paths': { type: 'boolean' } });
  if (values['print-paths']) {
    // For the lab and for people: where every pinned program is (whether or not it is there yet).
    process.stdout.write(`${JSON.stringify(toolPaths(DEFAULT_CACHE_DIR), null, 2)}\n`);
    return 0;
  }
  const force = values.force === true;
  const only = positionals;
  const t0 = performance.now();
  try {
    const results = await ensureSetup({ force, only, progress: (line) => process.stderr.write(`${line}\n`) });
    const ran = results.filter((r) => !r.cached).length;
    process.stdout.write(`setup: ${results.length} steps, ${ran} ran, ${results.length - ran} cached (${seconds(performance.now() - t0)})\n`);
    return 0;
  } catch (e) {
    if (e instanceof PhaseError) {
      // The failing step's line above says what failed; the whole reason follows.
      const why = e.cause instanceof Error ? e.cause.message : String(e.cause);
      process.stderr.write(`setup: stopped at ${e.phase}: ${why}\nfix the problem above and run \`npm run setup\` again\n`);
    } else {
      process.stderr.write(`setup: ${(e as Error).message}\n`);
    }
    return 1;
  }
}

if (isMain(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
