// The nodes' BGP session settings (lib/render/birdTemplates.ts, issue #17):
// the pinned Calico v3.28.5 templates, extended, are the pinned ones plus the
// marked lines and nothing else (every other template byte for byte, and
// pinnedTemplates() gives the originals back); n6-confd renders them for a
// lab node, and BIRD 1.6 (`bird6 -p`, confd's own check_cmd) accepts the
// configuration, with BFD and the hold time on every router's session, and
// with the hold time alone. Needs `npm run setup` (calico:confd-templates,
// tools:n6-confd, bird).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { confdKv } from '../../lib/platforms/lab/calicoNode/confd.js';
import type { NodeSessions } from '../../lib/cluster/sessions.js';
import { BIRD6_TEMPLATE, birdTemplatesConfigMap, MARK, pinnedTemplates, withSessions } from '../../lib/render/birdTemplates.js';
import { calicoConfdDir, confdBinary, SETUP_COMMAND } from '../../lib/toolchain/pins.js';
import { DEFAULT_CACHE_DIR } from '../../lib/toolchain/repo.js';
import { labSnapshot } from '../calico-fixture.js';

const bin = confdBinary(DEFAULT_CACHE_DIR);
const pinnedDir = calicoConfdDir(DEFAULT_CACHE_DIR);

const LAB: NodeSessions = { bfd: { intervalMs: 100, multiplier: 3 }, holdTime: 9 };
const HOLD_ONLY: NodeSessions = { holdTime: 9 };
const HOLD_LINE = `  hold time 9; ${MARK}: the keepalive is a third of the hold time negotiated`;

function pinned(): Record<string, string> {
  assert.ok(existsSync(join(pinnedDir, 'templates', BIRD6_TEMPLATE)), `${pinnedDir} is missing: run \`${SETUP_COMMAND}\``);
  const dir = join(pinnedDir, 'templates');
  return Object.fromEntries(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
}

/** The ConfigMap's data for these sessions. */
function extended(originals: Record<string, string>, sessions: NodeSessions): Record<string, string> {
  return birdTemplatesConfigMap(originals, sessions).data as Record<string, string>;
}

test('the extended templates are the pinned ones plus the marked lines, and nothing else; pinnedTemplates gives the originals back', () => {
  const originals = pinned();
  const data = extended(originals, LAB);
  assert.deepEqual(Object.keys(data), Object.keys(originals), 'every template of the folder, the mount replaces it');
  for (const [name, text] of Object.entries(originals)) {
    if (name === BIRD6_TEMPLATE) continue;
    assert.equal(data[name], text, `${name} is the pinned one`);
  }
  const bird6 = data[BIRD6_TEMPLATE]!;
  assert.notEqual(bird6, originals[BIRD6_TEMPLATE]);
  assert.deepEqual(bird6.split('\n').filter((l) => l.includes(MARK)), [
    `protocol bfd { ${MARK}: the routers' sessions, a dead peer found in 300 ms`,
    `  interface "*" { interval 100 ms; multiplier 3; }; ${MARK}`,
    `  multihop { interval 100 ms; multiplier 3; }; ${MARK}`,
    `} ${MARK}`,
    `  bfd on; ${MARK}`,
    HOLD_LINE,
  ]);
  // The protocol goes before the template's comment, the template's lines right after its opening.
  assert.match(bird6, new RegExp(`\\} ${MARK}\\n# Template for all BGP clients\\ntemplate bgp bgp_template \\{\\n  bfd on; ${MARK}\\n  hold time 9; `));
  const back = pinnedTemplates(data);
  assert.deepEqual(Object.keys(back), Object.keys(originals));
  for (const [name, text] of Object.entries(originals)) assert.equal(back[name], text, `${name}: the original byte for byte`);
  assert.equal(Buffer.compare(Buffer.from(back[BIRD6_TEMPLATE]!), Buffer.from(originals[BIRD6_TEMPLATE]!)), 0);

  assert.throws(() => withSessions(originals[BIRD6_TEMPLATE]!.replace('template bgp bgp_template {', 'template bgp other {'), LAB), /the pinned Calico's templates changed/);
  assert.throws(() => withSessions(originals[BIRD6_TEMPLATE]!, { bfd: { intervalMs: 5, multiplier: 3 } }), /at least 10 ms/);
});

test('a hold time without BFD adds the hold line only, and pinnedTemplates gives the original back', () => {
  const originals = pinned();
  const data = extended(originals, HOLD_ONLY);
  const bird6 = data[BIRD6_TEMPLATE]!;
  assert.deepEqual(bird6.split('\n').filter((l) => l.includes(MARK)), [HOLD_LINE]);
  assert.doesNotMatch(bird6, /protocol bfd|bfd on/);
  assert.equal(pinnedTemplates(data)[BIRD6_TEMPLATE], originals[BIRD6_TEMPLATE]);
  // Nothing to add: the pinned template itself.
  assert.equal(withSessions(originals[BIRD6_TEMPLATE]!, {}), originals[BIRD6_TEMPLATE]);
});

/** bird6.cfg as n6-confd renders it for lab-general-1 from the templates extended with these sessions; `dest` is a scratch folder. */
function render(dest: string, originals: Record<string, string>, sessions: NodeSessions): string {
  // Calico's conf.d with the ConfigMap's templates, as calico-node sees them once mounted.
  const confdir = join(dest, 'confd');
  cpSync(join(pinnedDir, 'conf.d'), join(confdir, 'conf.d'), { recursive: true });
  mkdirSync(join(confdir, 'templates'));
  for (const [name, text] of Object.entries(extended(originals, sessions))) writeFileSync(join(confdir, 'templates', name), text);
  const kvFile = join(dest, 'kv.json');
  writeFileSync(kvFile, JSON.stringify(confdKv(labSnapshot(), 'lab-general-1')));
  const res = spawnSync(bin, ['-confdir', confdir, '-kv', kvFile, '-only', 'bird6', '-dest-root', dest], {
    env: { ...process.env, NODENAME: 'lab-general-1', CALICO_ROUTER_ID: 'hash', PATH: `/nonexistent-sv:${process.env.PATH}` },
    encoding: 'utf8',
  });
  assert.equal(res.status, 0, res.stdout + res.stderr);
  return join(dest, 'etc/calico/confd/config/bird6.cfg');
}

/** `bird6 -p` on a configuration file: BIRD 1.6's own parser. */
const parse = (file: string) => spawnSync('bird6', ['-p', '-c', file], { encoding: 'utf8' });

test('n6-confd renders the extended templates for a lab node, and bird6 accepts BFD and the hold time on every router session', () => {
  assert.ok(existsSync(bin), `${bin} is missing: run \`${SETUP_COMMAND}\``);
  const originals = pinned();
  const dest = mkdtempSync(join(tmpdir(), 'native6-bfd-confd-'));
  try {
    const file = render(dest, originals, LAB);
    const config = readFileSync(file, 'utf8');
    assert.match(config, /protocol bfd \{/);
    assert.match(config, /template bgp bgp_template \{\n {2}bfd on;[^\n]*\n {2}hold time 9;/);
    // Every router session is made from the template, with the source address BFD needs for multihop.
    const sessions = config.split('protocol bgp Node_').slice(1);
    assert.ok(sessions.length >= 2, config);
    for (const s of sessions) assert.match(s, /^[^\n]* from bgp_template \{[\s\S]*?source address /);
    const check = parse(file);
    assert.equal(check.status, 0, check.stderr);
    // The check is not vacuous: a BFD session without its source address is refused by the same parser.
    const broken = join(dest, 'etc/calico/confd/config/broken.cfg');
    writeFileSync(broken, config.replace(/ {2}source address [^;]*;/g, ''));
    const refused = parse(broken);
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /Multihop BGP with BFD requires specified source address/);
    // Nor for the hold time line: the parser reads it (BIRD 1.6 checks no range on it, withSessions does: 3 to 65535 s).
    const badHold = join(dest, 'etc/calico/confd/config/bad-hold.cfg');
    writeFileSync(badHold, config.replace(/hold time 9;/, 'hold time nine;'));
    const unread = parse(badHold);
    assert.notEqual(unread.status, 0, 'bird6 accepted "hold time nine;"');
  } finally {
    rmSync(dest, { recursive: true, force: true });
  }
});

test('n6-confd renders the templates with the hold time alone, and bird6 accepts them: no BFD anywhere', () => {
  assert.ok(existsSync(bin), `${bin} is missing: run \`${SETUP_COMMAND}\``);
  const originals = pinned();
  const dest = mkdtempSync(join(tmpdir(), 'native6-hold-confd-'));
  try {
    const file = render(dest, originals, HOLD_ONLY);
    const config = readFileSync(file, 'utf8');
    assert.doesNotMatch(config, /\bbfd\b/i);
    assert.match(config, /template bgp bgp_template \{\n {2}hold time 9;/);
    assert.ok(config.split('protocol bgp Node_').length >= 3, config);
    const check = parse(file);
    assert.equal(check.status, 0, check.stderr);
  } finally {
    rmSync(dest, { recursive: true, force: true });
  }
});
