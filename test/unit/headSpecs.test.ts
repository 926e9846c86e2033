/**
 * A pull request's specs as data (#15, C1; lib/workflows/headSpecs.ts), with
 * real git in a temporary folder: the base checkout and an origin whose
 * refs/pull/1/head is the pull request, holding a spec change, a new spec,
 * code outside infra/ and things that are no spec (a link, Pulumi's file, a
 * script). The head is fetched by SHA, its specs written into the spec
 * folder with git show, and the plan reads them from there; nothing of the
 * head lands in the checkout.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { commentMarker } from '../../lib/workflows/comment.js';
import { baseCodeNote, changedOutsideSpecs, copySpecsAt, OUTSIDE_SHOWN, prepareSpecDir, readHeadSpecs, SpecDirError, specDirFiles, withNote } from '../../lib/workflows/headSpecs.js';
import { createLineLog } from '../../lib/workflows/log.js';
import { runPlan } from '../../lib/workflows/plan.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const LAB = readFileSync(join(ROOT, 'infra', 'lab.yaml'), 'utf8');
Object.assign(process.env, { GIT_AUTHOR_NAME: 'native6 test', GIT_AUTHOR_EMAIL: 'test@native6.invalid', GIT_COMMITTER_NAME: 'native6 test', GIT_COMMITTER_EMAIL: 'test@native6.invalid' });
const sh = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

function write(root: string, files: Record<string, string>): void {
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, f)), { recursive: true });
    writeFileSync(join(root, f), text);
  }
}

/** The base (main) and a pull request's head on origin as refs/pull/1/head; `checkout` is a clone of main only. */
function pullRequest(): { dir: string; checkout: string; base: string; head: string; specDir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'n6-headspecs-'));
  const origin = join(dir, 'origin.git');
  const work = join(dir, 'work');
  sh(dir, 'init', '--quiet', '--bare', '--initial-branch=main', origin);
  sh(dir, 'init', '--quiet', '--initial-branch=main', work);
  write(work, { 'infra/lab.yaml': LAB, 'infra/Pulumi.yaml': 'name: native6\n', 'infra/index.ts': 'export {};\n', 'lib/x.ts': 'export const x = 1;\n' });
  sh(work, 'add', '-A');
  sh(work, 'commit', '--quiet', '-m', 'base');
  sh(work, 'push', '--quiet', origin, 'main');
  const base = sh(work, 'rev-parse', 'HEAD');
  // The pull request: lab gets a third worker, a new spec, and code that must never run.
  sh(work, 'switch', '--quiet', '-c', 'pr');
  write(work, {
    'infra/lab.yaml': LAB.replace(/count: 2\b/, 'count: 3'),
    'infra/edge.yaml': LAB.replace('name: lab', 'name: edge'),
    'infra/Pulumi.yaml': 'name: evil\n',
    'infra/index.ts': 'throw new Error("head code ran");\n',
    'infra/notes.txt': 'not a spec\n',
    'lib/x.ts': 'throw new Error("head code ran");\n',
    'package.json': '{"scripts":{"postinstall":"curl evil"}}\n',
  });
  symlinkSync('../lib/x.ts', join(work, 'infra', 'link.yaml'));
  sh(work, 'add', '-A');
  sh(work, 'commit', '--quiet', '-m', 'pr');
  sh(work, 'push', '--quiet', origin, 'HEAD:refs/pull/1/head');
  const head = sh(work, 'rev-parse', 'HEAD');
  const checkout = join(dir, 'checkout');
  sh(dir, 'clone', '--quiet', '--no-local', '--single-branch', '--branch', 'main', origin, checkout);
  return { dir, checkout, base, head, specDir: join(dir, 'runner-temp', 'head-specs') };
}

describe('the head specs, read as data (C1)', () => {
  it('fetches the head by SHA, writes its specs with git show, names the code it changes, and touches nothing of the checkout', async () => {
    const pr = pullRequest();
    try {
      assert.throws(() => sh(pr.checkout, 'cat-file', '-e', `${pr.head}^{commit}`), 'the head is not in the checkout before');
      const lines: string[] = [];
      const statusBefore = sh(pr.checkout, 'status', '--porcelain', '--ignored');
      const head = await readHeadSpecs({ repoRoot: pr.checkout, headSha: pr.head, baseSha: pr.base, specDir: pr.specDir, remote: 'origin', log: createLineLog((l) => lines.push(l)) });
      assert.deepEqual(head.specs, ['infra/edge.yaml', 'infra/lab.yaml']);
      assert.equal(readFileSync(join(pr.specDir, 'infra', 'lab.yaml'), 'utf8'), LAB.replace(/count: 2\b/, 'count: 3'));
      assert.deepEqual(readdirSync(join(pr.specDir, 'infra')).sort(), ['edge.yaml', 'lab.yaml']);
      assert.deepEqual(head.outside, ['infra/Pulumi.yaml', 'infra/index.ts', 'infra/notes.txt', 'lib/x.ts', 'package.json']);
      // The link and Pulumi's file are said; the program and notes are simply no specs.
      assert.deepEqual(
        lines.filter((l) => l.startsWith('warning:')),
        ["warning: the pull request's infra/Pulumi.yaml: Pulumi's own file (the base's is used): not planned", "warning: the pull request's infra/link.yaml: a symbolic link, not a file: not planned"],
      );
      // The checkout: same HEAD, same files, nothing new (the fetch made no branch and checked nothing out).
      assert.equal(sh(pr.checkout, 'rev-parse', 'HEAD'), pr.base);
      assert.equal(sh(pr.checkout, 'status', '--porcelain', '--ignored'), statusBefore);
      assert.equal(readFileSync(join(pr.checkout, 'lib', 'x.ts'), 'utf8'), 'export const x = 1;\n');
      assert.equal(existsSync(join(pr.checkout, 'infra', 'edge.yaml')), false);
      assert.equal(sh(pr.checkout, 'branch', '--list'), '* main');
    } finally {
      rmSync(pr.dir, { recursive: true, force: true });
    }
  });

  it('the plan reads the specs from the spec folder, annotates them as infra/<name>.yaml, and its comment says the base ran', async () => {
    const pr = pullRequest();
    try {
      const lines: string[] = [];
      const log = createLineLog((l) => lines.push(l));
      const head = await readHeadSpecs({ repoRoot: pr.checkout, headSha: pr.head, baseSha: pr.base, specDir: pr.specDir, remote: 'origin', log });
      // A bad spec in the head, to see where its problem points.
      writeFileSync(join(pr.specDir, 'infra', 'edge.yaml'), LAB.replace('name: lab', 'name: edge').replace('count: 3', 'count: three'));
      const previewed: string[] = [];
      const r = await runPlan(
        { repoRoot: pr.checkout, specs: head.specs, baseRef: pr.base, commitSha: pr.head, specRoot: head.specRoot, baseCode: { baseSha: pr.base, outside: head.outside } },
        { log, preview: async (specFile, stack) => (previewed.push(`${stack} ${specFile}`), { changes: [], summary: {}, output: '' }) },
      );
      assert.deepEqual(previewed, ['lab infra/lab.yaml'], 'the good spec previewed, the bad one not');
      assert.deepEqual(r.stacks.map((s) => [s.stack, s.ok]), [['edge', false], ['lab', true]]);
      assert.ok(lines.some((l) => l.startsWith('error: spec.controlPlane.count') && l.endsWith('(infra/edge.yaml:11)')), lines.filter((l) => l.startsWith('error')).join('\n'));
      const lab = log.summaries[1]!;
      assert.ok(lab.startsWith(`${commentMarker('lab')}\n## Plan for`), 'the marker stays the first line');
      const [, heading, blank, note] = lab.split('\n');
      assert.match(heading!, /^## Plan for `lab`/);
      assert.equal(blank, '');
      assert.equal(note, `> This preview ran the base branch's code (\`${pr.base.slice(0, 7)}\`) on this pull request's \`infra/*.yaml\`, read from its head as data: no file of the pull request was built or run with the secrets.`);
      assert.match(lab, /\*\*This pull request also changes code outside `infra\/\*\.yaml`\*\* \(5 file\(s\): `infra\/Pulumi\.yaml`, `infra\/index\.ts`, `infra\/notes\.txt`, `lib\/x\.ts`, `package\.json`\)/);
      assert.match(lab, /needs a reviewer's approval of the `plan` environment/);
      // The address plan diff is the head's spec against the base's: the new worker is in it.
      assert.match(lab, /lab-general-3/);
    } finally {
      rmSync(pr.dir, { recursive: true, force: true });
    }
  });

  it('copySpecsAt refuses a short SHA and a commit that was not fetched', async () => {
    const pr = pullRequest();
    try {
      const specRoot = prepareSpecDir(pr.checkout, pr.specDir);
      await assert.rejects(copySpecsAt(pr.checkout, pr.head.slice(0, 12), specRoot), /head-sha: ".*" is not a full commit SHA .* fix: pass github\.event\.pull_request\.head\.sha/);
      await assert.rejects(copySpecsAt(pr.checkout, pr.head, specRoot), /git ls-tree .* failed .*is the head fetched\?/);
      assert.deepEqual(await changedOutsideSpecs(pr.checkout, pr.base, pr.base), []);
    } finally {
      rmSync(pr.dir, { recursive: true, force: true });
    }
  });
});

describe('the spec folder input (spec-dir)', () => {
  const fresh = () => mkdtempSync(join(tmpdir(), 'n6-specdir-'));

  it('must be absolute, outside the checkout, and hold no spec yet', () => {
    const root = fresh();
    try {
      const checkout = join(root, 'checkout');
      mkdirSync(join(checkout, 'infra'), { recursive: true });
      const err = (re: RegExp) => (e: unknown) => e instanceof SpecDirError && re.test(e.message);
      assert.throws(() => prepareSpecDir(checkout, ''), err(/^spec-dir: empty: .* fix: give a new folder outside the checkout/));
      assert.throws(() => prepareSpecDir(checkout, 'head-specs'), err(/^spec-dir: "head-specs" is not an absolute path; fix: give a new folder outside the checkout, e\.g\. `\$\{\{ runner\.temp \}\}\/head-specs`$/));
      assert.throws(() => prepareSpecDir(checkout, join(checkout, 'infra')), err(/^spec-dir: ".*\/checkout\/infra" is inside the checkout .*; fix: /));
      assert.throws(() => prepareSpecDir(checkout, root), err(/is inside the checkout .* \(or holds it\)/));
      const used = join(root, 'used');
      write(used, { 'infra/old.yaml': 'x' });
      assert.throws(() => prepareSpecDir(checkout, used), err(/^spec-dir: .*\/used\/infra\/old\.yaml is already there \(1 file\(s\) in .*\): specs of another run would be planned with these; fix: /));
      const made = prepareSpecDir(checkout, join(root, 'new', 'head-specs'));
      assert.ok(existsSync(join(made, 'infra')));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('a link to inside the checkout is still the checkout', () => {
    const root = fresh();
    try {
      const checkout = join(root, 'checkout');
      mkdirSync(join(checkout, 'tmp'), { recursive: true });
      symlinkSync(join(checkout, 'tmp'), join(root, 'alias'));
      assert.throws(() => prepareSpecDir(checkout, join(root, 'alias', 'specs')), /is inside the checkout/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('holds only regular spec files: a link, a folder or another name is refused by name with the fix', () => {
    const root = fresh();
    try {
      write(root, { 'infra/lab.yaml': LAB, 'infra/Pulumi.lab.yaml': 'config: {}\n' });
      assert.deepEqual(specDirFiles(root), ['infra/lab.yaml'], "Pulumi's files are not specs");
      symlinkSync('/etc/passwd', join(root, 'infra', 'x.yaml'));
      assert.throws(() => specDirFiles(root), /^SpecDirError: spec-dir: .*\/infra\/x\.yaml is a symbolic link; fix: put only the specs' contents there, as regular files$/);
      rmSync(join(root, 'infra', 'x.yaml'));
      mkdirSync(join(root, 'infra', 'sub.yaml'));
      assert.throws(() => specDirFiles(root), /infra\/sub\.yaml is a folder; fix: /);
      rmSync(join(root, 'infra', 'sub.yaml'), { recursive: true });
      write(root, { 'infra/run.sh': 'echo\n' });
      assert.throws(() => specDirFiles(root), /^SpecDirError: spec-dir: .*\/infra\/run\.sh is not a spec's name \(<name>\.yaml, the cluster's name\); fix: remove it, or name it as its metadata\.name$/);
      assert.throws(() => specDirFiles(join(root, 'nowhere')), /spec-dir: .*\/nowhere\/infra does not exist: the specs go in <spec-dir>\/infra\/<name>\.yaml/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('the comment says which code ran', () => {
  const body = `${commentMarker('dfw')}\n## Plan for \`dfw\`: \`infra/dfw.yaml\` at \`0123456\`\n\nNo resource steps were reported.\n`;

  it('a pull request of specs only: the base ran, no more', () => {
    const note = baseCodeNote({ baseSha: 'abcdef0123456789', outside: [] });
    assert.equal(note.split('\n').length, 1);
    assert.match(note, /the base branch's code \(`abcdef0`\)/);
    assert.equal(withNote(body, note), `${commentMarker('dfw')}\n## Plan for \`dfw\`: \`infra/dfw.yaml\` at \`0123456\`\n\n${note}\n\nNo resource steps were reported.\n`);
  });

  it(`names at most ${OUTSIDE_SHOWN} files outside infra/*.yaml, counts the rest, and shows no Markdown from a path`, () => {
    const outside = Array.from({ length: 13 }, (_, i) => `lib/f${String(i).padStart(2, '0')}.ts`);
    outside[0] = 'lib/`evil`<b>.ts';
    const note = baseCodeNote({ baseSha: 'abcdef0123456789', outside });
    assert.match(note, /\(13 file\(s\): `lib\/\?evil\?\?b\?\.ts`, `lib\/f01\.ts`, .*`lib\/f09\.ts` and 3 more\)/);
    assert.doesNotMatch(note, /f10/);
  });
});
