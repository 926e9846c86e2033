/**
 * The routers' configurations (lib/render/routers.ts) under the real
 * daemons' own parsers, no daemon left running:
 *   - BIRD 2 (`bird -p -c`): each rendered .bird.conf alone, with its
 *     password include pointed at a test secret in a temp dir, and included
 *     from a bird.conf as the README shows it (router id, device, bfd, the
 *     kernel protocol with ECMP);
 *   - FRR: vtysh's dry run (`vtysh -C -f`, every daemon's commands), and
 *     bgpd's (`bgpd -C -f`), which also validates values (a prefix-list's
 *     ge below its length); each on the file after the README's envsubst
 *     one-liner has put a test password in.
 * And the checkers really parse: a deliberate error is refused by each.
 *
 * BIRD 2 is not Debian's /usr/sbin/bird here: that is BIRD 1.6 (package
 * bird, Calico's version, which the lab runs), and Debian's bird2 conflicts
 * with it; its binary is unpacked under .cache/bird2 instead.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ClusterSpec } from '../../lib/cluster/cluster.js';
import { renderRouterConfigs } from '../../lib/render/routers.js';
import { DEFAULT_CACHE_DIR } from '../../lib/toolchain/repo.js';
import { BIRD2_PROVIDE, bird2Paths } from '../../lib/toolchain/steps/bird2.js';
import { need, needProgram } from '../prerequisites.js';
import { METAL_SPEC, metalPlan } from '../routers-fixture.js';

const PROVIDE_FRR = 'npm run setup -- debian:packages (it installs frr)';
const SECRET_FILE = '/etc/bird/native6-metal.secret.conf';
const TEST_PASSWORD = 'test-only-Md5-pw';

interface Ran {
  code: number | null;
  out: string;
}

function run(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env, input?: string): Ran {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env, timeout: 30_000, ...(input !== undefined ? { input } : {}) });
  if (r.error) throw r.error;
  return { code: r.status, out: `${r.stdout}${r.stderr}`.trim() };
}

/** BIRD 2: the unpacked Debian package under .cache/bird2, or /usr/sbin/bird where that is BIRD 2; fails naming the command that provides it. */
function findBird2(): { bird: string; env: NodeJS.ProcessEnv } {
  const cached = bird2Paths(DEFAULT_CACHE_DIR);
  const candidates = [{ bird: cached.bird, env: cached.env }, { bird: '/usr/sbin/bird', env: process.env }];
  const seen: string[] = [];
  for (const c of candidates) {
    if (!existsSync(c.bird)) continue;
    const v = run(c.bird, ['--version'], c.env);
    if (/BIRD version 2\./.test(v.out)) return c;
    seen.push(`${c.bird}: ${v.out || `exit ${v.code}`}`);
  }
  assert.fail(`BIRD 2 is not installed (${seen.join('; ') || 'no bird found'}; Debian's bird2 conflicts with the lab's bird 1.6): run \`${BIRD2_PROVIDE}\``);
}

/** The fixture, and a variant whose sessions never expire (hold 0, keepalive 0) and whose machines have 63-character names (BIRD's symbols are cut at 64). */
const LONG = (name: string) => `${name}-${'x'.repeat(63)}`.slice(0, 63);
const NEVER_EXPIRE: ClusterSpec = {
  ...METAL_SPEC,
  inventory: {
    uplinks: METAL_SPEC.inventory!.uplinks.map((u) => ({ ...u, routers: u.routers.map((r) => ({ ...r, name: `${r.name}-long`, timers: { keepalive: 0, hold: 0 } })) })),
    machines: METAL_SPEC.inventory!.machines.map((m) => ({ ...m, name: LONG(m.name) })),
  },
};
const files = [...renderRouterConfigs(METAL_SPEC, metalPlan()), ...renderRouterConfigs(NEVER_EXPIRE, metalPlan(NEVER_EXPIRE))];
const birdFiles = files.filter((f) => f.path.endsWith('.bird.conf'));
const frrFiles = files.filter((f) => f.path.endsWith('.frr.conf'));

describe('BIRD 2 parses the rendered configurations', () => {
  let dir = '';
  let bird2: { bird: string; env: NodeJS.ProcessEnv };
  before(() => {
    bird2 = findBird2();
    dir = mkdtempSync(join(tmpdir(), 'n6-routers-bird-'));
    writeFileSync(join(dir, 'secret.conf'), `define n6_metal_bgp_password = "${TEST_PASSWORD}";\n`);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** The rendered file with its password include pointed at the temp dir's test secret. */
  const local = (content: string): string => {
    assert.equal(content.split(`include "${SECRET_FILE}";`).length, 2, 'the secret is included once');
    return content.replace(`include "${SECRET_FILE}";`, `include "${join(dir, 'secret.conf')}";`);
  };
  const parse = (name: string, content: string): Ran => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return run(bird2.bird, ['-p', '-c', path], bird2.env);
  };

  it('accepts every router file alone', () => {
    assert.equal(birdFiles.length, 6);
    for (const f of birdFiles) {
      const r = parse('alone.conf', local(f.content));
      assert.equal(r.code, 0, `${f.path}: ${r.out}`);
    }
  });

  it("accepts every router file included from a bird.conf as the README shows it (ECMP in the kernel protocol)", () => {
    for (const f of birdFiles) {
      const limit = /merge paths on limit (\d+);/.exec(f.content)?.[1];
      assert.ok(limit, `${f.path} names its ECMP limit`);
      writeFileSync(join(dir, 'native6-metal.conf'), local(f.content));
      const main = [
        'router id 192.0.2.254;',
        'protocol device {}',
        'protocol bfd {}',
        `protocol kernel { ipv6 { export all; }; merge paths on limit ${limit}; }`,
        `include "${join(dir, 'native6-metal.conf')}";`,
        '',
      ].join('\n');
      const r = parse('bird.conf', main);
      assert.equal(r.code, 0, `${f.path}: ${r.out}`);
    }
  });

  it('refuses a syntax error, and a password constant the secret file does not define', () => {
    const f = local(birdFiles[0]!.content);
    const broken = parse('broken.conf', f.replace('  hold time 90;', '  hold time 90'));
    assert.notEqual(broken.code, 0);
    assert.match(broken.out, /syntax error/);
    writeFileSync(join(dir, 'secret.conf'), '# empty\n');
    try {
      const noSecret = parse('nosecret.conf', f);
      assert.notEqual(noSecret.code, 0, 'without the secret file\'s constant the configuration must not parse');
      assert.match(noSecret.out, /syntax error|unexpected/);
    } finally {
      writeFileSync(join(dir, 'secret.conf'), `define n6_metal_bgp_password = "${TEST_PASSWORD}";\n`);
    }
  });
});

describe("FRR's parsers take the rendered configurations, the password put in as the README says", () => {
  let dir = '';
  let vtysh = '';
  let envsubst = '';
  const bgpd = '/usr/lib/frr/bgpd';
  before(() => {
    vtysh = needProgram('vtysh', PROVIDE_FRR);
    need(bgpd, PROVIDE_FRR);
    envsubst = needProgram('envsubst', 'apt-get install gettext-base');
    dir = mkdtempSync(join(tmpdir(), 'n6-routers-frr-'));
    // bgpd drops to the frr user before it reads its configuration.
    chmodSync(dir, 0o755);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** The README's substitution: envsubst with only the placeholder's variable. */
  const installed = (content: string): string => {
    const r = spawnSync(envsubst, ['${N6_BGP_PASSWORD}'], { input: content, encoding: 'utf8', env: { ...process.env, N6_BGP_PASSWORD: TEST_PASSWORD } });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  };
  const write = (name: string, content: string): string => {
    const path = join(dir, name);
    writeFileSync(path, content, { mode: 0o644 });
    return path;
  };
  const vtyshCheck = (path: string): Ran => run(vtysh, ['-C', '-f', path]);
  /** bgpd's dry run: exit 0 whatever it finds, so its log is read: every line it did not take must be bfdd's (the bfd block). */
  const bgpdProblems = (path: string, content: string): string[] => {
    const r = run(bgpd, ['-C', '-f', path, '-i', join(dir, 'bgpd.pid')]);
    assert.equal(r.code, 0, r.out);
    const lines = content.split('\n');
    const bfdStart = lines.indexOf('bfd');
    return r.out
      .split('\n')
      .filter(Boolean)
      .filter((l) => {
        const m = /No such command on config line (\d+): /.exec(l);
        return !(m && bfdStart >= 0 && Number(m[1]) > bfdStart);
      });
  };

  it('the substitution puts the password in and leaves nothing else changed', () => {
    for (const f of frrFiles) {
      const out = installed(f.content);
      assert.equal(out, f.content.replace('${N6_BGP_PASSWORD}', TEST_PASSWORD));
      assert.ok(!out.includes('${N6_BGP_PASSWORD}') && out.includes(` password ${TEST_PASSWORD}\n`), f.path);
    }
  });

  it('vtysh -C and bgpd -C accept every router file', () => {
    assert.equal(frrFiles.length, 6);
    for (const f of frrFiles) {
      const content = installed(f.content);
      const path = write('frr.conf', content);
      const v = vtyshCheck(path);
      assert.equal(v.code, 0, `${f.path}: vtysh -C: ${v.out}`);
      assert.equal(v.out, '', `${f.path}: vtysh -C said something`);
      assert.deepEqual(bgpdProblems(path, content), [], `${f.path}: bgpd -C`);
    }
  });

  it('refuse a command that does not exist (vtysh) and a prefix-list range below its length (bgpd)', () => {
    const content = installed(frrFiles[0]!.content);
    const typo = vtyshCheck(write('typo.conf', content.replace('  maximum-paths 3', '  maximum-pathz 3')));
    assert.notEqual(typo.code, 0);
    assert.match(typo.out, /Unknown command.*maximum-pathz/);
    const badRange = content.replace(/ge 122$/m, 'ge 12');
    assert.notEqual(badRange, content);
    const problems = bgpdProblems(write('range.conf', badRange), badRange);
    assert.ok(problems.some((l) => /Invalid prefix range/.test(l)), `bgpd -C took ge 12 on a /64: ${problems.join('\n')}`);
  });
});
