/** The repository the setup serves, and the cache folder it fills (.cache/, never committed). */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const DEFAULT_CACHE_DIR = join(REPO_DIR, '.cache');
