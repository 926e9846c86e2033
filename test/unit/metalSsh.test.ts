/**
 * The metal platform's SSH transport, the parts that need no server
 * (lib/platforms/metal/ssh.ts, session.ts): fingerprints as `ssh-keygen
 * -lf` prints them (ed25519 and rsa keys made here by ssh-keygen), the
 * known_hosts line of the pinned key and the error when the server holds
 * another, the ssh command lines, the install script run by bash under a
 * folder (files, modes, directories, atomic: a failure replaces nothing;
 * the start commands), the best-effort reset script, the digest and the
 * resource's diff, and no secret in any error (a fake ssh that echoes what
 * it was fed). test/integration/metalSsh.test.ts runs them against sshd.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  bestEffortScript,
  bootDigest,
  defaultDeregister,
  defaultReset,
  failedCommands,
  fingerprint,
  HostKeyMismatchError,
  installScript,
  keyscanArgs,
  knownHostsName,
  machineDiff,
  parseKeyscan,
  pinnedKnownHosts,
  redact,
  secretFragments,
  sshArgs,
  SOME_FAILED,
  type MachineInputs,
  type MachineOutputs,
} from '../../lib/platforms/metal/ssh.js';
import { createMachine, deleteMachine } from '../../lib/platforms/metal/session.js';
import { needProgram } from '../prerequisites.js';

const sshKeygen = () => needProgram('ssh-keygen', 'apt-get install openssh-client');

function keyPair(dir: string, type: 'ed25519' | 'rsa'): { pub: string; priv: string; file: string } {
  const file = join(dir, `key_${type}`);
  execFileSync(sshKeygen(), ['-q', '-t', type, ...(type === 'rsa' ? ['-b', '3072'] : []), '-N', '', '-C', `test-${type}`, '-f', file]);
  return { pub: readFileSync(`${file}.pub`, 'utf8').trim(), priv: readFileSync(file, 'utf8'), file };
}

test('fingerprints are what ssh-keygen -lf prints, for ed25519 and rsa keys', () => {
  const dir = mkdtempSync(join(tmpdir(), 'n6-sshfp-'));
  try {
    for (const type of ['ed25519', 'rsa'] as const) {
      const k = keyPair(dir, type);
      const printed = execFileSync(sshKeygen(), ['-lf', `${k.file}.pub`], { encoding: 'utf8' }).split(' ')[1];
      assert.match(printed!, /^SHA256:[A-Za-z0-9+/]{43}$/);
      assert.equal(fingerprint(k.pub.split(' ')[1]!), printed, type);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const ED = 'AAAAC3NzaC1lZDI1NTE5AAAAIMq1mNSpI5Bxn0uE6J8Z6dQW3Xq4A9fXzDkIqPL0Vt5J';
const EC = 'AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBE0nT3j5l0u6R7m1oQzWb2e3zq0bG2hHqLkQ9e9Zp8Yc9xG3Qk0aRrYx2JmK4xQyS2pPNb0dG0PzO4Nk3q6VtY0=';
const scan = [`# [2001:db8::5]:2222 SSH-2.0-OpenSSH_9.2`, `[2001:db8::5]:2222 ecdsa-sha2-nistp256 ${EC}`, `[2001:db8::5]:2222 ssh-ed25519 ${ED}`, ''].join('\n');
const access = { host: '2001:DB8::5', port: 2222, user: 'root', hostKey: fingerprint(ED) };

test('the known_hosts line holds only the key with the pinned fingerprint, under the name ssh looks up', () => {
  const keys = parseKeyscan(scan);
  assert.deepEqual(keys.map((k) => k.type), ['ecdsa-sha2-nistp256', 'ssh-ed25519']);
  const { line, key } = pinnedKnownHosts('dfw-cp-1', access, keys);
  assert.equal(line, `[2001:db8::5]:2222 ssh-ed25519 ${ED}\n`);
  assert.equal(key.fingerprint, access.hostKey);
  assert.equal(knownHostsName({ host: '[2001:db8::5]', port: 22 }), '2001:db8::5');
  assert.equal(knownHostsName({ host: 'Node1.example.net', port: 22 }), 'node1.example.net');
});

test('a host key other than the pinned one: an error naming the machine, the host, both fingerprints and the fix', () => {
  const wrong = { ...access, hostKey: 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' };
  assert.throws(
    () => pinnedKnownHosts('dfw-cp-1', wrong, parseKeyscan(scan)),
    (e: Error) => {
      assert.ok(e instanceof HostKeyMismatchError);
      for (const s of ['dfw-cp-1', '2001:DB8::5 port 2222', wrong.hostKey, fingerprint(ED), fingerprint(EC), 'spec.machines[].ssh.hostKey', 'only if its key really changed']) assert.ok(e.message.includes(s), `${s} in: ${e.message}`);
      return true;
    },
  );
});

test('the ssh command line: our known_hosts and key only, no prompt, a connect timeout, the destination after --', () => {
  const files = { keyFile: '/tmp/x/id', knownHosts: '/tmp/x/known_hosts' };
  const args = sshArgs({ ...access, host: '[2001:DB8::5]' }, files, 7);
  const opts = args.filter((_, i) => args[i - 1] === '-o');
  for (const o of ['BatchMode=yes', 'StrictHostKeyChecking=yes', 'UserKnownHostsFile=/tmp/x/known_hosts', 'GlobalKnownHostsFile=/dev/null', 'IdentitiesOnly=yes', 'ConnectTimeout=7']) assert.ok(opts.includes(o), o);
  assert.deepEqual(args.slice(args.indexOf('-i'), args.indexOf('-i') + 2), ['-i', '/tmp/x/id']);
  assert.deepEqual(args.slice(-6), ['-p', '2222', '--', 'root@2001:db8::5', 'bash', '-s']);
  assert.deepEqual(sshArgs({ ...access, user: 'ops' }, files).slice(-4), ['ops@2001:db8::5', 'sudo', '-n', 'bash', '-s'].slice(-4));
  assert.deepEqual(keyscanArgs(access, 5), ['-T', '5', '-p', '2222', '2001:db8::5']);
  assert.throws(() => sshArgs({ ...access, host: '-oProxyCommand=x' }, files), /neither a host name nor an address/);
});

const files = [
  { path: '/etc/native6/pki/ca.key', mode: '0600', content: "-----BEGIN PRIVATE KEY-----\nc2VjcmV0IGtleSBtYXRlcmlhbA==\n-----END PRIVATE KEY-----\n" },
  { path: '/etc/systemd/system/native6-boot.service', mode: '0644', content: "[Unit]\nDescription=it's $HOME `x` \\ N6_END_OF_FILE\n" },
  { path: '/usr/local/sbin/native6-boot', mode: '0700', content: '#!/bin/bash\necho héllo\n' },
];

test('the install script puts every file in place with its mode and content, then runs the start commands', () => {
  const root = mkdtempSync(join(tmpdir(), 'n6-install-'));
  try {
    const marker = join(root, 'started');
    const start = [['sh', '-c', `echo one >> ${marker}`], ['sh', '-c', `echo "two $0" >> ${marker}`, 'arg with space']];
    const r = spawnSync('bash', ['-s'], { input: installScript(files, start), env: { ...process.env, N6_ROOT: root }, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    for (const f of files) {
      assert.equal(readFileSync(join(root, f.path), 'utf8'), f.content, f.path);
      assert.equal((statSync(join(root, f.path)).mode & 0o777).toString(8).padStart(4, '0'), f.mode, f.path);
    }
    assert.equal((statSync(join(root, 'etc/native6/pki')).mode & 0o777).toString(8), '755');
    assert.equal(readFileSync(marker, 'utf8'), 'one\ntwo arg with space\n');
    assert.deepEqual(readdirSync(join(root, 'etc/native6/pki')), ['ca.key'], 'no temporary file left');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('the install script replaces nothing when a file cannot be written, and runs no start command', () => {
  const root = mkdtempSync(join(tmpdir(), 'n6-install-'));
  try {
    mkdirSync(join(root, 'etc/native6/pki'), { recursive: true });
    writeFileSync(join(root, 'etc/native6/pki/ca.key'), 'old\n');
    writeFileSync(join(root, 'usr'), 'a file where a folder must be');
    const marker = join(root, 'started');
    const r = spawnSync('bash', ['-s'], { input: installScript(files, [['touch', marker]]), env: { ...process.env, N6_ROOT: root }, encoding: 'utf8' });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /native6-ssh: failed/);
    assert.equal(readFileSync(join(root, 'etc/native6/pki/ca.key'), 'utf8'), 'old\n', 'the earlier file is not replaced');
    assert.deepEqual(readdirSync(join(root, 'etc/native6/pki')), ['ca.key'], 'its temporary file removed');
    assert.equal(existsSync(marker), false);
    assert.ok(!r.stderr.includes('c2VjcmV0'), 'no content in what it says');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('the reset script runs every command, names those that failed and exits SOME_FAILED', () => {
  const dir = mkdtempSync(join(tmpdir(), 'n6-reset-'));
  try {
    const r = spawnSync('bash', ['-s'], { input: bestEffortScript([['touch', join(dir, 'a')], ['false'], ['touch', join(dir, 'b')]]), encoding: 'utf8' });
    assert.equal(r.status, SOME_FAILED);
    assert.deepEqual(failedCommands(r.stderr), ['command failed (exit 1): false']);
    assert.ok(existsSync(join(dir, 'a')) && existsSync(join(dir, 'b')));
    assert.equal(spawnSync('bash', ['-s'], { input: bestEffortScript([['true']]) }).status, 0);
    assert.ok(defaultReset().some((c) => c.join(' ').includes('kubeadm reset -f')));
    assert.deepEqual(defaultDeregister('w-1').map((c) => c[3]), ['drain', 'delete']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const inputs: MachineInputs = { machine: 'dfw-w-1', ssh: access, privateKey: '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAAc2VjcmV0\n-----END OPENSSH PRIVATE KEY-----\n', files, start: [['systemctl', 'start', '--no-block', 'native6-boot.service']], reset: defaultReset() };
const outputs = (i: MachineInputs): MachineOutputs => ({ machine: i.machine, ssh: i.ssh, privateKey: i.privateKey, reset: i.reset, digest: bootDigest(i.files, i.start), hostKeySeen: `ssh-ed25519 ${access.hostKey}` });

test('the digest is stable and covers files and start; the diff: nothing, an update, a replacement', () => {
  const d = bootDigest(files, inputs.start);
  assert.match(d, /^sha256:[0-9a-f]{64}$/);
  assert.equal(bootDigest(files.map((f) => ({ ...f })), [['systemctl', 'start', '--no-block', 'native6-boot.service']]), d);
  assert.notEqual(bootDigest(files, [['true']]), d);
  assert.notEqual(bootDigest([{ ...files[0]!, mode: '0644' }, ...files.slice(1)], inputs.start), d);
  const olds = outputs(inputs);
  assert.deepEqual(machineDiff(olds, inputs), { changes: false, replaces: [], deleteBeforeReplace: true, changed: [] });
  assert.deepEqual(machineDiff(olds, { ...inputs, ssh: { ...access } }).changes, false, 'the same access, another object');
  const content = machineDiff(olds, { ...inputs, files: [{ ...files[0]!, content: 'new' }, ...files.slice(1)] });
  assert.deepEqual([content.changes, content.replaces, content.changed], [true, [], ['files']]);
  assert.deepEqual(machineDiff(olds, { ...inputs, ssh: { ...access, port: 22 } }).changed, ['ssh']);
  assert.deepEqual(machineDiff(olds, { ...inputs, privateKey: 'other' }).changed, ['privateKey']);
  const renamed = machineDiff(olds, { ...inputs, machine: 'dfw-w-2' });
  assert.deepEqual([renamed.changes, renamed.replaces], [true, ['machine']]);
  assert.ok(!JSON.stringify(olds).includes('c2VjcmV0IGtleSBtYXRlcmlhbA'), 'no content in the outputs');
});

test('masking: the key and every file content, whole, by line and as base64', () => {
  const fragments = secretFragments(inputs.privateKey, files);
  const text = `x ${inputs.privateKey} y c2VjcmV0IGtleSBtYXRlcmlhbA== z ${Buffer.from(files[0]!.content).toString('base64').slice(0, 76)}`;
  const out = redact(text, fragments);
  assert.ok(!out.includes('c2VjcmV0') && !out.includes('b3BlbnNzaC1rZXkt') && out.includes('[redacted]'), out);
});

/** Fake ssh-keyscan and ssh: the scan offers the pinned key; ssh notes its key file's mode, echoes what it is fed to stderr, then `stderrLead`, and exits with `code`. */
function fakes(dir: string, code: number, stderrLead: string): { ssh: string; sshKeyscan: string; keyFiles: string } {
  const keyFiles = join(dir, 'key-files');
  const sshKeyscan = join(dir, 'ssh-keyscan');
  writeFileSync(sshKeyscan, `#!/bin/sh\necho '${scan.split('\n')[2]}'\n`);
  const ssh = join(dir, 'ssh');
  writeFileSync(ssh, `#!/bin/bash\nprev=; for a in "$@"; do [ "$prev" = -i ] && stat -c '%a %n' "$a" >> ${keyFiles}; prev=$a; done\ncat >&2\necho '${stderrLead}' >&2\nexit ${code}\n`);
  chmodSync(sshKeyscan, 0o755);
  chmodSync(ssh, 0o755);
  return { ssh, sshKeyscan, keyFiles };
}

test('no secret in any error: a failed install, a refused login, a failed reset', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'n6-fake-ssh-'));
  try {
    const secretBits = ['c2VjcmV0IGtleSBtYXRlcmlhbA', 'b3BlbnNzaC1rZXktdjEAAAAAc2VjcmV0', 'BEGIN PRIVATE KEY', Buffer.from(files[0]!.content).toString('base64').slice(0, 40)];
    const clean = (e: unknown) => {
      const m = String((e as Error).message);
      for (const s of secretBits) assert.ok(!m.includes(s), `${s} in: ${m}`);
      return m;
    };
    const failed = fakes(dir, 1, 'native6-ssh: failed (exit 1): base64 -d');
    const m1 = await createMachine(inputs, { ...failed, connectTries: { attempts: 1, initialMs: 1, maxMs: 1 } }).then(() => assert.fail('created'), clean);
    assert.match(m1, /dfw-w-1: installing the bootstrap failed \(exit 1\)/);
    const [mode, keyFile] = readFileSync(failed.keyFiles, 'utf8').trim().split(' ');
    assert.equal(mode, '600');
    assert.equal(existsSync(keyFile!), false, 'the key file is removed');
    const refused = fakes(dir, 255, 'root@2001:db8::5: Permission denied (publickey).');
    const m2 = await createMachine(inputs, { ...refused, connectTries: { attempts: 3, initialMs: 1, maxMs: 1 } }).then(() => assert.fail('created'), clean);
    assert.match(m2, /Permission denied.*Fix: the machine's root must accept the key/s);
    const lines: string[] = [];
    const m3 = await deleteMachine(outputs(inputs), { ...fakes(dir, SOME_FAILED, 'native6-ssh: command failed (exit 1): kubeadm reset -f'), log: (l) => lines.push(l) }).then(() => assert.fail('deleted'), clean);
    assert.match(m3, /dfw-w-1: reset: command failed \(exit 1\): kubeadm reset -f/);
    lines.forEach(clean);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
