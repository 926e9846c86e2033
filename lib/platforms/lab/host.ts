/**
 * What the lab needs of the machine it runs on before anything starts:
 * root (it makes network namespaces) and setup's programs. One check for
 * `npm run lab`, the lab's Pulumi resource, the lab's preflight and the
 * benchmarks that build labs.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** The problem that keeps the lab from running here, or undefined. */
export function labHostProblem(binDir: string): string | undefined {
  if (process.getuid?.() !== 0) return 'the lab makes network namespaces: run it as root';
  const apiServer = join(binDir, 'kube-apiserver');
  if (!existsSync(apiServer)) return `${apiServer} is missing: run npm run setup first`;
  return undefined;
}
