// Calico's own confd templates (copied by `npm run setup` from the pinned
// calico module) rendered by n6-confd from the keys lib/calico/confd.ts
// computes for a lab node: the BIRD configuration is golden-tested and
// BIRD 1.6 (`bird6 -p`, confd's own check_cmd) accepts it.
//
// Needs `npm run setup` (calico:confd-templates, tools:n6-confd, bird).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { confdKv } from '../../lib/platforms/lab/calicoNode/confd.js';
import { calicoConfdDir, confdBinary } from '../../lib/toolchain/pins.js';
import { SETUP_COMMAND } from '../../lib/toolchain/pins.js';
import { DEFAULT_CACHE_DIR } from '../../lib/toolchain/repo.js';
import { assertGolden } from '../golden.js';
import { labSnapshot } from '../calico-fixture.js';

const bin = confdBinary(DEFAULT_CACHE_DIR);
const confdir = calicoConfdDir(DEFAULT_CACHE_DIR);

function confd(kv: Record<string, string>, node: string, dest: string, extra: string[] = []) {
  const kvFile = join(dest, 'kv.json');
  writeFileSync(kvFile, JSON.stringify(kv));
  return spawnSync(bin, ['-confdir', confdir, '-kv', kvFile, '-only', 'bird6', '-dest-root', dest, ...extra], {
    env: { ...process.env, NODENAME: node, CALICO_ROUTER_ID: 'hash', PATH: `/nonexistent-sv:${process.env.PATH}` },
    encoding: 'utf8',
  });
}

test('n6-confd renders Calico v3.28.5\'s BIRD templates for a lab node; bird6 accepts them (golden)', () => {
  assert.ok(existsSync(bin), `${bin} is missing: run \`${SETUP_COMMAND}\``);
  assert.ok(existsSync(join(confdir, 'templates', 'bird6.cfg.template')), `${confdir} is missing: run \`${SETUP_COMMAND}\``);
  const dest = mkdtempSync(join(tmpdir(), 'native6-confd-'));
  try {
    const res = confd(confdKv(labSnapshot(), 'lab-general-1'), 'lab-general-1', dest);
    assert.equal(res.status, 0, res.stdout + res.stderr);
    assert.deepEqual(res.stdout.trim().split('\n').sort(), ['bird6.toml updated', 'bird6_aggr.toml updated', 'bird6_ipam.toml updated']);
    const config = join(dest, 'etc/calico/confd/config');
    for (const f of ['bird6.cfg', 'bird6_aggr.cfg', 'bird6_ipam.cfg']) assertGolden(`calico/lab-general-1/${f}`, readFileSync(join(config, f), 'utf8'));
    const check = spawnSync('bird6', ['-p', '-c', join(config, 'bird6.cfg')], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stderr);
    // Same keys again: nothing to do (confd compares before it writes and reloads).
    const again = confd(confdKv(labSnapshot(), 'lab-general-1'), 'lab-general-1', dest);
    assert.deepEqual(again.stdout.trim().split('\n').sort(), ['bird6.toml unchanged', 'bird6_aggr.toml unchanged', 'bird6_ipam.toml unchanged']);
    // A key the template needs and confd always has: its absence fails the render, the old file stays.
    const broken = confdKv(labSnapshot(), 'lab-general-1');
    delete broken['/calico/bgp/v1/host/lab-general-1/rr_cluster_id'];
    broken['/calico/bgp/v1/global/as_num'] = '65001';
    const failed = confd(broken, 'lab-general-1', dest);
    assert.equal(failed.status, 1);
    assert.match(failed.stdout, /bird6.toml failed: .*key does not exist: \/bgp\/v1\/host\/lab-general-1\/rr_cluster_id/);
    assert.match(readFileSync(join(config, 'bird6.cfg'), 'utf8'), /local as 65000;/);
  } finally {
    rmSync(dest, { recursive: true, force: true });
  }
});
