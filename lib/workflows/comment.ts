// Over 450 lines on purpose: one comment's renderer, whose sections share the one cut order that keeps the body under GitHub's limit.
/**
 * The plan action's pull-request comment: what a preview of one stack would
 * change (Pulumi's resource steps), the address plan before and after, the
 * same as a Mermaid picture, the spec's problems and the preview's own
 * output. Deterministic: the same input (and mask list), the same bytes. The body always
 * fits GitHub's comment limit (COMMENT_LIMIT): the raw output is cut first
 * (its tail kept), then the per-resource rows, then the picture; the marker
 * and the change summary are never cut. github.ts posts it. Every text of
 * the input goes through the process's mask list first (log.ts redact): the
 * runner masks logs, not what is posted through the API.
 */
import type { ResourceChange, ResourceOp } from '../pulumi/stack.js';
import { redact, redactAll } from './log.js';

export interface PlanView {
  readonly ranges: ReadonlyArray<{ name: string; prefix: string; purpose: string }>;
  readonly machines: ReadonlyArray<{ name: string; role: 'control-plane' | 'worker'; pool: string; address: string }>;
  /** Said above the ranges: why they are relative to the block, while it is not known. */
  readonly note?: string;
}

export interface SpecProblem {
  readonly file: string;
  readonly line?: number;
  readonly field: string;
  readonly message: string;
  readonly fix: string;
}

export interface PlanCommentInput {
  /** The Pulumi stack, e.g. "dfw". */
  readonly stack: string;
  /** The cluster spec the stack is built from, e.g. "infra/dfw.yaml". */
  readonly specFile: string;
  readonly commitSha: string;
  readonly runUrl?: string;
  /** From the Pulumi engine events. */
  readonly changes: readonly ResourceChange[];
  /** The plan on the base branch; undefined for a new cluster. */
  readonly before?: PlanView;
  /** The plan on the PR head; undefined when the spec failed to load. */
  readonly after?: PlanView;
  /** What is wrong with the spec, when it is bad. */
  readonly problems?: readonly SpecProblem[];
  /** The preview's text output; may contain ANSI escapes. */
  readonly rawOutput: string;
  /** An error message when the preview itself failed. */
  readonly failed?: string;
}

/** GitHub refuses comments over 65,536 characters; we keep a margin, as pulumi/actions does. */
export const COMMENT_LIMIT = 64_000;

/** Mermaid refuses diagrams longer than this (its default maxTextSize); we say so instead of drawing. */
const MERMAID_LIMIT = 50_000;

/** At most this much of a failure message is shown (its head). */
const FAILURE_LIMIT = 4_000;

/**
 * The hidden first line that identifies a stack's comment. The stack name is
 * percent-encoded (but for "/") so nothing in it can end the HTML comment.
 */
export function commentMarker(stack: string): string {
  return `<!-- native6:plan stack=${encodeURIComponent(stack).replace(/%2F/g, '/')} -->`;
}

// CSI (ESC [ ... final, or the 8-bit CSI), OSC (ESC ] ... BEL or ST), and the
// two-character escapes (ESC followed by one of @-Z \ ] ^ _ and a few others).
const ANSI = /(?:\u001b\[|\u009b)[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)?|\u001b[PX^_][^\u001b]*\u001b\\|\u001b[ -/]*[0-~]/g;

/** The text without ANSI escape sequences (colours, cursor movement, hyperlinks). */
export function stripAnsi(s: string): string {
  return s.replace(ANSI, '');
}

// ---------------------------------------------------------------------------
// Ordering: plain code-unit comparisons, never locale-dependent.

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** "w-2" before "w-10". */
function natural(a: string, b: string): number {
  const ca = a.match(/\d+|\D+/g) ?? [];
  const cb = b.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.min(ca.length, cb.length); i++) {
    const x = ca[i]!;
    const y = cb[i]!;
    if (x === y) continue;
    if (/^\d/.test(x) && /^\d/.test(y)) {
      const d = BigInt(x) < BigInt(y) ? -1 : BigInt(x) > BigInt(y) ? 1 : 0;
      if (d !== 0) return d;
    }
    return cmp(x, y);
  }
  return ca.length - cb.length || cmp(a, b);
}

// ---------------------------------------------------------------------------
// Markdown and Mermaid text.

/** A code span that survives any backticks in s. */
function code(s: string): string {
  const runs = s.match(/`+/g) ?? [];
  const fence = '`'.repeat(Math.max(0, ...runs.map((r) => r.length)) + 1);
  const pad = s.startsWith('`') || s.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${s}${pad}${fence}`;
}

/** Plain text for one line of Markdown: no HTML, one line. */
function text(s: string): string {
  return s.replace(/\r?\n|\r/g, ' ').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A table cell: one line, pipes escaped (GFM unescapes them even inside code spans). */
function cell(s: string): string {
  return s.replace(/\r?\n|\r/g, ' ').replace(/\|/g, '\\|');
}

/** A quoted Mermaid label: entity codes for what would end or confuse it. */
function label(...lines: string[]): string {
  const esc = (s: string) =>
    s
      .replace(/#/g, '#35;')
      .replace(/"/g, '#quot;')
      .replace(/`/g, '#96;')
      .replace(/</g, '#lt;')
      .replace(/>/g, '#gt;')
      .replace(/\r?\n|\r/g, ' ');
  return `"${lines.map(esc).join('<br/>')}"`;
}

/** Runs of three or more backticks broken with zero-width spaces, so they cannot close a fence. */
function defence(s: string): string {
  return s.replace(/`{3,}/g, (run) => run.split('').join('\u200b'));
}

function count(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${count(n)} ${n === 1 ? one : many}`;
}

/** Terminal output as a person saw it: no escapes, carriage-return overwrites resolved, no other controls. */
function cleanOutput(raw: string): string {
  return stripAnsi(raw)
    .replace(/\r\n/g, '\n')
    .split('\n')
    .map((line) => {
      const parts = line.split('\r').filter((p) => p.length > 0);
      return (parts[parts.length - 1] ?? '').replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '').trimEnd();
    })
    .join('\n')
    .replace(/^\n+|\n+$/g, '');
}

// ---------------------------------------------------------------------------
// Resource changes.

const OPS: ReadonlyArray<{ op: ResourceOp; symbol: string }> = [
  { op: 'replace', symbol: '+-' },
  { op: 'delete', symbol: '-' },
  { op: 'create', symbol: '+' },
  { op: 'update', symbol: '~' },
  { op: 'import', symbol: '=' },
  { op: 'discard', symbol: '<' },
  { op: 'read', symbol: '>' },
  { op: 'refresh', symbol: '↺' },
  { op: 'same', symbol: '·' },
];
const opRank = new Map(OPS.map((o, i) => [o.op, i]));
const opSymbol = new Map(OPS.map((o) => [o.op, o.symbol]));

/** Steps that change the stack's state get a row of their own; reads, refreshes and unchanged resources are only counted. */
const ROW_OPS: ReadonlySet<ResourceOp> = new Set(['replace', 'delete', 'create', 'update', 'import', 'discard']);

function opCell(op: ResourceOp): string {
  return `${code(opSymbol.get(op) ?? '?')} ${op}`;
}

const diffKey = (c: ResourceChange) => [...(c.diffs ?? [])].sort(cmp).join('\n');

function sortedChanges(changes: readonly ResourceChange[]): ResourceChange[] {
  return [...changes].sort(
    (a, b) => (opRank.get(a.op) ?? 99) - (opRank.get(b.op) ?? 99) || cmp(a.type, b.type) || natural(a.name, b.name) || cmp(a.urn, b.urn) || cmp(diffKey(a), diffKey(b)),
  );
}

function summarySection(changes: readonly ResourceChange[]): string {
  const lines = ['### Changes', ''];
  if (changes.length === 0) return [...lines, 'No resource steps were reported.'].join('\n');
  const counts = new Map<ResourceOp, number>();
  for (const c of changes) counts.set(c.op, (counts.get(c.op) ?? 0) + 1);
  lines.push('| Operation | Resources |', '| --- | ---: |');
  for (const { op } of OPS) {
    const n = counts.get(op);
    if (n) lines.push(`| ${cell(opCell(op))} | ${count(n)} |`);
  }
  lines.push(`| **total** | **${count(changes.length)}** |`);
  return lines.join('\n');
}

function resourceRow(c: ResourceChange): string {
  const diffs = [...new Set(c.diffs ?? [])].sort(cmp);
  return `| ${cell(opCell(c.op))} | ${cell(code(c.type))} | ${cell(code(c.name))} | ${diffs.length ? cell(diffs.map(code).join(', ')) : ''} |`;
}

function rowsSection(rows: readonly string[], shown: number): string {
  if (rows.length === 0) return '';
  const lines = ['| Op | Type | Name | Changed properties |', '| --- | --- | --- | --- |', ...rows.slice(0, shown)];
  if (shown < rows.length) {
    lines.push('', `_…and ${plural(rows.length - shown, 'more resource')} not shown, to keep this comment under GitHub's size limit._`);
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------
// The address plan, before and after.

type Status = 'added' | 'removed' | 'changed' | 'same';
const statusCell: Record<Status, string> = { added: '`+` added', removed: '`-` removed', changed: '`~` changed', same: '' };

const RANGE_ORDER = ['block', 'nodes', 'services', 'apiserver', 'load-balancers', 'external-ips', 'nat64', 'pods'];
function rangeRank(name: string): number {
  const i = RANGE_ORDER.indexOf(name);
  return i < 0 ? RANGE_ORDER.length : i;
}

type RangeRow = { name: string; before?: { prefix: string; purpose: string }; after?: { prefix: string; purpose: string }; status: Status };
type MachineRow = { name: string; before?: PlanView['machines'][number]; after?: PlanView['machines'][number]; status: Status };

function diffRanges(before: PlanView | undefined, after: PlanView): RangeRow[] {
  const b = new Map((before?.ranges ?? []).map((r) => [r.name, r]));
  const a = new Map(after.ranges.map((r) => [r.name, r]));
  const names = [...new Set([...b.keys(), ...a.keys()])].sort((x, y) => rangeRank(x) - rangeRank(y) || cmp(x, y));
  return names.map((name) => {
    const was = b.get(name);
    const is = a.get(name);
    const status: Status = !was ? 'added' : !is ? 'removed' : was.prefix !== is.prefix || was.purpose !== is.purpose ? 'changed' : 'same';
    return { name, status, ...(was ? { before: was } : {}), ...(is ? { after: is } : {}) };
  });
}

function poolKey(m: { role: string; pool: string }): string {
  return m.role === 'control-plane' ? '' : m.pool;
}

function diffMachines(before: PlanView | undefined, after: PlanView): MachineRow[] {
  const b = new Map((before?.machines ?? []).map((m) => [m.name, m]));
  const a = new Map(after.machines.map((m) => [m.name, m]));
  const rows = [...new Set([...b.keys(), ...a.keys()])].map((name): MachineRow => {
    const was = b.get(name);
    const is = a.get(name);
    const status: Status = !was ? 'added' : !is ? 'removed' : was.address !== is.address || was.pool !== is.pool || was.role !== is.role ? 'changed' : 'same';
    return { name, status, ...(was ? { before: was } : {}), ...(is ? { after: is } : {}) };
  });
  const key = (r: MachineRow) => (r.after ?? r.before)!;
  return rows.sort((x, y) => natural(poolKey(key(x)), poolKey(key(y))) || natural(x.name, y.name));
}

function tally(rows: ReadonlyArray<{ status: Status }>): string {
  const n = (s: Status) => rows.filter((r) => r.status === s).length;
  return `${count(n('added'))} added, ${count(n('removed'))} removed, ${count(n('changed'))} changed, ${count(n('same'))} unchanged`;
}

function machineWhat(m: PlanView['machines'][number]): string {
  return m.role === 'control-plane' ? 'control plane' : `worker in pool ${code(m.pool)}`;
}

function addressPlanSection(before: PlanView | undefined, after: PlanView | undefined): string {
  const lines = ['### Address plan', ''];
  if (!after) return [...lines, '_The spec on this branch did not load, so there is no plan to compare._'].join('\n');
  if (!before) lines.push('_A new cluster: there is no plan on the base branch._', '');
  const ranges = diffRanges(before, after);
  if (after.note) lines.push(`_${text(after.note)}_`, '');
  lines.push(`Ranges: ${tally(ranges)}.`, '', '| | Range | Before | After | Purpose |', '| --- | --- | --- | --- | --- |');
  for (const r of ranges) {
    const purpose = r.status === 'changed' && r.before!.purpose !== r.after!.purpose ? `${r.after!.purpose} (was: ${r.before!.purpose})` : (r.after ?? r.before)!.purpose;
    lines.push(`| ${statusCell[r.status]} | ${cell(code(r.name))} | ${r.before ? cell(code(r.before.prefix)) : '—'} | ${r.after ? cell(code(r.after.prefix)) : '—'} | ${cell(text(purpose))} |`);
  }
  const machines = diffMachines(before, after);
  lines.push('', `Machines: ${tally(machines)}.`);
  const moved = machines.filter((m) => m.status !== 'same');
  if (moved.length > 0) lines.push('');
  for (const m of moved) {
    if (m.status === 'added') lines.push(`- \`+\` ${code(m.name)}: ${machineWhat(m.after!)}, ${code(m.after!.address)}`);
    else if (m.status === 'removed') lines.push(`- \`-\` ${code(m.name)}: ${machineWhat(m.before!)}, ${code(m.before!.address)}`);
    else {
      const was = m.before!;
      const is = m.after!;
      const what = was.role !== is.role || was.pool !== is.pool ? `${machineWhat(was)} → ${machineWhat(is)}` : machineWhat(is);
      const address = was.address !== is.address ? `${code(was.address)} → ${code(is.address)}` : code(is.address);
      lines.push(`- \`~\` ${code(m.name)}: ${what}, ${address}`);
    }
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------
// The picture.

/** The topology, before and after, as a Mermaid flowchart (without the fence). */
function mermaidDiff(before: PlanView | undefined, after: PlanView): string {
  const lines = ['flowchart TB', `  rt[[${label('upstream routers', 'BGP')}]]`];
  const classes: Record<Exclude<Status, 'same'>, string[]> = { added: [], removed: [], changed: [] };
  const mark = (id: string, s: Status) => {
    if (s !== 'same') classes[s].push(id);
  };
  const machines = diffMachines(before, after);
  const pools: Array<{ key: string; title: string; rows: MachineRow[] }> = [];
  for (const m of machines) {
    const at = (m.after ?? m.before)!;
    const key = poolKey(at);
    let pool = pools.find((p) => p.key === key);
    if (!pool) pools.push((pool = { key, title: key === '' ? 'control plane' : `worker pool ${at.pool}`, rows: [] }));
    pool.rows.push(m);
  }
  let mi = 0;
  pools.forEach((p, pi) => {
    lines.push(`  subgraph pool${pi}[${label(p.title)}]`, '    direction LR');
    for (const m of p.rows) {
      const id = `m${mi++}`;
      const at = (m.after ?? m.before)!;
      const extra = m.status === 'changed' && m.before!.address !== m.after!.address ? [`was ${m.before!.address}`] : [];
      lines.push(`    ${id}[${label(m.name, at.address, ...extra)}]`);
      mark(id, m.status);
    }
    lines.push('  end', `  rt ---|${label('BGP')}| pool${pi}`);
  });
  const ranges = diffRanges(before, after);
  if (ranges.length > 0) {
    lines.push(`  subgraph ranges[${label('address plan')}]`, '    direction LR');
    ranges.forEach((r, i) => {
      const id = `g${i}`;
      const at = (r.after ?? r.before)!;
      const extra = r.status === 'changed' && r.before!.prefix !== r.after!.prefix ? [`was ${r.before!.prefix}`] : [];
      lines.push(`    ${id}([${label(r.name, at.prefix, ...extra)}])`);
      mark(id, r.status);
    });
    lines.push('  end', '  rt ~~~ ranges');
  }
  lines.push(
    '  classDef added fill:#dafbe1,stroke:#1a7f37,color:#0f5323',
    '  classDef removed fill:#ffebe9,stroke:#cf222e,color:#82071e,stroke-dasharray: 5 5',
    '  classDef changed fill:#fff8c5,stroke:#9a6700,color:#4d2d00',
  );
  for (const s of ['added', 'removed', 'changed'] as const) {
    if (classes[s].length > 0) lines.push(`  class ${classes[s].join(',')} ${s}`);
  }
  return lines.join('\n');
}

function topologySection(before: PlanView | undefined, after: PlanView | undefined, draw: boolean): string {
  if (!after) return '';
  const lines = ['### Topology', ''];
  if (!draw) return [...lines, "_The picture is left out to keep this comment under GitHub's size limit._"].join('\n');
  const diagram = mermaidDiff(before, after);
  if (diagram.length > MERMAID_LIMIT) return [...lines, `_The picture is left out: at ${count(diagram.length)} characters it is more than Mermaid draws._`].join('\n');
  return [...lines, '```mermaid', diagram, '```', '', 'Green: added, red (dashed): removed, yellow: changed.'].join('\n');
}

// ---------------------------------------------------------------------------
// Problems, failure, raw output.

function problemsSection(problems: readonly SpecProblem[] | undefined): string {
  if (!problems || problems.length === 0) return '';
  const sorted = [...problems].sort(
    (a, b) => cmp(a.file, b.file) || (a.line ?? 0) - (b.line ?? 0) || cmp(a.field, b.field) || cmp(a.message, b.message) || cmp(a.fix, b.fix),
  );
  const lines = [`### Problems in the spec (${count(sorted.length)})`, ''];
  for (const p of sorted) {
    const where = p.line !== undefined ? `${p.file}:${p.line}` : p.file;
    lines.push(`- ${code(where)} ${code(p.field)}: ${text(p.message)}. **Fix:** ${text(p.fix)}`);
  }
  return lines.join('\n');
}

function failureSection(failed: string | undefined): string {
  if (failed === undefined) return '';
  const clean = cleanOutput(failed);
  const shown = clean.length > FAILURE_LIMIT ? `${clean.slice(0, FAILURE_LIMIT)}\n… ${plural(clean.length - FAILURE_LIMIT, 'more character')}` : clean;
  return ['**The preview failed:**', '', '```text', defence(shown), '```'].join('\n');
}

/** The last `keep` characters of s, starting at a line when one fits, never inside a surrogate pair. */
function tail(s: string, keep: number): string {
  if (keep >= s.length) return s;
  if (keep <= 0) return '';
  let start = s.length - keep;
  const nl = s.indexOf('\n', start - 1);
  if (nl !== -1 && nl + 1 < s.length) return s.slice(nl + 1);
  const c = s.charCodeAt(start);
  if (c >= 0xdc00 && c <= 0xdfff) start++;
  return s.slice(start);
}

function rawSection(clean: string, keep: number): string {
  const kept = tail(clean, keep);
  const cut = clean.length - kept.length;
  const lines = ['<details><summary>Pulumi preview output</summary>', ''];
  if (cut > 0) {
    lines.push(
      kept.length === 0
        ? `_All ${plural(cut, 'character')} of the output were cut to keep this comment under GitHub's size limit; the workflow run has it._`
        : `_The first ${plural(cut, 'character')} of the output were cut to keep this comment under GitHub's size limit; the workflow run has it all._`,
      '',
    );
  }
  if (clean.length === 0) lines.push('_The preview printed nothing._', '');
  else if (kept.length > 0) lines.push('```text', defence(kept), '```', '');
  lines.push('</details>');
  return lines.join('\n');
}

// ---------------------------------------------------------------------------
// Assembly and fitting.

interface Layout {
  /** Resource rows shown. */
  readonly rows: number;
  readonly draw: boolean;
  /** Characters of the cleaned output kept (its tail). */
  readonly raw: number;
  /** Characters kept of the middle (address plan, picture, problems) in the last resort; undefined: all. */
  readonly middle?: number;
}

export function renderPlanComment(given: PlanCommentInput): string {
  const input = redactAll(given);
  const marker = commentMarker(input.stack);
  const sha = input.commitSha.slice(0, 7);
  const head = [
    marker,
    `## Plan for ${code(input.stack)}: ${code(input.specFile)} at ${code(sha)}`,
    ...(input.runUrl ? ['', `[Workflow run](${input.runUrl}) · commit ${code(input.commitSha)}`] : []),
  ].join('\n');
  const failure = failureSection(input.failed);
  const changes = sortedChanges(input.changes);
  const summary = summarySection(changes);
  const rows = changes.filter((c) => ROW_OPS.has(c.op)).map(resourceRow);
  const plan = addressPlanSection(input.before, input.after);
  const problems = problemsSection(input.problems);
  const raw = redact(cleanOutput(input.rawOutput)); // again without ANSI escapes, which could split a secret

  const middleOf = (draw: boolean) => [plan, topologySection(input.before, input.after, draw), problems].filter((s) => s.length > 0).join('\n\n');
  const middles = new Map<boolean, string>([
    [true, middleOf(true)],
    [false, middleOf(false)],
  ]);

  const assemble = (l: Layout): string => {
    let middle = middles.get(l.draw)!;
    if (l.middle !== undefined && l.middle < middle.length) {
      const kept = middle.slice(0, l.middle);
      const end = kept.lastIndexOf('\n');
      const shown = end > 0 ? kept.slice(0, end) : '';
      middle = `${shown}\n\n_…${plural(middle.length - shown.length, 'more character')} of the plan and problems cut to keep this comment under GitHub's size limit._`;
    }
    return `${[head, failure, summary, rowsSection(rows, l.rows), middle, rawSection(raw, l.raw)].filter((s) => s.length > 0).join('\n\n')}\n`;
  };
  const fits = (l: Layout) => assemble(l).length <= COMMENT_LIMIT;

  /** The largest n in [0, hi] with ok(n), assuming ok is (close enough to) monotone; -1 when even 0 fails. */
  const largest = (hi: number, ok: (n: number) => boolean): number => {
    if (ok(hi)) return hi;
    if (!ok(0)) return -1;
    let lo = 0;
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (ok(mid)) lo = mid;
      else hi = mid;
    }
    return lo;
  };
  const withRaw = (l: Layout): Layout => ({ ...l, raw: Math.max(0, largest(raw.length, (n) => fits({ ...l, raw: n }))) });

  const attempt = (draw: boolean): Layout | undefined => {
    const full: Layout = { rows: rows.length, draw, raw: raw.length };
    if (fits(full)) return full;
    const rawCut = withRaw(full);
    if (fits(rawCut)) return rawCut;
    const n = largest(rows.length, (k) => fits({ rows: k, draw, raw: 0 }));
    if (n < 0) return undefined;
    return withRaw({ rows: n, draw, raw: 0 });
  };

  const layout = attempt(true) ?? attempt(false);
  if (layout) return assemble(layout);
  // Last resort: the plan and problems themselves are too long; cut them at a line.
  const bare: Layout = { rows: 0, draw: false, raw: 0 };
  const m = largest(middles.get(false)!.length, (k) => fits({ ...bare, middle: k }));
  const body = assemble({ ...bare, middle: Math.max(0, m) });
  // Only a stack name or failure heading beyond any reason gets here; the marker stays first.
  return body.length <= COMMENT_LIMIT ? body : body.slice(0, COMMENT_LIMIT);
}
