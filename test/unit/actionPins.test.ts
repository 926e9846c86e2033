/**
 * Third-party actions are pinned by commit, not by tag (#15, review finding
 * "actions pinned by tag, not SHA"): a tag can be moved, and a moved tag would
 * run someone else's code with the workflows' secrets. Every `uses:` of an
 * action outside this repository, in every workflow, is
 * `owner/repo[/path]@<40 hex>  # vX.Y.Z`; one action is pinned to one commit
 * in every workflow; and .github/dependabot.yml keeps the pins current
 * (github-actions, directory /), by pull requests that are reviewed.
 *
 * The lines are read as text (the tag lives in a YAML comment, which a parser
 * drops) and checked against the parsed workflows, so no step's `uses:` is
 * missed whatever its form.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { REPO_DIR } from '../../lib/toolchain/repo.js';

const WORKFLOWS = join(REPO_DIR, '.github', 'workflows');

/** `uses: owner/repo[/path]@<sha> # vX.Y.Z`, as a step (`- uses:`) or a key of one. */
const PINNED = /^\s*(?:-\s+)?uses:\s+([A-Za-z0-9][A-Za-z0-9_.-]*\/[A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_./-]+)?)@([0-9a-f]{40})\s+#\s+v\d+\.\d+\.\d+\s*$/;
const USES_LINE = /^\s*(?:-\s+)?uses:\s*(\S.*)$/;

interface Pin { file: string; line: number; action: string; sha: string }

/** The pins of one workflow's text, or the lines that are not pinned as they must be. */
function readPins(file: string, text: string): { pins: Pin[]; bad: string[] } {
  const pins: Pin[] = [];
  const bad: string[] = [];
  text.split('\n').forEach((l, i) => {
    const u = USES_LINE.exec(l);
    if (!u) return;
    const ref = u[1]!.replace(/^['"]|['"]?\s*(#.*)?$/g, '');
    if (ref.startsWith('./')) return; // this repository's own actions
    const m = PINNED.exec(l);
    if (m) pins.push({ file, line: i + 1, action: m[1]!, sha: m[2]! });
    else bad.push(`${file}:${i + 1}: ${l.trim()}`);
  });
  return { pins, bad };
}

const workflowFiles = readdirSync(WORKFLOWS).filter((f) => /\.ya?ml$/.test(f)).sort();

/** Every step's `uses:` in a parsed workflow (jobs' steps, and reusable-workflow jobs). */
function parsedUses(doc: { jobs?: Record<string, { uses?: string; steps?: { uses?: string }[] }> }): string[] {
  const out: string[] = [];
  for (const job of Object.values(doc.jobs ?? {})) {
    if (job.uses) out.push(job.uses);
    for (const s of job.steps ?? []) if (s.uses) out.push(s.uses);
  }
  return out;
}

describe('third-party actions pinned by commit', () => {
  it('finds the workflows', () => {
    assert.ok(workflowFiles.length > 0, `no workflow under ${WORKFLOWS}`);
  });

  it('the pattern refuses a tag, a branch, a short SHA or a missing tag comment, and skips local actions', () => {
    const sha = 'a'.repeat(40);
    const good = [
      `      - uses: actions/checkout@${sha} # v4.2.2`,
      `        uses: actions/cache/restore@${sha}  #  v4.3.0`,
    ];
    const bad = [
      '      - uses: actions/checkout@v4',
      '      - uses: actions/checkout@v4.2.2',
      '      - uses: actions/checkout@main',
      `      - uses: actions/checkout@${sha.slice(0, 7)} # v4.2.2`,
      `      - uses: actions/checkout@${sha}`,
      `      - uses: actions/checkout@${sha} # v4`,
      `      - uses: actions/checkout@${'A'.repeat(40)} # v4.2.2`,
      `      - uses: 'actions/checkout@v4'`,
    ];
    const r = readPins('t.yml', [...good, ...bad, '      - uses: ./actions/apply', '        uses: "./actions/plan"'].join('\n'));
    assert.deepEqual(r.pins.map((p) => p.action), ['actions/checkout', 'actions/cache/restore']);
    assert.equal(r.bad.length, bad.length, r.bad.join('\n'));
  });

  for (const file of workflowFiles) {
    it(`${file}: every non-local uses: is owner/repo[/path]@<40 hex> # vX.Y.Z`, () => {
      const text = readFileSync(join(WORKFLOWS, file), 'utf8');
      const { pins, bad } = readPins(file, text);
      assert.deepEqual(bad, [], `pin these to a release's full commit SHA, the tag in a comment (uses: owner/repo@<sha> # vX.Y.Z):\n${bad.join('\n')}`);
      // Every uses: the parser sees is one the text check read.
      const remote = parsedUses(parse(text)).filter((u) => !u.startsWith('./'));
      assert.deepEqual(remote.sort(), pins.map((p) => `${p.action}@${p.sha}`).sort(), `${file}: the uses: lines read as text are not the parsed workflow's`);
    });
  }

  it('pins one action to one commit in every workflow', () => {
    const byAction = new Map<string, Map<string, string[]>>();
    for (const file of workflowFiles) {
      for (const p of readPins(file, readFileSync(join(WORKFLOWS, file), 'utf8')).pins) {
        // actions/cache and actions/cache/restore are one repository: one commit.
        const repo = p.action.split('/').slice(0, 2).join('/');
        const shas = byAction.get(repo) ?? new Map<string, string[]>();
        shas.set(p.sha, [...(shas.get(p.sha) ?? []), `${p.file}:${p.line}`]);
        byAction.set(repo, shas);
      }
    }
    assert.ok(byAction.size > 0, 'no pinned action found');
    const split = [...byAction].filter(([, shas]) => shas.size > 1).map(([a, shas]) => `${a}: ${[...shas].map(([s, at]) => `${s} at ${at.join(', ')}`).join('; ')}`);
    assert.deepEqual(split, [], `one action, one commit:\n${split.join('\n')}`);
  });

  it('.github/dependabot.yml keeps the github-actions pins current', () => {
    const doc = parse(readFileSync(join(REPO_DIR, '.github', 'dependabot.yml'), 'utf8')) as {
      version?: number;
      updates?: { 'package-ecosystem'?: string; directory?: string; directories?: string[]; schedule?: { interval?: string } }[];
    };
    assert.equal(doc.version, 2);
    const gha = (doc.updates ?? []).find((u) => u['package-ecosystem'] === 'github-actions');
    assert.ok(gha, 'no github-actions entry in .github/dependabot.yml');
    assert.ok(gha.directory === '/' || (gha.directories ?? []).includes('/'), 'github-actions: directory "/" (Dependabot reads .github/workflows from there)');
    assert.ok(gha.schedule?.interval, 'github-actions: a schedule');
  });
});
