/** Small helpers shared by the scripts (entry points only). */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: the scripts live in <root>/scripts. */
export function repoRoot(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..');
}
