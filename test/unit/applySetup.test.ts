/**
 * The apply workflow fetches what the Equinix Metal bootstrap reads after up
 * (review bootstrap-2026-12, F4): Calico's manifest and Flux's CRDs, which
 * lib/platforms/equinixMetal/platform.ts reads from .cache/, set up before
 * the apply action runs and cached on the pins.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { calicoManifestDir, CALICO_MANIFEST } from '../../lib/toolchain/calicoManifest.js';
import { calicoConfdDir, fluxCrdDir } from '../../lib/toolchain/pins.js';
import { REPO_DIR } from '../../lib/toolchain/repo.js';
import { fluxCrdsStep } from '../../lib/toolchain/steps/flux.js';
import { confdTemplatesStep } from '../../lib/toolchain/steps/confdTemplates.js';

type Step = { name?: string; uses?: string; run?: string; with?: Record<string, unknown> };

describe('the apply workflow fetches what the Equinix Metal bootstrap reads (F4)', () => {
  const wf = parse(readFileSync(join(REPO_DIR, '.github/workflows/apply.yml'), 'utf8')) as { jobs: Record<string, { steps?: Step[] }> };
  const steps = Object.values(wf.jobs).find((j) => j.steps?.some((s) => s.uses === './actions/apply'))!.steps!;
  const at = (pred: (s: Step) => boolean, what: string) => {
    const i = steps.findIndex(pred);
    assert.ok(i >= 0, `apply.yml has no step ${what}`);
    return i;
  };

  it('setup runs the steps for Calico\'s manifest and Flux\'s CRDs before the action, and a cache keyed on the pins restores them first', () => {
    const needed = [CALICO_MANIFEST.step, confdTemplatesStep().name, fluxCrdsStep().name, 'bin:pulumi'];
    const setup = at((s) => typeof s.run === 'string' && s.run.startsWith('npm run setup -- '), 'running npm run setup');
    const asked = steps[setup]!.run!.trim().split(/\s+/).slice(4);
    for (const step of needed) assert.ok(asked.includes(step), `npm run setup -- ${asked.join(' ')} lacks ${step}`);
    assert.ok(setup < at((s) => s.uses === './actions/apply', 'using ./actions/apply'));
    const cache = at(
      (s) => s.uses?.startsWith('actions/cache@') === true && String(s.with?.path).includes('calico'),
      'caching the bootstrap\'s inputs',
    );
    assert.ok(cache < setup, 'the cache is restored before setup runs');
    const paths = String(steps[cache]!.with!.path).trim().split('\n').map((p) => p.trim());
    for (const dir of [calicoManifestDir('.cache'), calicoConfdDir('.cache'), fluxCrdDir('.cache')]) {
      assert.ok(paths.some((p) => dir === p || dir.startsWith(`${p}/`)), `the cache holds ${dir} (paths: ${paths.join(', ')})`);
    }
    // A new pin (pins.ts) or a change to how a step copies makes a new key.
    const key = String(steps[cache]!.with!.key);
    for (const f of ['lib/toolchain/pins.ts', 'lib/toolchain/calicoManifest.ts', 'lib/toolchain/steps/confdTemplates.ts', 'lib/toolchain/steps/flux.ts']) assert.ok(key.includes(`'${f}'`), `the key hashes ${f}: ${key}`);
  });
});
