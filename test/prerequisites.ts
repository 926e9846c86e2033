/**
 * What a test needs from this machine, asserted: a test whose prerequisite
 * is missing fails with the command that provides it. Nothing here skips.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Fails unless `file` exists; `provide` is the command that makes it. */
export function need(file: string, provide: string): void {
  if (!existsSync(file)) assert.fail(`${file} is missing: run \`${provide}\``);
}

/** Fails unless this process is root (the lab makes network namespaces, veth pairs and nftables tables). */
export function needRoot(): void {
  if (process.getuid?.() !== 0) assert.fail('this test needs root: the lab makes network namespaces (run it as root, or exclude the tier: npm test -- --exclude lab)');
}

/**
 * The path of a program found in `dirs` first, then on PATH; fails naming
 * `provide` when it is nowhere.
 */
export function needProgram(name: string, provide: string, dirs: readonly string[] = []): string {
  const search = [...dirs, ...(process.env.PATH ?? '').split(delimiter).filter(Boolean)];
  const found = search.map((d) => join(d, name)).find((p) => existsSync(p));
  if (!found) assert.fail(`${name} is not installed (looked in ${search.join(', ')}): run \`${provide}\``);
  return found;
}
