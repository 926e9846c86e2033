/**
 * The one phase engine (in the manner of kubeadm's workflow phases and
 * k0sctl's "nothing to do"): a workflow is an ordered list of named phases;
 * each may say its work is already done (`done`, computed from what is
 * there), and otherwise runs. The setup, the lab's bring-up and Flux in the
 * lab are lists of phases run by runPhases().
 *
 * A phase that says it is done is not run (reported `cached`), unless
 * forced; a phase that has `done` must be done after it ran. The first
 * failure stops the list and throws a PhaseError naming the phase, with
 * every report so far. Progress (one report per phase) is separate from the
 * trace (the log: which phase starts, and a failure's stack).
 */

export interface Phase<C = void> {
  readonly name: string;
  /** True when the phase's work is already there: nothing to do. */
  done?(ctx: C): boolean | Promise<boolean>;
  /** Does the work; may return a short note for the report. */
  run(ctx: C): Promise<string | void>;
}

export interface PhaseReport {
  readonly name: string;
  readonly ok: boolean;
  /** The phase said it was done; run() was not called. */
  readonly cached: boolean;
  readonly note: string;
  readonly ms: number;
}

export interface RunPhasesOptions {
  /** Run a phase even when it says it is done. */
  readonly force?: boolean;
  /** One report per phase, as it ends. */
  readonly progress?: (report: PhaseReport) => void;
  /** The log: "phase <name>" as each starts, and a failure with its stack. */
  readonly trace?: (line: string) => void;
  /** Added to a failure's message, e.g. where the log is. */
  readonly hint?: string;
}

export class PhaseError extends Error {
  override name = 'PhaseError';
  constructor(
    readonly phase: string,
    override readonly cause: unknown,
    readonly reports: readonly PhaseReport[],
    hint?: string,
  ) {
    super(`phase "${phase}" failed: ${cause instanceof Error ? cause.message : String(cause)}${hint ? `\n(${hint})` : ''}`);
  }
}

/** Runs the phases in order; the reports of all of them, or a PhaseError at the first failure. */
export async function runPhases<C>(ctx: C, phases: ReadonlyArray<Phase<C>>, opts: RunPhasesOptions = {}): Promise<PhaseReport[]> {
  const reports: PhaseReport[] = [];
  const report = (r: PhaseReport): void => {
    reports.push(r);
    opts.progress?.(r);
  };
  for (const phase of phases) {
    const start = performance.now();
    opts.trace?.(`phase ${phase.name}`);
    try {
      if (!opts.force && phase.done && (await phase.done(ctx))) {
        report({ name: phase.name, ok: true, cached: true, note: 'cached', ms: performance.now() - start });
        continue;
      }
      const note = (await phase.run(ctx)) || '';
      if (phase.done && !(await phase.done(ctx))) throw new Error('the phase ran but its work is still not done');
      report({ name: phase.name, ok: true, cached: false, note, ms: performance.now() - start });
    } catch (e) {
      opts.trace?.(`phase ${phase.name} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      report({ name: phase.name, ok: false, cached: false, note: e instanceof Error ? e.message.split('\n')[0]! : String(e), ms: performance.now() - start });
      throw new PhaseError(phase.name, e, reports, opts.hint);
    }
  }
  return reports;
}

/** A report as one progress line: "✓ name  note (1.2s)", the names padded to `width`. */
export function progressLine(r: PhaseReport, width = 0): string {
  return `${r.ok ? '✓' : '✗'} ${r.name.padEnd(width)}  ${r.note} (${(r.ms / 1000).toFixed(1)}s)`;
}

/** A phase's name as typed on a command line: "BGP sessions" is bgp-sessions. */
export function phaseSlug(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
}

export class PhaseSelectionError extends Error {
  override name = 'PhaseSelectionError';
}

export interface PhaseSelection {
  /** Phases (or groups) to run, and only those. */
  readonly only?: readonly string[];
  /** Phases (or groups) to leave out. */
  readonly skip?: readonly string[];
}

/**
 * The phases a selection keeps, in the workflow's order. A word names a
 * phase (by its slug) or a group of them (a group wins over a phase of the
 * same name); an unknown word is an error that lists what there is. Nothing
 * left to run is an error too.
 */
export function selectPhases<C>(phases: ReadonlyArray<Phase<C>>, groups: Readonly<Record<string, ReadonlyArray<Phase<C>>>>, sel: PhaseSelection): Array<Phase<C>> {
  const expand = (words: readonly string[], flag: string): Set<Phase<C>> => {
    const out = new Set<Phase<C>>();
    for (const word of words) {
      const group = groups[word];
      const phase = phases.find((p) => phaseSlug(p.name) === word);
      if (group) for (const p of group) out.add(p);
      else if (phase) out.add(phase);
      else {
        const names = phases.map((p) => phaseSlug(p.name)).join(', ');
        throw new PhaseSelectionError(`${flag} ${word}: no such phase or group (groups: ${Object.keys(groups).join(', ')}; phases: ${names})`);
      }
    }
    return out;
  };
  const only = sel.only && sel.only.length > 0 ? expand(sel.only, '--only') : undefined;
  const skip = expand(sel.skip ?? [], '--skip');
  const kept = phases.filter((p) => (!only || only.has(p)) && !skip.has(p));
  if (kept.length === 0) throw new PhaseSelectionError('no phase left to run');
  return kept;
}
