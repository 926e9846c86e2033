/**
 * A `#!/bin/sh` launcher that starts Node on a module of the repository's
 * node_modules, found relative to the launcher itself (so the folder it sits
 * in can be anywhere under the repository): how Pulumi starts our dynamic
 * provider host and our policy pack.
 */
import { join, relative } from 'node:path';

export interface NodeLauncher {
  /** The repository (its node_modules) and the folder the launcher is written to. */
  readonly repoDir: string;
  readonly dir: string;
  /** Comment lines after the shebang (without "# "). */
  readonly about: readonly string[];
  /** cd into the launcher's folder first, with why. */
  readonly cdWhy?: string;
  /** Modules to --import, relative to node_modules. */
  readonly imports?: readonly string[];
  /** The entry module, relative to node_modules. */
  readonly entry: string;
  /** The arguments, as shell text (e.g. "$@"). */
  readonly args: string;
}

export function nodeLauncher(l: NodeLauncher): string {
  const modules = relative(l.dir, join(l.repoDir, 'node_modules'));
  const imports = (l.imports ?? []).map((m) => `--import "file://$here/${modules}/${m}" `).join('');
  return [
    '#!/bin/sh',
    ...l.about.map((a) => `# ${a}`),
    'here=$(cd "$(dirname "$0")" && pwd)',
    ...(l.cdWhy ? [`# ${l.cdWhy}`, 'cd "$here"'] : []),
    `exec node ${imports}"$here/${modules}/${l.entry}" ${l.args}`,
    '',
  ].join('\n');
}
