/**
 * How the lab starts its own programs (lib/platforms/lab/programLaunch.ts,
 * programBuild.ts): every program is bundled, the bundle runs under plain
 * node (no TypeScript compiler at start), a program without a bundle runs
 * from its source under tsx, and a process is known as the program from
 * either command line.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CODE_ROOT } from '../../lib/platforms/lab/codeRoot.js';
import { buildLabPrograms } from '../../lib/platforms/lab/programBuild.js';
import { LAB_PROGRAMS, labProgramArgv, labProgramBundle, runsLabProgram } from '../../lib/platforms/lab/programLaunch.js';

test('a program with no bundle runs from its source under tsx; with one, node runs the bundle', () => {
  const root = mkdtempSync(join(tmpdir(), 'native6-programs-'));
  try {
    assert.deepEqual(labProgramArgv('echo', '/usr/bin/node', root), ['/usr/bin/node', '--import', 'tsx', join(root, 'lib/platforms/lab/programs/echo.ts')]);
    mkdirSync(join(root, '.cache/lab/programs'), { recursive: true });
    writeFileSync(labProgramBundle('echo', root), '');
    assert.deepEqual(labProgramArgv('echo', '/usr/bin/node', root), ['/usr/bin/node', '--enable-source-maps', join(root, '.cache/lab/programs/echo.mjs')]);
    assert.deepEqual(labProgramArgv('probe', '/usr/bin/node', root).slice(1, 3), ['--import', 'tsx'], 'each program by its own bundle');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('every program is bundled three folders below the project (CODE_ROOT means the same), and a bundle runs under plain node', () => {
  const built = buildLabPrograms();
  assert.deepEqual(built.files, LAB_PROGRAMS.map((p) => `${p}.mjs`).sort());
  assert.equal(labProgramBundle('probe'), join(CODE_ROOT, '.cache/lab/programs/probe.mjs'));
  // The probe's own usage error: it ran, its imports found (node_modules from .cache/lab/programs).
  const res = spawnSync(process.execPath, [labProgramBundle('probe')], { encoding: 'utf8' });
  assert.equal(res.status, 2, res.stderr);
  assert.match(res.stderr, /probe: --url is required/);
});

test('a process is known as the program from its source or its bundle, and not from another program', () => {
  assert.ok(runsLabProgram(`/usr/bin/node\0--import\0tsx\0${CODE_ROOT}lib/platforms/lab/programs/git-server.ts\0--port\u000080`, 'git-server'));
  assert.ok(runsLabProgram(`/usr/bin/node\0--enable-source-maps\0${CODE_ROOT}.cache/lab/programs/git-server.mjs\0--port\u000080`, 'git-server'));
  assert.ok(!runsLabProgram(`/usr/bin/node\0${CODE_ROOT}.cache/lab/programs/metadata.mjs`, 'git-server'));
});
