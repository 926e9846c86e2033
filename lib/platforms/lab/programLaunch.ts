/**
 * How the lab starts its own programs (lib/platforms/lab/programs/*.ts: the
 * kubelet, the BGP agent, the echo pods, the probes, the internet's client
 * and servers). Each is bundled by esbuild into .cache/lab/programs/<name>.mjs
 * when a lab command starts (about 0.2 s for all of them), and node runs the
 * bundle as it is: starting one under tsx compiled its TypeScript first,
 * about four times the CPU of a start (0.41 s against 0.11 s of user time
 * for a probe on this machine), which the lab paid for every probe, every
 * pod and every agent, on two cores shared by five machines.
 *
 * The bundles keep the packages in node_modules outside (found from
 * .cache/lab/programs/ as from the sources), and live three folders below
 * the project as the sources do, so that CODE_ROOT (codeRoot.ts) means the
 * same in both. Each is written whole (a temporary file, renamed), so a
 * program started while they are rebuilt reads one or the other. Where no
 * bundle exists (a lab program started before any lab command built them),
 * the source runs under tsx, as before.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CODE_ROOT } from './codeRoot.js';

export const LAB_PROGRAMS = ['bgp-agent', 'clientStream', 'echo', 'git-server', 'kubelet', 'metadata', 'probe'] as const;
export type LabProgram = (typeof LAB_PROGRAMS)[number];

export function labProgramSource(name: LabProgram, codeRoot = CODE_ROOT): string {
  return join(codeRoot, 'lib/platforms/lab/programs', `${name}.ts`);
}

export function labProgramBundle(name: LabProgram, codeRoot = CODE_ROOT): string {
  return join(codeRoot, '.cache/lab/programs', `${name}.mjs`);
}

/** The command that starts a lab program: node on its bundle, or on its source under tsx where no bundle was built. */
export function labProgramArgv(name: LabProgram, node = process.execPath, codeRoot = CODE_ROOT): string[] {
  const bundle = labProgramBundle(name, codeRoot);
  return existsSync(bundle) ? [node, '--enable-source-maps', bundle] : [node, '--import', 'tsx', labProgramSource(name, codeRoot)];
}

/** Whether a process's command line (/proc/<pid>/cmdline) runs this lab program, from its bundle or its source. */
export function runsLabProgram(cmdline: string, name: LabProgram): boolean {
  return cmdline.includes(`lib/platforms/lab/programs/${name}.ts`) || cmdline.includes(`.cache/lab/programs/${name}.mjs`);
}
