// The GitHub workflows in .github/workflows/: actionlint finds nothing in
// them (including every `uses: ./actions/<name>` step's inputs checked
// against that action's action.yml), and the rules of this repository hold,
// read from the parsed YAML:
//
//   - top-level `permissions: {}`, and every job grants its own;
//   - a job that holds secrets runs the base's code only: every checkout in
//     it is of the workflow's own commit (no `ref:` of a pull request's
//     head, no other repository), and the head is read only by the plan
//     action, as data (`head-sha` into a `spec-dir` under runner.temp);
//     a job that can run on `pull_request` references no secret and enters
//     no environment (#15, C1);
//   - plan: the untrusted check on pull_request, the preview on
//     pull_request_target in the environment `plan`, both on infra/**;
//   - apply: one workflow-level group, never cancelled in progress (M4);
//   - teardown is dispatched by hand with `stack` and `confirm`, checks its
//     environment before anyone approves (H2), runs in a protected
//     environment, in a group of its own;
//   - apply and teardown check out without persisting credentials and
//     install without scripts (M8);
//   - the bundles a local action runs are built before it, by
//     lib/toolchain/actionBundles.ts, to the file its action.yml names;
//   - no `${{ }}` inside a `run:` script (inputs go through env:).
//
// The actionlint test needs `.cache/bin/actionlint` (`npm run setup --
// bin:actionlint`) and fails naming that step without it; the structural
// tests need nothing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { ACTIONLINT, actionlintBinary, actionlintVersion } from '../../lib/toolchain/actionlint.js';
import { actionNames, esbuildOptions } from '../../lib/toolchain/actionBundles.js';
import { need } from '../prerequisites.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const WORKFLOWS = join(ROOT, '.github', 'workflows');
const ACTIONLINT_BIN = actionlintBinary(join(ROOT, '.cache'));

type Map = Record<string, unknown>;

interface Step extends Map {
  uses?: string;
  run?: string;
  with?: Map;
  env?: Map;
}

interface Job extends Map {
  if?: string;
  needs?: unknown;
  permissions?: unknown;
  concurrency?: { group?: string; 'cancel-in-progress'?: unknown } | string;
  environment?: unknown;
  strategy?: { 'fail-fast'?: unknown; matrix?: unknown };
  steps?: Step[];
}

interface Workflow extends Map {
  on: Map;
  permissions?: unknown;
  concurrency?: Job['concurrency'];
  jobs: Record<string, Job>;
}

interface ActionYml {
  inputs?: Record<string, { required?: boolean; default?: unknown }>;
  runs: { using: string; main: string };
}

const files = readdirSync(WORKFLOWS)
  .filter((f) => /\.ya?ml$/.test(f))
  .sort();

function workflow(name: string): Workflow {
  return parse(readFileSync(join(WORKFLOWS, name), 'utf8')) as Workflow;
}

function action(name: string): ActionYml {
  return parse(readFileSync(join(ROOT, 'actions', name, 'action.yml'), 'utf8')) as ActionYml;
}

/** The jobs of a workflow with a step `uses: ./actions/<name>`. */
function jobsUsing(wf: Workflow, name: string): Array<[string, Job, Step]> {
  const out: Array<[string, Job, Step]> = [];
  for (const [id, job] of Object.entries(wf.jobs)) {
    for (const step of job.steps ?? []) if (step.uses === `./actions/${name}`) out.push([id, job, step]);
  }
  return out;
}

function cancelInProgress(c: Job['concurrency']): unknown {
  return typeof c === 'object' ? c['cancel-in-progress'] : undefined;
}

function run(file: string, args: readonly string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: ROOT, timeout: 60_000, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) =>
      resolve({ stdout, stderr, code: err ? (typeof err.code === 'number' ? err.code : 1) : 0 }),
    );
  });
}

test('the workflows are plan, apply, teardown and ci', () => {
  assert.deepEqual(files, ['apply.yml', 'ci.yml', 'plan.yml', 'recover.yml', 'teardown.yml']);
});

test('actionlint finds nothing in .github/workflows', async () => {
  need(ACTIONLINT_BIN, 'npm run setup -- bin:actionlint');
  assert.equal(await actionlintVersion(ACTIONLINT_BIN), ACTIONLINT.version, `${ACTIONLINT_BIN} is not actionlint ${ACTIONLINT.version}: run \`npm run setup -- bin:actionlint\``);
  const r = await run(ACTIONLINT_BIN, ['-format', '{{json .}}', ...files.map((f) => join('.github', 'workflows', f))]);
  assert.ok(r.code === 0 || r.code === 1, `actionlint failed (exit ${r.code}): ${r.stderr}`);
  const findings = JSON.parse(r.stdout || '[]') as Array<{ filepath: string; line: number; column: number; kind: string; message: string }>;
  // The bundles are not committed: the workflows build them (npm run
  // build:actions) right before `uses: ./actions/<name>`, which the test
  // below checks. So a missing dist/index.js is expected here, and only
  // that; actionlint in ci.yml runs after the build and sees them.
  const problems = findings.filter((f) => !(f.kind === 'action' && /^file "dist\/index\.js" does not exist in "[^"]*\/actions\/[a-z0-9-]+"/.test(f.message)));
  assert.deepEqual(
    problems.map((f) => `${f.filepath}:${f.line}:${f.column}: ${f.message} [${f.kind}]`),
    [],
  );
});

test('top-level permissions are empty; every job grants its own', () => {
  for (const f of files) {
    const wf = workflow(f);
    assert.deepEqual(wf.permissions, {}, `${f}: top-level permissions must be {} (grants go on the jobs)`);
    for (const [id, job] of Object.entries(wf.jobs)) {
      assert.ok(job.permissions !== undefined && job.permissions !== null, `${f}: job ${id} has no permissions block`);
      assert.equal(typeof job.permissions, 'object', `${f}: job ${id}: permissions must be a map (not read-all/write-all)`);
    }
  }
});

test('no ${{ }} inside run: scripts', () => {
  for (const f of files) {
    const wf = workflow(f);
    for (const [id, job] of Object.entries(wf.jobs)) {
      for (const step of job.steps ?? []) {
        if (typeof step.run === 'string') assert.ok(!step.run.includes('${{'), `${f}: job ${id}: pass \${{ }} values through env:, not into the script:\n${step.run}`);
      }
    }
  }
});

/** Does the job's text reference a secret (secrets.X, or secrets[...])? */
function holdsSecrets(job: Job): boolean {
  return /\bsecrets\s*[.[]/.test(JSON.stringify(job));
}

/** The events a job can run on: the workflow's, narrowed by an `if: github.event_name == '<x>'`. */
function jobEvents(wf: Workflow, job: Job): string[] {
  const only = /^\s*github\.event_name\s*==\s*'([a-z_]+)'\s*$/.exec(String(job.if ?? ''));
  return only ? [only[1]!] : Object.keys(wf.on);
}

/** A value that names a pull request's head: its SHA, ref or repository, or the merge ref. */
const HEAD = /pull_request\.head|head_ref|refs\/pull|merge_commit_sha|github\.head_ref/;

test('a job that holds secrets runs the base code only, and reads the head only as data (C1)', () => {
  let secretJobs = 0;
  let headReaders = 0;
  for (const f of files) {
    const wf = workflow(f);
    for (const [id, job] of Object.entries(wf.jobs)) {
      if (!holdsSecrets(job)) continue;
      secretJobs++;
      const where = `${f}: job ${id} (holds secrets)`;
      assert.ok(!jobEvents(wf, job).includes('pull_request'), `${where} can run on pull_request, with the pull request's workflow file and code`);
      assert.ok(!jobEvents(wf, job).includes('workflow_run') && !('workflow_run' in wf.on), `${where}: workflow_run would hand it another run's artifacts`);
      for (const step of job.steps ?? []) {
        if (step.uses?.startsWith('actions/checkout@')) {
          const ref = step.with?.ref;
          assert.ok(ref === undefined || ref === '${{ github.sha }}', `${where}: checks out ${String(ref)}; only the workflow's own commit (no ref, or \${{ github.sha }})`);
          assert.equal(step.with?.repository, undefined, `${where}: checks out another repository`);
          assert.equal(step.with?.path, undefined, `${where}: a second checkout beside the workspace`);
        }
        // The head may reach the job in one place only: the plan action's head-sha, which it reads with git show into spec-dir.
        const text = JSON.stringify({ ...step, with: undefined });
        assert.doesNotMatch(text, HEAD, `${where}: a step names the pull request's head outside the plan action's head-sha:\n${text}`);
        for (const [key, value] of Object.entries(step.with ?? {})) {
          if (!HEAD.test(String(value))) continue;
          assert.equal(step.uses, './actions/plan', `${where}: ${step.uses ?? 'a step'} is given the head (${key})`);
          assert.equal(key, 'head-sha', `${where}: the head goes to the plan action as head-sha only, not ${key}`);
          assert.match(String(step.with?.['spec-dir']), /^\$\{\{ runner\.temp \}\}\//, `${where}: the head's specs go into a folder under runner.temp, outside the checkout`);
          headReaders++;
        }
      }
    }
  }
  assert.ok(secretJobs >= 3, 'plan, apply and teardown hold secrets');
  assert.equal(headReaders, 1, 'the plan preview alone reads the head');
});

test('a job that can run on pull_request references no secret and enters no environment (C1)', () => {
  let untrusted = 0;
  for (const f of files) {
    const wf = workflow(f);
    for (const [id, job] of Object.entries(wf.jobs)) {
      if (!jobEvents(wf, job).includes('pull_request')) continue;
      untrusted++;
      assert.equal(holdsSecrets(job), false, `${f}: job ${id} runs the pull request's code and references secrets`);
      assert.equal(job.environment, undefined, `${f}: job ${id} runs the pull request's code in an environment (its secrets)`);
      const perms = job.permissions as Record<string, string>;
      for (const [scope, level] of Object.entries(perms)) assert.equal(level, 'read', `${f}: job ${id}: ${scope}: ${level}`);
    }
  }
  assert.ok(untrusted >= 2, "plan's check and ci's jobs");
});

test('every action used is a local one or has a version', () => {
  for (const f of files) {
    for (const [id, job] of Object.entries(workflow(f).jobs)) {
      for (const step of job.steps ?? []) {
        if (step.uses === undefined || step.uses.startsWith('./')) continue;
        assert.match(step.uses, /^[\w.-]+\/[\w./-]+@(v\d+(\.\d+)*|[0-9a-f]{40})$/, `${f}: job ${id}: ${step.uses}`);
      }
    }
  }
});

test('plan: the check on pull_request, the preview on pull_request_target in the environment plan, infra/** only', () => {
  const wf = workflow('plan.yml');
  assert.deepEqual(Object.keys(wf.on).sort(), ['pull_request', 'pull_request_target']);
  assert.deepEqual((wf.on.pull_request as Map).paths, ['infra/**']);
  assert.deepEqual((wf.on.pull_request_target as Map).paths, ['infra/**']);
  assert.deepEqual((wf.on.pull_request_target as Map).branches, ['main'], 'the plan environment admits main only');
  assert.equal(cancelInProgress(wf.concurrency), true);
  const group = typeof wf.concurrency === 'object' ? String(wf.concurrency.group) : '';
  assert.match(group, /github\.event\.pull_request\.number/);
  assert.match(group, /github\.event_name/, 'the two jobs must not cancel each other');
  const check = wf.jobs.check!;
  assert.equal(check.if, "github.event_name == 'pull_request'");
  assert.deepEqual(check.permissions, { contents: 'read' });
  const runs = (check.steps ?? []).map((s) => s.run ?? '').join('\n');
  assert.match(runs, /^npm run plan$/m, 'every spec decoded, with its address plan');
  assert.match(runs, /npm run render\n\s*if ! git diff --exit-code/, 'render leaves no diff');
  const [[id, job, step]] = jobsUsing(wf, 'plan') as [[string, Job, Step]];
  assert.equal(id, 'preview');
  assert.equal(job.if, "github.event_name == 'pull_request_target'");
  assert.equal(job.environment, 'plan');
  assert.deepEqual(job.permissions, { contents: 'read', 'pull-requests': 'write' }, `plan.yml: job ${id}`);
  const checkout = job.steps!.find((s) => s.uses?.startsWith('actions/checkout@'));
  assert.equal(checkout?.with?.ref, '${{ github.sha }}', 'the base commit, the one this workflow file is from');
  assert.equal(checkout?.with?.['fetch-depth'], 0, 'the plan reads the base branch: full history');
  assert.equal(checkout?.with?.['persist-credentials'], false);
  assert.ok(job.steps!.some((s) => s.run === 'npm ci --ignore-scripts'), 'the base lockfile, no install scripts');
  assert.equal(step.with?.['head-sha'], '${{ github.event.pull_request.head.sha }}');
  assert.equal(step.with?.['spec-dir'], '${{ runner.temp }}/head-specs');
  assert.equal(step.with?.['base-ref'], '${{ github.sha }}');
  assert.equal(step.with?.['backend-url'], '${{ vars.PULUMI_BACKEND_URL }}');
});

test('apply: one workflow-level group, never cancelled in progress; no group per job (M4)', () => {
  const wf = workflow('apply.yml');
  assert.deepEqual(Object.keys(wf.on), ['push']);
  assert.deepEqual((wf.on.push as Map).branches, ['main']);
  assert.deepEqual((wf.on.push as Map).paths, ['infra/**']);
  assert.deepEqual(wf.concurrency, { group: 'apply', 'cancel-in-progress': false });
  for (const [id, job] of Object.entries(wf.jobs)) assert.equal(job.concurrency, undefined, `apply.yml: job ${id}: the group is the workflow's, not per job`);
  const [[, job, step]] = jobsUsing(wf, 'apply') as [[string, Job, Step]];
  assert.equal(job.strategy?.['fail-fast'], false, 'one cluster failing must not cancel the others');
  assert.equal(job.environment, 'apply', 'its secrets are the apply environment\'s, which admits main only');
  assert.deepEqual(job.permissions, { contents: 'read' }, 'the workflow token writes nothing (H1: the App token pushes)');
  assert.equal(step.with?.specs, '${{ matrix.spec }}');
  assert.ok(
    job.steps!.some((s) => typeof s.run === 'string' && /git config user\.name/.test(s.run) && /git config user\.email/.test(s.run)),
    'apply.yml: a git identity for the commit',
  );
});

test('teardown: dispatched with stack and confirm, the environment checked first, protected environment, a group of its own', () => {
  const wf = workflow('teardown.yml');
  assert.deepEqual(Object.keys(wf.on), ['workflow_dispatch']);
  const inputs = (wf.on.workflow_dispatch as { inputs: Record<string, { required?: boolean; type?: string }> }).inputs;
  for (const name of ['stack', 'confirm']) {
    assert.equal(inputs[name]?.required, true, `teardown.yml: input ${name} must be required`);
    assert.equal(inputs[name]?.type, 'string');
  }
  assert.deepEqual(wf.concurrency, { group: 'teardown-${{ inputs.stack }}', 'cancel-in-progress': false });
  const used = jobsUsing(wf, 'teardown');
  const check = used.find(([id]) => id === 'check');
  assert.ok(check, 'the check job runs the action in mode check');
  assert.equal(check[2].with?.mode, 'check');
  assert.deepEqual(check[1].permissions, { contents: 'read', actions: 'read' }, 'reads the environment (actions: read), holds no secret');
  assert.equal(holdsSecrets(check[1]), false);
  const [id, job, step] = used.find(([i]) => i === 'teardown')!;
  assert.deepEqual(job.needs, 'check');
  assert.equal(job.environment, 'teardown', `teardown.yml: job ${id} runs in the protected environment`);
  assert.deepEqual(job.permissions, { contents: 'read', actions: 'read' }, 'the workflow token writes nothing (H1: the App token pushes)');
  assert.equal(job.concurrency, undefined);
  assert.equal(step.with?.stack, '${{ inputs.stack }}');
  assert.equal(step.with?.confirm, '${{ inputs.confirm }}');
});

test('apply and teardown: no credentials persisted by any checkout, no install scripts (M8)', () => {
  for (const f of ['apply.yml', 'teardown.yml']) {
    for (const [id, job] of Object.entries(workflow(f).jobs)) {
      for (const s of job.steps ?? []) {
        if (s.uses?.startsWith('actions/checkout@')) assert.equal(s.with?.['persist-credentials'], false, `${f}: job ${id}: persist-credentials`);
        if (typeof s.run === 'string' && /\bnpm (ci|install)\b/.test(s.run)) assert.match(s.run, /^npm ci --ignore-scripts$/m, `${f}: job ${id}: ${s.run}`);
      }
    }
  }
});

test('recover: dispatched with a stack, in the environment apply and in apply\'s group, pushes nothing (M5)', () => {
  const wf = workflow('recover.yml');
  assert.deepEqual(Object.keys(wf.on), ['workflow_dispatch']);
  const inputs = (wf.on.workflow_dispatch as { inputs: Record<string, { required?: boolean; type?: string }> }).inputs;
  assert.deepEqual(Object.keys(inputs), ['stack']);
  assert.equal(inputs.stack?.required, true);
  assert.deepEqual(wf.concurrency, workflow('apply.yml').concurrency, 'the group of apply: no apply runs meanwhile');
  const [[, job, step]] = jobsUsing(wf, 'recover') as [[string, Job, Step]];
  assert.equal(job.environment, 'apply');
  assert.deepEqual(job.permissions, { contents: 'read' });
  assert.equal(step.with?.stack, '${{ inputs.stack }}');
  assert.equal(step.with?.passphrase, '${{ secrets.PULUMI_CONFIG_PASSPHRASE }}');
});

test('no workflow token may write the repository: the pushes of apply and teardown use the App token minted in their environment (H1)', () => {
  for (const f of files) {
    const wf = workflow(f);
    for (const [id, job] of Object.entries(wf.jobs)) {
      const perms = (job.permissions ?? {}) as Record<string, string>;
      assert.notEqual(perms.contents, 'write', `${f}: job ${id} gives its GITHUB_TOKEN contents: write`);
    }
  }
  for (const [f, action, input] of [['apply.yml', 'apply', 'github-token'], ['teardown.yml', 'teardown', 'push-token']] as const) {
    const [, job, step] = jobsUsing(workflow(f), action).find(([, j]) => holdsSecrets(j) && j.environment !== undefined)!;
    const mint = job.steps!.findIndex((s) => s.uses?.startsWith('actions/create-github-app-token@'));
    assert.ok(mint >= 0, `${f}: the job mints the App's token`);
    const minted = job.steps![mint]!;
    assert.equal(minted.with?.['private-key'], '${{ secrets.NATIVE6_APP_PRIVATE_KEY }}', `${f}: the App's key, an environment secret`);
    assert.equal(minted.with?.['app-id'], '${{ vars.NATIVE6_APP_ID }}');
    assert.ok(mint < job.steps!.indexOf(step), `${f}: minted before the action runs`);
    assert.equal(step.with?.[input], `\${{ steps.${minted.id}.outputs.token }}`, `${f}: the action pushes with the App's token`);
  }
});

test("ci: a failed lab run uploads the lab's logs, reports and boot journals, never the lab's secrets (L8)", () => {
  const uploads = Object.values(workflow('ci.yml').jobs).flatMap((j) => j.steps ?? []).filter((s) => s.uses?.startsWith('actions/upload-artifact@'));
  assert.ok(uploads.length > 0, 'ci.yml uploads the lab logs');
  for (const u of uploads) {
    const paths = String(u.with?.path ?? '').split('\n').map((p) => p.trim()).filter(Boolean);
    assert.ok(paths.length > 0, 'an upload names its paths');
    for (const p of paths) {
      // Every path is a folder of logs or reports: the lab's folder whole, its secrets.json or a machine's disk is not.
      assert.match(p, /^\.lab\/\*\/(logs|reports|machines\/\*\/disk\/var\/log\/native6-lab)\/$/, `ci.yml uploads ${p}`);
    }
  }
});

test('every local action is built before it runs, to the file its action.yml names, and not committed', () => {
  const names = actionNames(ROOT);
  assert.deepEqual(names, ['apply', 'plan', 'recover', 'teardown']);
  for (const name of names) {
    const a = action(name);
    assert.equal(join('actions', name, a.runs.main), esbuildOptions(ROOT, name).outfile, `actions/${name}/action.yml runs ${a.runs.main}`);
  }
  assert.match(readFileSync(join(ROOT, '.gitignore'), 'utf8'), /^actions\/\*\/dist\/$/m);
  let used = 0;
  for (const f of files) {
    for (const [id, job] of Object.entries(workflow(f).jobs)) {
      const steps = job.steps ?? [];
      steps.forEach((s, i) => {
        const m = /^\.\/actions\/([\w-]+)$/.exec(s.uses ?? '');
        if (!m) return;
        used++;
        assert.ok(names.includes(m[1]!), `${f}: job ${id}: no action ${s.uses}`);
        const built = steps.slice(0, i).some((b) => typeof b.run === 'string' && /^npm run build:actions\b/m.test(b.run));
        assert.ok(built, `${f}: job ${id}: \`npm run build:actions\` must come before ${s.uses}`);
        // actionlint checks the same when it is built; this holds without it.
        const inputs = action(m[1]!).inputs ?? {};
        for (const key of Object.keys(s.with ?? {})) assert.ok(key in inputs, `${f}: job ${id}: ${s.uses} has no input ${key}`);
        for (const [key, spec] of Object.entries(inputs)) {
          if (spec.required && spec.default === undefined) assert.ok(key in (s.with ?? {}), `${f}: job ${id}: ${s.uses} needs input ${key}`);
        }
      });
    }
  }
  assert.ok(used >= 3, 'plan, apply and teardown are each used');
});
