/**
 * The project's setup, as an ordered list of named steps (run by
 * `npm run setup`, scripts/setup.ts). Each step says whether it is already
 * done (check) and how to do it (run); running the setup twice does nothing
 * the second time. One line per step:
 *
 *   ✓ schemas:kubernetes            cached (0.0s)
 *   ✓ tools:yamlcheck               built .cache/bin/yamlcheck (1.9s)
 *   ✗ schemas:calico                go mod download failed: … (0.4s)
 *   ✓ bin:kubernetes                kube-apiserver, … -> .cache/bin/k8s (built) (543.9s)
 *
 * The steps: schemas:* (pinned API schemas), tools:yamlcheck, bin:kubernetes,
 * bin:etcd, bin:cni (the lab's programs, pinned in lib/toolchain/pins.ts),
 * flux:crds, bin:flux-source, bin:flux-kustomize (Flux's controllers and
 * their CRDs), calico:manifest, bin:pulumi, bin:actionlint and
 * debian:packages (host packages the lab needs).
 *
 * ensureSetup() runs all of it (or the steps whose names start with the
 * given words); ensureSchemas()/ensureYamlcheck()/ensureToolchain() run
 * parts. New steps go into setupSteps().
 */
import { type PhaseReport } from '../phases/phase.js';
import { providePulumi, pulumiReady } from './pulumi.js';
import { actionlintReady, provideActionlint } from './actionlint.js';
import { calicoManifestReady, provideCalicoManifest } from './calicoManifest.js';
import { type RunOptions, type SetupContext, type Step, runSteps } from './steps/step.js';
import { DEFAULT_CACHE_DIR, REPO_DIR } from './repo.js';
import { confdStep, yamlcheckStep } from './steps/goTools.js';
import { confdTemplatesStep } from './steps/confdTemplates.js';
import { debianPackagesStep } from './steps/debian.js';
import { bird2Step } from './steps/bird2.js';
import { schemaSteps } from './steps/schemas.js';
import { toolSteps } from './steps/labPrograms.js';
import { fluxSteps } from './steps/flux.js';

// -------------------------------------------------------------------- all

/**
 * Every setup step, in order. Add new steps here. The Debian packages come
 * last: nothing before needs them, and a host where they cannot be
 * installed (not root) still gets everything else.
 */
export function setupSteps(ctx: SetupContext = { repoDir: REPO_DIR, cacheDir: DEFAULT_CACHE_DIR }): Step[] {
  return [
    ...schemaSteps(ctx.cacheDir),
    yamlcheckStep(ctx.cacheDir, ctx.repoDir),
    confdTemplatesStep(ctx.cacheDir),
    {
      name: 'calico:manifest',
      done: () => calicoManifestReady(ctx.cacheDir),
      run: () => provideCalicoManifest(ctx.cacheDir, ctx.progress),
    },
    confdStep(ctx.cacheDir, ctx.repoDir),
    ...toolSteps(ctx),
    ...fluxSteps(ctx),
    {
      name: 'bin:pulumi',
      done: () => pulumiReady(ctx.cacheDir, ctx.repoDir),
      run: () => providePulumi(ctx.cacheDir, ctx.repoDir, ctx.progress),
    },
    {
      name: 'bin:actionlint',
      done: () => actionlintReady(ctx.cacheDir, ctx.repoDir),
      run: () => provideActionlint(ctx.cacheDir, ctx.repoDir, ctx.progress),
    },
    // BIRD 2 beside the lab's BIRD 1.6 (their packages conflict): the routers' side of a metal cluster is checked by its parser.
    bird2Step(ctx.cacheDir),
    debianPackagesStep(),
  ];
}

/** Runs the whole setup (what `npm run setup` does); throws PhaseError on a failed step. */
export async function ensureSetup(
  opts: RunOptions & Partial<SetupContext> & { only?: readonly string[] } = {},
): Promise<PhaseReport[]> {
  const ctx: SetupContext = {
    repoDir: opts.repoDir ?? REPO_DIR,
    cacheDir: opts.cacheDir ?? DEFAULT_CACHE_DIR,
    ...(opts.progress ? { progress: opts.progress } : {}),
  };
  let steps = setupSteps(ctx);
  if (opts.only && opts.only.length > 0) {
    const only = opts.only;
    steps = steps.filter((s) => only.some((p) => s.name.startsWith(p)));
    if (steps.length === 0) {
      throw new Error(`no setup step matches ${only.join(', ')} (steps: ${setupSteps(ctx).map((s) => s.name).join(', ')})`);
    }
  }
  return runSteps(steps, opts);
}
