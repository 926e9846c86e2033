/** A setup step, and running a list of them with one report line each (the phase engine underneath). */
import { progressLine, runPhases, type Phase, type PhaseReport } from '../../phases/phase.js';

/** A setup step: a phase of the setup's list (lib/phases), `done` when its result is already there. */
export type Step = Phase<void>;

export interface RunOptions {
  /** Where report lines go (default: stdout). */
  log?: (line: string) => void;
  /** Run even when a step says it is done. */
  force?: boolean;
  /** Do not print lines for steps that were already done. */
  quietCached?: boolean;
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

/**
 * Runs steps in order, one report line each. Stops at the first failure and
 * throws PhaseError (later steps may depend on earlier ones).
 */
export async function runSteps(steps: readonly Step[], opts: RunOptions = {}): Promise<PhaseReport[]> {
  const log = opts.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const width = Math.max(0, ...steps.map((s) => s.name.length));
  return runPhases(undefined, steps, {
    force: opts.force ?? false,
    progress: (r) => {
      if (!(r.cached && opts.quietCached)) log(progressLine({ ...r, note: r.note || 'done' }, width));
    },
  });
}

/** Where the setup works, and where its long steps report. */
export interface SetupContext {
  repoDir: string;
  cacheDir: string;
  /** Where long steps say what they are doing before they finish (default: nowhere). */
  progress?: (line: string) => void;
}
