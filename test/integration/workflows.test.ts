// The GitHub workflows in .github/workflows/: actionlint finds nothing in
// them (including every `uses: ./actions/<name>` step's inputs checked
// against that action's action.yml), and the rules of this repository hold,
// read from the parsed YAML:
//
//   - top-level `permissions: {}`, and every job grants its own;
//   - plan runs on pull requests that touch infra/** and nothing else;
//   - apply's jobs never cancel a run in progress, one group per cluster;
//   - teardown is dispatched by hand with `stack` and `confirm`, runs in a
//     protected environment, in the same group as that cluster's apply;
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
  assert.deepEqual(files, ['apply.yml', 'ci.yml', 'plan.yml', 'teardown.yml']);
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

test('no pull_request_target, and no ${{ }} inside run: scripts', () => {
  for (const f of files) {
    const wf = workflow(f);
    assert.ok(!('pull_request_target' in wf.on), `${f}: pull_request_target runs a fork's code with the secrets`);
    for (const [id, job] of Object.entries(wf.jobs)) {
      for (const step of job.steps ?? []) {
        if (typeof step.run === 'string') assert.ok(!step.run.includes('${{'), `${f}: job ${id}: pass \${{ }} values through env:, not into the script:\n${step.run}`);
      }
    }
  }
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

test('plan: pull requests touching infra/** only, least privilege, one run per PR', () => {
  const wf = workflow('plan.yml');
  assert.deepEqual(Object.keys(wf.on), ['pull_request']);
  assert.deepEqual((wf.on.pull_request as Map).paths, ['infra/**']);
  const [[id, job, step]] = jobsUsing(wf, 'plan') as [[string, Job, Step]];
  assert.deepEqual(job.permissions, { contents: 'read', 'pull-requests': 'write' }, `plan.yml: job ${id}`);
  const concurrency = job.concurrency ?? wf.concurrency;
  assert.equal(cancelInProgress(concurrency), true);
  assert.match(typeof concurrency === 'object' ? String(concurrency.group) : '', /github\.event\.pull_request\.number/);
  const checkout = job.steps!.find((s) => s.uses?.startsWith('actions/checkout@'));
  assert.equal(checkout?.with?.['fetch-depth'], 0, 'the plan reads the base branch: full history');
  assert.equal(step.with?.['backend-url'], '${{ vars.PULUMI_BACKEND_URL }}');
});

test('apply: one group per cluster, never cancelled in progress', () => {
  const wf = workflow('apply.yml');
  assert.deepEqual(Object.keys(wf.on), ['push']);
  assert.deepEqual((wf.on.push as Map).branches, ['main']);
  assert.deepEqual((wf.on.push as Map).paths, ['infra/**']);
  if (wf.concurrency !== undefined) assert.equal(cancelInProgress(wf.concurrency), false, 'apply.yml: workflow concurrency must not cancel in progress');
  for (const [id, job] of Object.entries(wf.jobs)) {
    if (job.concurrency !== undefined) assert.equal(cancelInProgress(job.concurrency), false, `apply.yml: job ${id} must not cancel in progress`);
  }
  const [[id, job, step]] = jobsUsing(wf, 'apply') as [[string, Job, Step]];
  assert.equal(typeof job.concurrency, 'object', `apply.yml: job ${id} needs a concurrency group`);
  assert.equal((job.concurrency as Map).group, 'apply-${{ matrix.stack }}');
  assert.equal(cancelInProgress(job.concurrency), false);
  assert.equal(job.strategy?.['fail-fast'], false, 'one cluster failing must not cancel the others');
  assert.deepEqual(job.permissions, { contents: 'write' });
  assert.equal(step.with?.specs, '${{ matrix.spec }}');
  assert.ok(
    job.steps!.some((s) => typeof s.run === 'string' && /git config user\.name/.test(s.run) && /git config user\.email/.test(s.run)),
    'apply.yml: a git identity for the commit',
  );
});

test('teardown: dispatched with stack and confirm, protected environment, the apply group', () => {
  const wf = workflow('teardown.yml');
  assert.deepEqual(Object.keys(wf.on), ['workflow_dispatch']);
  const inputs = (wf.on.workflow_dispatch as { inputs: Record<string, { required?: boolean; type?: string }> }).inputs;
  for (const name of ['stack', 'confirm']) {
    assert.equal(inputs[name]?.required, true, `teardown.yml: input ${name} must be required`);
    assert.equal(inputs[name]?.type, 'string');
  }
  const [[id, job, step]] = jobsUsing(wf, 'teardown') as [[string, Job, Step]];
  assert.equal(job.environment, 'teardown', `teardown.yml: job ${id} runs in the protected environment`);
  assert.deepEqual(job.permissions, { contents: 'write' });
  assert.equal((job.concurrency as Map).group, 'apply-${{ inputs.stack }}', 'the group of that cluster in apply.yml');
  assert.equal(cancelInProgress(job.concurrency), false);
  assert.equal(step.with?.stack, '${{ inputs.stack }}');
  assert.equal(step.with?.confirm, '${{ inputs.confirm }}');
});

test('every local action is built before it runs, to the file its action.yml names, and not committed', () => {
  const names = actionNames(ROOT);
  assert.deepEqual(names, ['apply', 'plan', 'teardown']);
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
