/**
 * Apply as a program of its own, for the lab's GitOps loop to run inside the
 * lab's runner namespace (IPv4 only, as a GitHub-hosted runner):
 *
 *   applyProgram.ts <inputs.json> <results.json>
 *
 * The inputs are applyAction's (lib/workflows/actions.ts); the log goes to
 * stdout, a line each; the results, as applyAction returns them, to the
 * second file. Exits 1 with the error on stderr when apply fails.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { applyAction } from '../../lib/workflows/actions.js';
import { createLineLog } from '../../lib/workflows/log.js';

const [inputs, results] = process.argv.slice(2);
if (!inputs || !results) {
  console.error('usage: applyProgram.ts <inputs.json> <results.json>');
  process.exit(2);
}
try {
  const out = await applyAction(JSON.parse(readFileSync(inputs, 'utf8')) as Parameters<typeof applyAction>[0], createLineLog((l) => console.log(l)));
  writeFileSync(results, JSON.stringify(out));
} catch (e) {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
}
