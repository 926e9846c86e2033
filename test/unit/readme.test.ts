/**
 * The README is the front door and must stay true (#11):
 *   - it stays short: under 250 lines, docs/ holding the rest;
 *   - every relative link in README.md and docs/*.md reaches a file inside the
 *     repository, and a `#anchor` reaches a heading of its target (GitHub's
 *     slugs); every page of docs/ is linked from the README;
 *   - its repository map names exactly the top-level folders and the folders
 *     directly under lib/, and every folder it names exists;
 *   - every `npm run <script>` it and docs/ name is a script of package.json.
 *
 * Folders are read from the tree, not from git (the mutation sandbox is a copy
 * without .git): a folder counts when it holds at least one file, as git only
 * tracks files; dot-folders and node_modules/ are left out of the required set.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const README = join(ROOT, 'README.md');
const MAP_HEADING = '## Repository map';

function read(path: string): string {
  return readFileSync(path, 'utf8');
}

function docsPages(): string[] {
  const dir = join(ROOT, 'docs');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => join(dir, f));
}

/** The lines of a Markdown text outside fenced code blocks, with their numbers (1-based). */
function proseLines(text: string): Array<{ line: string; n: number }> {
  const out: Array<{ line: string; n: number }> = [];
  let fence: string | undefined;
  text.split('\n').forEach((line, i) => {
    const m = /^\s{0,3}(`{3,}|~{3,})/.exec(line);
    if (m) {
      const mark = (m[1] ?? '`').charAt(0);
      if (fence === undefined) fence = mark;
      else if (mark === fence) fence = undefined;
      return;
    }
    if (fence === undefined) out.push({ line, n: i + 1 });
  });
  return out;
}

/** GitHub's anchor for a heading's text (github-slugger): links and images keep their text, punctuation goes, spaces become '-'. */
function slug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .trim()
    .toLowerCase();
  return text.replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-');
}

/** Every anchor a Markdown file offers: its headings' slugs (repeats numbered as GitHub does) and explicit ids. */
function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const { line } of proseLines(text)) {
    const h = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (h) {
      const base = slug(h[1] ?? '');
      const count = seen.get(base) ?? 0;
      seen.set(base, count + 1);
      out.add(count === 0 ? base : `${base}-${count}`);
    }
    for (const m of line.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) out.add(m[1] ?? '');
  }
  return out;
}

/** Every link target in a Markdown text (inline and reference definitions), code left out. */
function links(text: string): Array<{ target: string; n: number }> {
  const out: Array<{ target: string; n: number }> = [];
  for (const { line, n } of proseLines(text)) {
    const prose = line.replace(/(`+)[^`]*?\1/g, '');
    for (const m of prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) out.push({ target: m[1] ?? '', n });
    const def = /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/.exec(prose);
    if (def) out.push({ target: def[1] ?? '', n });
  }
  return out;
}

function isExternal(target: string): boolean {
  return /^[a-z][a-z0-9+.-]*:/i.test(target);
}

/** What is wrong with one relative link of `file`, or undefined. */
function linkProblem(file: string, target: string): string | undefined {
  const hash = target.indexOf('#');
  const pathPart = decodeURIComponent(hash < 0 ? target : target.slice(0, hash));
  const anchor = hash < 0 ? undefined : decodeURIComponent(target.slice(hash + 1));
  const dest = pathPart === '' ? file : resolve(dirname(file), pathPart);
  const rel = relative(ROOT, dest);
  if (rel.startsWith('..') || resolve(ROOT, rel) !== dest) return 'points outside the repository';
  if (!existsSync(dest)) return `${rel} does not exist`;
  if (anchor !== undefined && anchor !== '') {
    if (!dest.endsWith('.md') || !statSync(dest).isFile()) return undefined;
    if (!anchors(read(dest)).has(anchor)) return `${rel} has no heading for #${anchor}`;
  }
  return undefined;
}

/** A folder as git sees it: it holds at least one file, somewhere below. */
function holdsAFile(dir: string): boolean {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isFile() || e.isSymbolicLink()) return true;
    if (e.isDirectory() && holdsAFile(join(dir, e.name))) return true;
  }
  return false;
}

function foldersIn(dir: string, skip: (name: string) => boolean): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !skip(e.name) && holdsAFile(join(dir, e.name)))
    .map((e) => e.name)
    .sort();
}

/** The folders the README's map names: its list lines starting with `` `folder/` ``. */
function mapEntries(readme: string): string[] {
  const lines = readme.split('\n');
  const start = lines.findIndex((l) => l.trim() === MAP_HEADING);
  if (start < 0) return [];
  const entries: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (/^#{1,2}\s/.test(line)) break;
    const m = /^- `([^`]+\/)`/.exec(line);
    if (m?.[1]) entries.push(m[1]);
  }
  return entries;
}

test('the README is under 250 lines', () => {
  const lines = read(README).replace(/\n$/, '').split('\n').length;
  assert.ok(lines < 250, `README.md has ${lines} lines: keep it a front door under 250, and move the rest into docs/`);
});

test('every relative link in README.md and docs/*.md reaches a file, and a #anchor a heading', () => {
  const problems: string[] = [];
  let checked = 0;
  for (const file of [README, ...docsPages()]) {
    for (const { target, n } of links(read(file))) {
      if (isExternal(target)) continue;
      checked++;
      const why = linkProblem(file, target);
      if (why) problems.push(`${relative(ROOT, file)}:${n}: (${target}): ${why}`);
    }
  }
  assert.ok(checked > 0, 'no relative link found: the link reader is broken');
  assert.deepEqual(problems, [], `broken links:\n${problems.join('\n')}`);
});

test('every page of docs/ is linked from the README', () => {
  const linked = new Set(
    links(read(README))
      .filter((l) => !isExternal(l.target))
      .map((l) => resolve(ROOT, decodeURIComponent(l.target.split('#')[0] ?? ''))),
  );
  const orphans = docsPages().filter((p) => !linked.has(p)).map((p) => relative(ROOT, p));
  assert.deepEqual(orphans, [], `docs pages no link in the README reaches: ${orphans.join(', ')}`);
});

test("the README's repository map names exactly the top-level folders and the folders of lib/", () => {
  const entries = mapEntries(read(README));
  assert.ok(entries.length > 0, `README.md has no map: a "${MAP_HEADING}" section of lines starting with \`folder/\``);
  const named = new Set(entries);
  const problems: string[] = [];
  for (const dir of foldersIn(ROOT, (n) => n.startsWith('.') || n === 'node_modules')) {
    if (!named.has(`${dir}/`)) problems.push(`\`${dir}/\` is in the repository but not in the map: add a line for it`);
  }
  for (const dir of foldersIn(join(ROOT, 'lib'), () => false)) {
    if (!named.has(`lib/${dir}/`)) problems.push(`\`lib/${dir}/\` is in the repository but not in the map: add a line for it`);
  }
  for (const entry of entries) {
    const path = join(ROOT, ...entry.split('/').filter(Boolean));
    if (!existsSync(path) || !statSync(path).isDirectory() || !holdsAFile(path)) {
      problems.push(`\`${entry}\` is in the map but not in the repository: remove or rename its line`);
    }
  }
  const dupes = entries.filter((e, i) => entries.indexOf(e) !== i);
  for (const d of dupes) problems.push(`\`${d}\` is in the map twice`);
  assert.deepEqual(problems, [], problems.join('\n'));
});

test('every `npm run <script>` the README and docs/ name is a script of package.json', () => {
  const scripts = Object.keys((JSON.parse(read(join(ROOT, 'package.json'))) as { scripts: Record<string, string> }).scripts);
  const problems: string[] = [];
  for (const file of [README, ...docsPages()]) {
    for (const m of read(file).matchAll(/npm run ([a-z][a-z0-9:_-]*)/g)) {
      if (!scripts.includes(m[1] ?? '')) problems.push(`${relative(ROOT, file)}: npm run ${m[1]}: package.json has no such script`);
    }
  }
  assert.deepEqual(problems, [], problems.join('\n'));
});

test('the slugs and link reader follow GitHub', () => {
  assert.equal(slug('What `verify` checks'), 'what-verify-checks');
  assert.equal(slug('Figures (this machine, 2 cores)'), 'figures-this-machine-2-cores');
  assert.equal(slug("The API endpoint's chicken and egg"), 'the-api-endpoints-chicken-and-egg');
  assert.equal(slug('Flux in the lab, and the whole story'), 'flux-in-the-lab-and-the-whole-story');
  assert.equal(slug('The GitOps loop: left'), 'the-gitops-loop-left');
  assert.equal(slug('Setup: the toolchain'), 'setup-the-toolchain');
  assert.equal(slug('snake_case and [a link](x.md)'), 'snake_case-and-a-link');
  assert.deepEqual([...anchors('# A\n## A\n```\n# not a heading\n```\n## A\n')], ['a', 'a-1', 'a-2']);
  assert.deepEqual(
    links('[a](x.md) `[b](code.md)` [c](https://e.com) [d](#e "t")\n```\n[f](g.md)\n```\n[h]: i.md\n').map((l) => l.target),
    ['x.md', 'https://e.com', '#e', 'i.md'],
  );
  assert.deepEqual(mapEntries('# x\n## Repository map\n- `a/` — x\n  - `b/` no\n- `lib/c/` — y\n## Next\n- `d/`\n'), ['a/', 'lib/c/']);
});
