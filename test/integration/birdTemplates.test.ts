// BFD on the nodes' BGP sessions (lib/render/birdTemplates.ts, issue #17):
// the pinned Calico v3.28.5 templates, extended, are the pinned ones plus the
// marked lines and nothing else (every other template byte for byte); n6-confd
// renders them for a lab node, and BIRD 1.6 (`bird6 -p`, confd's own
// check_cmd) accepts the configuration, with a BFD protocol and BFD on every
// router's session. Needs `npm run setup` (calico:confd-templates,
// tools:n6-confd, bird).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { confdKv } from '../../lib/platforms/lab/calicoNode/confd.js';
import { BIRD6_TEMPLATE, birdTemplatesConfigMap, MARK, withBfd } from '../../lib/render/birdTemplates.js';
import { calicoConfdDir, confdBinary, SETUP_COMMAND } from '../../lib/toolchain/pins.js';
import { DEFAULT_CACHE_DIR } from '../../lib/toolchain/repo.js';
import { labSnapshot } from '../calico-fixture.js';

const bin = confdBinary(DEFAULT_CACHE_DIR);
const pinnedDir = calicoConfdDir(DEFAULT_CACHE_DIR);

function pinned(): Record<string, string> {
  assert.ok(existsSync(join(pinnedDir, 'templates', BIRD6_TEMPLATE)), `${pinnedDir} is missing: run \`${SETUP_COMMAND}\``);
  const dir = join(pinnedDir, 'templates');
  return Object.fromEntries(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
}

test('the extended templates are the pinned ones plus the marked lines, and nothing else', () => {
  const originals = pinned();
  const cm = birdTemplatesConfigMap(originals, { intervalMs: 100, multiplier: 3 });
  const data = cm.data as Record<string, string>;
  assert.deepEqual(Object.keys(data), Object.keys(originals), 'every template of the folder, the mount replaces it');
  for (const [name, text] of Object.entries(originals)) {
    if (name === BIRD6_TEMPLATE) continue;
    assert.equal(data[name], text, `${name} is the pinned one`);
  }
  const extended = data[BIRD6_TEMPLATE]!;
  const added = extended.split('\n').filter((l) => l.includes(MARK));
  assert.deepEqual(added, [
    `protocol bfd { ${MARK}: the routers' sessions, a dead peer found in 300 ms`,
    `  interface "*" { interval 100 ms; multiplier 3; }; ${MARK}`,
    `  multihop { interval 100 ms; multiplier 3; }; ${MARK}`,
    `} ${MARK}`,
    `  bfd on; ${MARK}`,
  ]);
  assert.equal(extended.split('\n').filter((l) => !l.includes(MARK)).join('\n'), originals[BIRD6_TEMPLATE], 'without the marked lines, the pinned template byte for byte');
  assert.throws(() => withBfd(originals[BIRD6_TEMPLATE]!.replace('template bgp bgp_template {', 'template bgp other {'), { intervalMs: 100, multiplier: 3 }), /the pinned Calico's templates changed/);
  assert.throws(() => withBfd(originals[BIRD6_TEMPLATE]!, { intervalMs: 5, multiplier: 3 }), /at least 10 ms/);
});

test('n6-confd renders the extended templates for a lab node, and bird6 accepts BFD on every router session', () => {
  assert.ok(existsSync(bin), `${bin} is missing: run \`${SETUP_COMMAND}\``);
  const originals = pinned();
  const dest = mkdtempSync(join(tmpdir(), 'native6-bfd-confd-'));
  try {
    // Calico's conf.d with the ConfigMap's templates, as calico-node sees them once mounted.
    const confdir = join(dest, 'confd');
    cpSync(join(pinnedDir, 'conf.d'), join(confdir, 'conf.d'), { recursive: true });
    mkdirSync(join(confdir, 'templates'));
    for (const [name, text] of Object.entries(birdTemplatesConfigMap(originals, { intervalMs: 100, multiplier: 3 }).data as Record<string, string>)) writeFileSync(join(confdir, 'templates', name), text);
    const kvFile = join(dest, 'kv.json');
    writeFileSync(kvFile, JSON.stringify(confdKv(labSnapshot(), 'lab-general-1')));
    const res = spawnSync(bin, ['-confdir', confdir, '-kv', kvFile, '-only', 'bird6', '-dest-root', dest], {
      env: { ...process.env, NODENAME: 'lab-general-1', CALICO_ROUTER_ID: 'hash', PATH: `/nonexistent-sv:${process.env.PATH}` },
      encoding: 'utf8',
    });
    assert.equal(res.status, 0, res.stdout + res.stderr);
    const config = readFileSync(join(dest, 'etc/calico/confd/config/bird6.cfg'), 'utf8');
    assert.match(config, /protocol bfd \{/);
    assert.match(config, /template bgp bgp_template \{\n {2}bfd on;/);
    // Every router session is made from the template, with the source address BFD needs for multihop.
    const sessions = config.split('protocol bgp Node_').slice(1);
    assert.ok(sessions.length >= 2, config);
    for (const s of sessions) assert.match(s, /^[^\n]* from bgp_template \{[\s\S]*?source address /);
    const check = spawnSync('bird6', ['-p', '-c', join(dest, 'etc/calico/confd/config/bird6.cfg')], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stderr);
    // The check is not vacuous: a BFD session without its source address is refused by the same parser.
    const broken = join(dest, 'etc/calico/confd/config/broken.cfg');
    writeFileSync(broken, config.replace(/ {2}source address [^;]*;/g, ''));
    const refused = spawnSync('bird6', ['-p', '-c', broken], { encoding: 'utf8' });
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /Multihop BGP with BFD requires specified source address/);
  } finally {
    rmSync(dest, { recursive: true, force: true });
  }
});
