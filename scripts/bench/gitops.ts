/**
 * npm run bench -- gitops: what the plan action costs, in figures.
 *
 * - The PR comment for 10, 100, 1,000 and 5,000 changed resources (and a
 *   1 MB preview output): render time (median of 5), body size against the
 *   64,000 limit, and time per resource against the 10-resource case.
 * - A real Pulumi preview of the lab stack with the CLI built by setup, on a
 *   fresh file backend (median of 3), against the CLI's own start-up
 *   (`pulumi version`) measured in the same run.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { COMMENT_LIMIT, renderPlanComment } from '../../lib/workflows/comment.js';
import type { ResourceChange } from '../../lib/pulumi/stack.js';
import { planView } from '../../lib/workflows/plan.js';
import { openStack, previewStack } from '../../lib/pulumi/stack.js';
import { loadSpecFile } from '../../lib/repo/workspace.js';
import { pulumiBinary } from '../../lib/toolchain/pulumi.js';
import { repoRoot } from '../common.js';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function changes(n: number): ResourceChange[] {
  const ops = ['create', 'update', 'replace', 'delete'] as const;
  return Array.from({ length: n }, (_, i) => ({
    urn: `urn:pulumi:dfw::native6::equinix-metal:index/device:Device::dfw-w-${i}`,
    type: 'equinix-metal:index/device:Device',
    name: `dfw-w-${i}`,
    op: ops[i % ops.length]!,
    diffs: ['plan', 'tags'],
  }));
}

export async function benchGitops(): Promise<number> {
  const root = repoRoot();
  const dfw = loadSpecFile(root, 'infra/dfw.yaml').cluster!;
  const after = planView(dfw.plan);
  const before = { ...after, machines: after.machines.slice(0, -1) };
  const raw = 'x'.repeat(79).concat('\n').repeat(13_000);
  console.log('PR comment (renderPlanComment), median of 5');
  console.log('resources  render      body chars  of the limit  per resource vs 10');
  let base = 0;
  for (const n of [10, 100, 1000, 5000]) {
    const input = { stack: 'dfw', specFile: 'infra/dfw.yaml', commitSha: '0123456789abcdef0123456789abcdef01234567', changes: changes(n), before, after, rawOutput: raw };
    let body = '';
    const ms = median(
      Array.from({ length: 5 }, () => {
        const t = performance.now();
        body = renderPlanComment(input);
        return performance.now() - t;
      }),
    );
    if (n === 10) base = ms / 10;
    console.log(`${String(n).padStart(9)}  ${`${ms.toFixed(1)} ms`.padStart(9)}  ${String(body.length).padStart(10)}  ${`${((100 * body.length) / COMMENT_LIMIT).toFixed(1)} %`.padStart(12)}  ${`${(ms / n / base).toFixed(2)}x`.padStart(18)}`);
  }

  const cli = pulumiBinary(join(root, '.cache'));
  console.log('');
  const version = median(
    Array.from({ length: 3 }, () => {
      const t = performance.now();
      execFileSync(cli, ['version'], { env: { ...process.env, PULUMI_SKIP_UPDATE_CHECK: 'true' } });
      return performance.now() - t;
    }),
  );
  const previews: number[] = [];
  let steps = 0;
  for (let i = 0; i < 3; i++) {
    const dir = mkdtempSync(join(tmpdir(), 'n6-bench-pulumi-'));
    try {
      const t = performance.now();
      const stack = await openStack({ repoRoot: root, specFile: 'infra/lab.yaml', stackName: 'lab', backendUrl: `file://${join(dir, 'state')}`, passphrase: 'bench', workDir: join(dir, 'ws'), pulumiHome: join(dir, 'home') });
      const p = await previewStack(stack);
      previews.push(performance.now() - t);
      steps = p.changes.length;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const preview = median(previews);
  console.log(`Pulumi preview of the lab stack (new stack, file backend, ${steps} resource steps): ${(preview / 1000).toFixed(2)} s median of 3 (${previews.map((x) => (x / 1000).toFixed(2)).join(', ')})`);
  console.log(`the CLI's own start-up (pulumi version): ${(version / 1000).toFixed(2)} s; the preview is ${(preview / version).toFixed(1)}x that`);
  return 0;
}
