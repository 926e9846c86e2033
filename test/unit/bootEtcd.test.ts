/**
 * The removal of an etcd member a former machine left at a control plane's
 * address (lib/render/bootEtcd.ts), run by bash as rendered, with kubeadm,
 * kubectl and curl stubbed (each call recorded; etcd's member list and
 * removal answered from the scenario) and the real jq; the etcd data folder
 * moved under a temporary one. test/lab/bootScript.test.ts runs it inside the
 * whole boot, and the lab tier against a real etcd.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ETCD_DATA_DIR, staleMemberLines } from '../../lib/render/bootEtcd.js';
import { KUBEADM_JOIN_CONFIG } from '../../lib/render/bootPaths.js';

const roots: string[] = [];
after(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

const ADDR = '2001:db8:100::3';
const OWN_URL = `https://[${ADDR}]:2379`;
const CP2 = 'https://[2001:db8:100::5]:2379';
const CP3 = 'https://[2001:db8:100::7]:2379';
const member = (id: string, name: string, address: string) => ({ ID: id, name, peerURLs: [`https://[${address}]:2380`], clientURLs: [`https://[${address}]:2379`] });
/** IDs as etcd's JSON API writes them: uint64 in strings, beyond what a double holds exactly. */
const STALE = member('9782650351179755402', 'lab-cp-1', ADDR);
const OTHERS = [member('13436943903362014525', 'lab-cp-3', '2001:db8:100::7'), member('17518954070211547912', 'lab-cp-2', '2001:db8:100::5')];

interface Scenario {
  /** This machine has etcd data of its own. */
  readonly ownData?: boolean;
  /** The client URLs kubeadm's etcd pods name (kubectl's answer). */
  readonly urls?: readonly string[];
  /** The members each URL answers with; a URL not here does not answer. */
  readonly answers?: Readonly<Record<string, readonly object[]>>;
  readonly failPrepare?: string;
  readonly failRemove?: boolean;
}

function run(s: Scenario): { status: number | null; out: string; calls: string[] } {
  const root = mkdtempSync(join(tmpdir(), 'n6-boot-etcd-'));
  roots.push(root);
  const bin = join(root, 'bin');
  mkdirSync(bin);
  if (s.ownData) mkdirSync(join(root, 'etcd', 'member'), { recursive: true });
  writeFileSync(join(root, 'answers.json'), JSON.stringify(s.answers ?? {}));
  const stub = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/bin/bash\nprintf '%s\\n' "${name} $*" >> "${root}/calls"\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  stub('kubeadm', `[ "$4" = "${s.failPrepare ?? ''}" ] && exit 1; exit 0`);
  stub('kubectl', `printf '%s\\n' ${(s.urls ?? []).map((u) => `'${u}'`).join(' ')}`);
  stub(
    'curl',
    [
      'url=${@: -1}; data=; while [ $# -gt 0 ]; do [ "$1" = -d ] && data=$2; shift; done',
      'case $url in',
      `  */v3/cluster/member/list) /usr/bin/jq -ce --arg u "\${url%/v3/cluster/member/list}" '.[$u] | select(. != null) | {header: {}, members: .}' "${root}/answers.json" || exit 7 ;;`,
      `  */v3/cluster/member/remove) ${s.failRemove ? 'exit 22' : `echo "$data" >> "${root}/removed"; echo '{}'`} ;;`,
      '  *) exit 6 ;;',
      'esac',
    ].join('\n'),
  );
  // As the boot script runs it: errexit, nounset, pipefail (a stray line of the function's text would stop the boot).
  const script = ['set -euo pipefail', `log() { echo "log: $*"; }`, `addr=${ADDR}`, ...staleMemberLines(), 'if remove_stale_member; then echo "rc=0"; else echo "rc=1"; fi'].join('\n').replaceAll(ETCD_DATA_DIR, join(root, 'etcd'));
  // --norc: bash reads ~/.bashrc when its stdin is a socket (Node's pipes), as under rshd.
  const r = spawnSync('bash', ['--norc', '--noprofile', '-c', script], { encoding: 'utf8', env: { PATH: `${bin}:/usr/bin:/bin`, HOME: root } });
  const read = (f: string) => {
    try {
      return readFileSync(join(root, f), 'utf8');
    } catch {
      return '';
    }
  };
  const removed = read('removed').split('\n').filter(Boolean).map((l) => `removed: ${l}\n`).join('');
  return { status: r.status, out: r.stdout + r.stderr + removed, calls: read('calls').split('\n').filter(Boolean) };
}

const PREPARE = ['download-certs', 'certs', 'kubeconfig'].map((p) => `kubeadm join phase control-plane-prepare ${p} --config ${KUBEADM_JOIN_CONFIG}`);

describe('a control plane back empty at the address of an etcd member', () => {
  it('bash reads it', () => {
    assert.equal(spawnSync('bash', ['-n'], { input: staleMemberLines().join('\n') }).status, 0);
  });

  it('defines the function and nothing else: run under errexit, it prints nothing of its own', () => {
    const r = run({ ownData: true });
    assert.equal(r.out, 'rc=0\n');
  });

  it('with etcd data of its own, touches nothing', () => {
    const r = run({ ownData: true, urls: [OWN_URL, CP2], answers: { [CP2]: [STALE, ...OTHERS] } });
    assert.match(r.out, /rc=0/);
    assert.deepEqual(r.calls, []);
  });

  it('removes the member at its own peer URL, asked through another member (its own URL skipped), after the join prepared the certificates', () => {
    const r = run({ urls: [OWN_URL, CP2, CP3], answers: { [OWN_URL]: [STALE, ...OTHERS], [CP2]: [STALE, ...OTHERS], [CP3]: [STALE, ...OTHERS] } });
    assert.match(r.out, /rc=0/);
    assert.match(r.out, new RegExp(`removed: \\{"ID":"${STALE.ID}"\\}`), 'the exact ID, as a string (no precision lost)');
    assert.match(r.out, new RegExp(`log: etcd member ${STALE.ID} at https://\\[${ADDR}\\]:2380 is a former machine's \\(this one has no etcd data\\): removed through https://\\[2001:db8:100::5\\]:2379`));
    assert.deepEqual(r.calls.slice(0, 3), PREPARE);
    // kubeadm's own annotation on its etcd pods, dots escaped for jsonpath.
    assert.equal(r.calls[3], 'kubectl --kubeconfig /etc/kubernetes/admin.conf get pods -n kube-system -l component=etcd -o jsonpath={range .items[*]}{.metadata.annotations.kubeadm\\.kubernetes\\.io/etcd\\.advertise-client-urls}{"\\n"}{end}');
    const curls = r.calls.filter((c) => c.startsWith('curl '));
    assert.equal(curls.length, 2, 'one list, one removal: the first other member answered');
    for (const c of curls) {
      assert.ok(c.includes('--cacert /etc/kubernetes/pki/etcd/ca.crt --cert /etc/kubernetes/pki/apiserver-etcd-client.crt --key /etc/kubernetes/pki/apiserver-etcd-client.key'), c);
      assert.ok(c.includes(CP2), c);
    }
    assert.ok(curls[1]!.endsWith(`${CP2}/v3/cluster/member/remove`));
  });

  it('an ordinary join: no member at its peer URL, nothing removed', () => {
    const r = run({ urls: [CP2], answers: { [CP2]: OTHERS } });
    assert.match(r.out, /rc=0/);
    assert.doesNotMatch(r.out, /removed:/);
    assert.equal(r.calls.filter((c) => c.endsWith('/member/remove')).length, 0);
  });

  it('a member that does not answer: the next one is asked', () => {
    const r = run({ urls: [CP2, CP3], answers: { [CP3]: [STALE, ...OTHERS] } });
    assert.match(r.out, /rc=0/);
    assert.match(r.out, new RegExp(`removed through https://\\[2001:db8:100::7\\]:2379`));
  });

  it('no other member answers: tried again (1), saying so', () => {
    const r = run({ urls: [OWN_URL, CP2], answers: {} });
    assert.match(r.out, /rc=1/);
    assert.match(r.out, /log: no other etcd member answered/);
  });

  it('no etcd pod named at all: tried again', () => {
    assert.match(run({ urls: [] }).out, /rc=1/);
  });

  it('a prepare phase that fails, or a removal refused: tried again, nothing after it', () => {
    const prepare = run({ failPrepare: 'certs', urls: [CP2], answers: { [CP2]: [STALE] } });
    assert.match(prepare.out, /rc=1/);
    assert.deepEqual(prepare.calls, PREPARE.slice(0, 2));
    assert.match(run({ failRemove: true, urls: [CP2], answers: { [CP2]: [STALE] } }).out, /rc=1/);
  });
});
