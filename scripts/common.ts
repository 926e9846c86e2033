/** Small helpers shared by the scripts (entry points only). */
import { realpathSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: the scripts live in <root>/scripts. */
export function repoRoot(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..');
}

/** True when the module at `url` is the script node was started with (not imported). */
export function isMain(url: string): boolean {
  const arg = process.argv[1];
  if (!arg) return false;
  try {
    return realpathSync(arg) === realpathSync(fileURLToPath(url));
  } catch {
    return false;
  }
}

/**
 * A script's command line, parsed strictly (node:util parseArgs): an
 * unknown option or a missing value prints the problem and the usage, and
 * exits 2.
 */
export function parseCommandLine<O extends ParseArgsConfig['options']>(script: string, usage: string, argv: readonly string[], options: O, hint = ''): { values: ReturnType<typeof parseArgs<{ options: O; allowPositionals: true }>>['values']; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
    return { values, positionals };
  } catch (e) {
    const unknown = /Unknown option '([^']+)'/.exec((e as Error).message);
    process.stderr.write(`${script}: ${unknown ? `no option ${unknown[1]}` : (e as Error).message}${hint}\nusage: ${usage}\n`);
    process.exit(2);
  }
}
