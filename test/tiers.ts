/**
 * The test tiers and what a run of one means: which tiers there are, which
 * of them this machine can run, and the counts read back from node:test's
 * TAP output. A tier that cannot run here is excluded by name and said so;
 * a skipped test, a todo or a cancelled test fails the run, like a failure
 * (a prerequisite that is missing must fail with the command that provides
 * it, not skip).
 */

export const TIERS = ['unit', 'integration', 'lab'] as const;
export type Tier = (typeof TIERS)[number];

/** Why a tier cannot run on this machine, or undefined when it can. */
export function tierBlocker(tier: Tier, env: { uid: number | undefined }): string | undefined {
  if (tier === 'lab' && env.uid !== 0) return 'the lab tier needs root (it makes network namespaces, veth pairs and nftables tables)';
  return undefined;
}

export interface TapCounts {
  tests: number;
  pass: number;
  fail: number;
  cancelled: number;
  skipped: number;
  todo: number;
}

export interface TapResult {
  /** The run's own closing counts, or undefined when the output has none (the runner died). */
  readonly counts: TapCounts | undefined;
  /** Every test (at any depth) reported as skipped, with its reason. */
  readonly skipped: ReadonlyArray<{ name: string; reason: string }>;
  /** Every test reported as todo. */
  readonly todo: ReadonlyArray<{ name: string; reason: string }>;
  /** Test files that ran no test (node:test counts such a file as one passing test named by its path). */
  readonly emptyFiles: readonly string[];
}

const COUNT_KEYS: ReadonlyArray<keyof TapCounts> = ['tests', 'pass', 'fail', 'cancelled', 'skipped', 'todo'];

/** Reads node:test's TAP output (the `tap` reporter): the closing counts and the skipped and todo tests by name. */
export function parseTap(text: string): TapResult {
  const found: Partial<Record<keyof TapCounts, number>> = {};
  const skipped: Array<{ name: string; reason: string }> = [];
  const todo: Array<{ name: string; reason: string }> = [];
  const emptyFiles: string[] = [];
  for (const line of text.split('\n')) {
    const file = /^ok \d+ - (\S+\.test\.[cm]?[jt]s)$/.exec(line);
    if (file) emptyFiles.push(file[1]!);
    const count = /^# (tests|pass|fail|cancelled|skipped|todo) (\d+)$/.exec(line);
    if (count) {
      found[count[1] as keyof TapCounts] = Number(count[2]);
      continue;
    }
    // "ok 3 - name # SKIP reason" at any depth; a '#' inside a name is escaped as '\#'.
    const directive = /^\s*(?:not )?ok \d+ - ((?:[^#\\]|\\.)*?)\s+# (SKIP|TODO)\b\s*(.*)$/i.exec(line);
    if (directive) {
      const entry = { name: directive[1]!.replace(/\\(.)/g, '$1'), reason: directive[3]!.trim() };
      (directive[2]!.toUpperCase() === 'SKIP' ? skipped : todo).push(entry);
    }
  }
  const complete = COUNT_KEYS.every((k) => found[k] !== undefined);
  return { counts: complete ? (found as TapCounts) : undefined, skipped, todo, emptyFiles };
}

export interface TierOutcome {
  readonly tier: Tier;
  readonly exitCode: number;
  readonly tap: TapResult;
}

/** What is wrong with a tier's run, in words; empty when it passed with every test run. */
export function tierProblems(o: TierOutcome): string[] {
  const problems: string[] = [];
  const c = o.tap.counts;
  if (!c) problems.push(`the ${o.tier} tier printed no closing counts (the test runner exited with ${o.exitCode} before the end)`);
  else {
    if (c.tests === 0) problems.push(`the ${o.tier} tier ran no test`);
    if (o.tap.emptyFiles.length > 0) problems.push(`${o.tap.emptyFiles.length} file(s) with no test: ${o.tap.emptyFiles.join(', ')}`);
    if (c.fail > 0) problems.push(`${c.fail} failed`);
    if (c.cancelled > 0) problems.push(`${c.cancelled} cancelled`);
    if (c.skipped > 0) problems.push(`${c.skipped} skipped (a test whose prerequisite is missing must fail and name the command that provides it): ${o.tap.skipped.map((s) => `"${s.name}" (${s.reason || 'no reason'})`).join(', ')}`);
    if (c.todo > 0) problems.push(`${c.todo} todo: ${o.tap.todo.map((s) => `"${s.name}"`).join(', ')}`);
  }
  if (o.exitCode !== 0 && problems.length === 0) problems.push(`the test runner exited with ${o.exitCode}`);
  return problems;
}

/** The closing line of a whole run: "tests: N passed, N failed, N skipped" (every tier that ran). */
export function closingLine(outcomes: readonly TierOutcome[]): string {
  const sum = (k: keyof TapCounts) => outcomes.reduce((n, o) => n + (o.tap.counts?.[k] ?? 0), 0);
  return `tests: ${sum('pass')} passed, ${sum('fail') + sum('cancelled')} failed, ${sum('skipped') + sum('todo')} skipped`;
}
