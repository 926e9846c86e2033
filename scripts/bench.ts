/**
 * npm run bench -- <name>: benchmarks that print figures (never timed tests).
 *
 *   plan   planner + renderer for 10, 100 and 1,000 nodes with 10,000 public
 *          Services; time and peak memory per size, each case in its own
 *          process, median of 5, with the runtime's own baseline subtracted
 *          and ratios against the 10-node case. Target: 1,000 nodes under 1 s
 *          and 200 MB.
 *   lab    cold and warm bring-up of a 3 + 2 lab, each phase's time, and its
 *          peak memory (scripts/bench/lab.ts; root, npm run setup).
 *   failover the time until both routers withdraw a hung node, with BFD on
 *          the nodes' sessions against a hold timer of 9 s (`failover all`:
 *          and 180 s): median and worst, ratios (scripts/bench/failover.ts;
 *          root, npm run setup).
 *   fabric pod to pod across nodes on the native routed path vs VXLAN vs an
 *          IPv6 NAT hop (throughput, round trip, ratios); bring-up per node
 *          for 4, 10 and 30 nodes; withdrawal of a hung node, median of 3
 *          (scripts/bench/fabric.ts; root, npm run setup).
 *   gitops the plan comment for 10 to 5,000 changed resources (render time,
 *          size against GitHub's limit), and a real Pulumi preview of the lab
 *          stack against the CLI's start-up (scripts/bench/gitops.ts).
 *   validate the schema catalog's load and the committed trees validated
 *          against it (scripts/bench/validate.ts; after npm run setup).
 *   spec   the spec decoder on a file of 10,000 to 40,000 unknown keys (its
 *          size limit lifted), against the parser's quadratic repeated-key
 *          check it no longer uses; and the refusal of a file over the limit
 *          (scripts/bench/spec.ts).
 *   egress from a pod of the running lab (npm run lab first): the IPv4
 *          internet through NAT64 against the IPv6 internet natively, the
 *          same server at both ends: throughput, request latency, ratios
 *          (scripts/bench/egress.ts).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './common.js';
import { benchLab } from './bench/lab.js';
import { benchFailover } from './bench/failover.js';
import { benchFabric } from './bench/fabric.js';
import { benchGitops } from './bench/gitops.js';
import { benchValidate } from './bench/validate.js';
import { benchEgress } from './bench/egress.js';
import { benchSpec } from './bench/spec.js';
import { createLabContext } from '../lib/platforms/lab/lab.js';
import { loadSpecFile } from '../lib/repo/workspace.js';

const root = repoRoot();
const [name] = process.argv.slice(2);

interface Sample {
  nodes: number;
  services: number;
  ms: number;
  peakBytes: number;
  outputBytes: number;
}

function run(nodes: number, services: number, mode: 'run' | 'baseline'): Sample {
  const out = execFileSync(process.execPath, ['--import', 'tsx', join(root, 'scripts/bench/plan.ts'), String(nodes), String(services), mode], { cwd: root, encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop()!) as Sample;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function benchPlan(): number {
  const repeats = 5;
  const baseline = Array.from({ length: repeats }, () => run(10, 0, 'baseline'));
  const basePeak = median(baseline.map((s) => s.peakBytes));
  console.log(`baseline (node + tsx + modules loaded, no work): peak ${(basePeak / 2 ** 20).toFixed(1)} MiB`);
  console.log('');
  console.log('nodes  services  time (median of 5)  peak memory  over baseline  output     time vs 10 nodes');
  const rows: Array<{ nodes: number; ms: number; peak: number }> = [];
  for (const nodes of [10, 100, 1000]) {
    const samples = Array.from({ length: repeats }, () => run(nodes, 10000, 'run'));
    const ms = median(samples.map((s) => s.ms));
    const peak = median(samples.map((s) => s.peakBytes));
    rows.push({ nodes, ms, peak });
    const ratio = ms / rows[0]!.ms;
    console.log(
      `${String(nodes).padStart(5)}  ${String(10000).padStart(8)}  ${`${ms.toFixed(1)} ms`.padStart(18)}  ${`${(peak / 2 ** 20).toFixed(1)} MiB`.padStart(11)}  ${`${((peak - basePeak) / 2 ** 20).toFixed(1)} MiB`.padStart(13)}  ${`${(samples[0]!.outputBytes / 1024).toFixed(0)} KiB`.padStart(9)}  ${`${ratio.toFixed(2)}x`.padStart(16)}`,
    );
  }
  const big = rows[rows.length - 1]!;
  const ok = big.ms < 1000 && big.peak < 200 * 2 ** 20;
  console.log('');
  console.log(`target: 1,000 nodes + 10,000 Services under 1 s and 200 MB: ${ok ? 'met' : 'MISSED'} (${big.ms.toFixed(0)} ms, ${(big.peak / 2 ** 20).toFixed(0)} MiB peak for the whole process)`);
  return ok ? 0 : 1;
}

/** The running lab of infra/lab.yaml (npm run lab). */
async function benchEgressOnLab(): Promise<number> {
  const { cluster, problems } = loadSpecFile(root, 'infra/lab.yaml');
  if (!cluster) throw new Error(problems.map((p) => p.message).join('; '));
  return benchEgress(createLabContext(root, cluster));
}

const benches: Record<string, () => number | Promise<number>> = { plan: benchPlan, lab: benchLab, failover: () => benchFailover(process.argv[3]), fabric: benchFabric, gitops: benchGitops, validate: benchValidate, egress: benchEgressOnLab, spec: benchSpec };
if (!name || !benches[name]) {
  console.error(`bench: name one of: ${Object.keys(benches).join(', ')} (npm run bench -- plan)`);
  process.exit(2);
}
process.exit(await benches[name]());
