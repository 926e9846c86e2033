/**
 * The metal platform's SSH transport against a real sshd (OpenSSH's, from
 * openssh-server): a network namespace made here (n6-it-ssh-<pid>) with a
 * documentation address on its loopback, an sshd with an ed25519 and an rsa
 * host key, root's login by this test's key only. The client's ssh and
 * ssh-keyscan run in the namespace (wrappers: `ip netns exec`).
 *
 * The dynamic provider's work, called directly: a wrong host key is refused
 * before anything is written (no file landed); create puts the files in
 * place with their modes and content and runs the start commands (a marker
 * file, not systemctl); the same inputs are no change; changed content is
 * an update that installs and starts again; a changed pin only checks the
 * key; delete deregisters (its failure reported, not fatal), then resets;
 * with sshd away for a moment (a machine rebooting) the connection is
 * tried again until it answers.
 * Then the real Pulumi CLI with a file backend and a tiny program (the key
 * from the secret config native6:sshPrivateKey): up creates, a second up
 * touches nothing, neither the key nor a file's content is in the state in
 * clear, destroy resets. The namespace and every process in it are removed
 * whatever happens, and checked gone.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fingerprint, machineDiff, type MachineInputs } from '../../lib/platforms/metal/ssh.js';
import { createMachine, deleteMachine, updateMachine, type SessionOptions } from '../../lib/platforms/metal/session.js';
import { HostKeyMismatchError } from '../../lib/platforms/metal/ssh.js';
import { pulumiBinary } from '../../lib/toolchain/pulumi.js';
import { REPO_DIR } from '../../lib/toolchain/repo.js';
import { need, needProgram, needRoot } from '../prerequisites.js';

const NS = `n6-it-ssh-${process.pid}`;
const ADDRESS = '2001:db8:ff::2';
const PORT = 2222;
const PROVIDE = 'npm run setup -- debian: (openssh-server, openssh-client)';

const ip = (...args: string[]) => execFileSync('ip', args, { encoding: 'utf8' });
const netnsList = () => ip('netns', 'list');
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

function pubOf(file: string): { blob: string; line: string } {
  const line = readFileSync(`${file}.pub`, 'utf8').trim();
  return { blob: line.split(' ')[1]!, line };
}

/** sshd in its namespace: -D (not detached), -e (its log on stderr); resolved once it listens. */
async function startSshd(sshd: string, config: string, log: string[]): Promise<ChildProcess> {
  const child = spawn('ip', ['netns', 'exec', NS, sshd, '-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sshd did not listen within 10 s:\n${log.join('')}`)), 10_000);
    child.stderr!.on('data', (d: Buffer) => {
      log.push(d.toString());
      if (log.join('').includes('Server listening on')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`sshd exited (${code}):\n${log.join('')}`));
    });
  });
  return child;
}

test('the SSH transport against a real sshd: host key pinned, files installed, no change, update, deregister then reset; and through the Pulumi CLI', { timeout: 600_000 }, async () => {
  needRoot();
  const sshd = needProgram('sshd', PROVIDE, ['/usr/sbin']);
  const keygen = needProgram('ssh-keygen', PROVIDE);
  const ssh = needProgram('ssh', PROVIDE);
  const keyscan = needProgram('ssh-keyscan', PROVIDE);
  need(pulumiBinary(join(REPO_DIR, '.cache')), 'npm run setup -- bin:pulumi');

  const work = mkdtempSync(join(tmpdir(), 'n6-it-ssh-'));
  const sshdLog: string[] = [];
  let daemon: ChildProcess | undefined;
  const madeRunSshd = !existsSync('/run/sshd');
  try {
    // Keys: the server's two host keys, the operator's key.
    const hostEd = join(work, 'host_ed25519');
    const hostRsa = join(work, 'host_rsa');
    const client = join(work, 'client');
    execFileSync(keygen, ['-q', '-t', 'ed25519', '-N', '', '-f', hostEd]);
    execFileSync(keygen, ['-q', '-t', 'rsa', '-b', '3072', '-N', '', '-f', hostRsa]);
    execFileSync(keygen, ['-q', '-t', 'ed25519', '-N', '', '-C', 'operator', '-f', client]);
    const privateKey = readFileSync(client, 'utf8');
    writeFileSync(join(work, 'authorized_keys'), `${pubOf(client).line}\n`, { mode: 0o600 });
    const config = join(work, 'sshd_config');
    writeFileSync(
      config,
      [`Port ${PORT}`, `ListenAddress ${ADDRESS}`, `HostKey ${hostEd}`, `HostKey ${hostRsa}`, `PidFile ${join(work, 'sshd.pid')}`, `AuthorizedKeysFile ${join(work, 'authorized_keys')}`, 'PermitRootLogin prohibit-password', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'UsePAM no', 'StrictModes no', 'LogLevel VERBOSE', ''].join('\n'),
    );
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });

    ip('netns', 'add', NS);
    ip('-n', NS, 'link', 'set', 'lo', 'up');
    ip('-n', NS, 'addr', 'add', `${ADDRESS}/64`, 'dev', 'lo');
    daemon = await startSshd(sshd, config, sshdLog);

    // The client runs in the namespace too.
    const bin = join(work, 'bin');
    mkdirSync(bin);
    for (const [name, program] of [['ssh', ssh], ['ssh-keyscan', keyscan]] as const) {
      writeFileSync(join(bin, name), `#!/bin/sh\nexec ip netns exec ${NS} ${program} "$@"\n`);
      chmodSync(join(bin, name), 0o755);
    }
    const logLines: string[] = [];
    const options: SessionOptions = { ssh: join(bin, 'ssh'), sshKeyscan: join(bin, 'ssh-keyscan'), connectTries: { attempts: 3, initialMs: 500, maxMs: 1000 }, log: (l) => logLines.push(l) };

    const root = join(work, 'machine');
    const events = join(work, 'events');
    const files = [
      { path: join(root, 'etc/native6/pki/ca.key'), mode: '0600', content: '-----BEGIN PRIVATE KEY-----\nTUFURVJJQUwtT0YtVEhFLUNBLUtFWQ==\n-----END PRIVATE KEY-----\n' },
      { path: join(root, 'etc/systemd/system/native6-boot.service'), mode: '0644', content: "[Service]\nExecStart=/usr/local/sbin/native6-boot 'quoted' $dollar\n" },
      { path: join(root, 'usr/local/sbin/native6-boot'), mode: '0700', content: '#!/bin/bash\necho boot\n' },
    ];
    const rsaPin = fingerprint(pubOf(hostRsa).blob);
    const edPin = fingerprint(pubOf(hostEd).blob);
    const access = { host: ADDRESS, port: PORT, user: 'root', hostKey: rsaPin };
    const inputs: MachineInputs = {
      machine: 'it-w-1',
      ssh: access,
      privateKey,
      files,
      start: [['sh', '-c', `echo start >> ${events}`]],
      reset: [['sh', '-c', `echo reset >> ${events}`], ['rm', '-rf', root]],
      deregister: { ssh: { ...access, hostKey: edPin }, commands: [['sh', '-c', `echo deregister >> ${events}`], ['false']] },
    };
    const eventLines = () => (existsSync(events) ? readFileSync(events, 'utf8').trim().split('\n') : []);

    // A wrong pin: refused before anything is sent.
    const wrong = fingerprint(pubOf(client).blob);
    await assert.rejects(createMachine({ ...inputs, ssh: { ...access, hostKey: wrong } }, options), (e: Error) => {
      assert.ok(e instanceof HostKeyMismatchError, e.message);
      for (const s of ['it-w-1', ADDRESS, wrong, rsaPin, edPin]) assert.ok(e.message.includes(s), `${s} in: ${e.message}`);
      return true;
    });
    assert.equal(existsSync(root), false, 'no file landed');
    assert.deepEqual(eventLines(), [], 'no start command ran');

    // Create: the files, their modes, the start commands; the rsa key pinned though the server prefers ed25519.
    const made = await createMachine(inputs, options);
    assert.equal(made.hostKeySeen, `ssh-rsa ${rsaPin}`);
    assert.match(made.digest, /^sha256:[0-9a-f]{64}$/);
    for (const f of files) {
      assert.equal(readFileSync(f.path, 'utf8'), f.content, f.path);
      const st = statSync(f.path);
      assert.equal((st.mode & 0o777).toString(8).padStart(4, '0'), f.mode, f.path);
      assert.equal(st.uid, 0);
    }
    assert.deepEqual(eventLines(), ['start']);
    assert.ok(!JSON.stringify({ ...made, privateKey: '' }).includes('TUFURVJJQUwt'), 'no content in the outputs');

    // The same inputs: no change. Changed content: an update that installs and starts again.
    assert.equal(machineDiff(made, inputs).changes, false);
    const changed = { ...inputs, files: [{ ...files[0]!, content: 'rotated\n' }, ...files.slice(1)] };
    assert.deepEqual(machineDiff(made, changed).changed, ['files']);
    const updated = await updateMachine(made, changed, options);
    assert.equal(readFileSync(files[0]!.path, 'utf8'), 'rotated\n');
    assert.notEqual(updated.digest, made.digest);
    assert.deepEqual(eventLines(), ['start', 'start']);
    // Another pin, same files: only the key checked, nothing installed or started.
    const repinned = { ...changed, ssh: { ...access, hostKey: edPin } };
    assert.deepEqual(machineDiff(updated, repinned).changed, ['ssh']);
    const checked = await updateMachine(updated, repinned, options);
    assert.equal(checked.hostKeySeen, `ssh-ed25519 ${edPin}`);
    assert.deepEqual(eventLines(), ['start', 'start']);

    // Delete: deregister on the control plane (one command fails: reported), then the reset.
    const report = await deleteMachine(checked, options);
    assert.deepEqual(eventLines(), ['start', 'start', 'deregister', 'reset']);
    assert.equal(report.warnings.length, 1);
    assert.match(report.warnings[0]!, /it-w-1: deregistering on .* command failed \(exit 1\): false/);
    assert.equal(existsSync(root), false, 'the reset ran');
    for (const l of logLines) assert.ok(!l.includes('TUFURVJJQUwt') && !l.includes('PRIVATE KEY'), l);

    // A machine rebooting: sshd away, back 1.5 s later; the connection is tried again until it answers.
    const stopped = new Promise((r) => daemon!.once('exit', r));
    daemon.kill('SIGTERM');
    await stopped;
    const back = new Promise((r) => setTimeout(r, 1500)).then(async () => (daemon = await startSshd(sshd, config, sshdLog)));
    const rebooted = await createMachine({ ...inputs, deregister: undefined }, { ...options, connectTries: { attempts: 8, initialMs: 400, maxMs: 1000 } });
    await back;
    assert.equal(rebooted.hostKeySeen, `ssh-rsa ${rsaPin}`);
    assert.ok(logLines.some((l) => /scanning the host keys of it-w-1 .*: attempt 1\/8 failed/.test(l)), logLines.join('\n'));
    await deleteMachine(rebooted, options);

    // Through the Pulumi CLI: up, a second up touches nothing, destroy resets.
    rmSync(events, { force: true });
    const { openStack } = await import('../../lib/pulumi/stack.js');
    const { MetalMachine } = await import('../../lib/platforms/metal/machine.js');
    const pulumi = await import('@pulumi/pulumi');
    const program = async () => {
      const key = new pulumi.Config('native6').requireSecret('sshPrivateKey');
      const m = new MetalMachine('it-w-1', { machine: inputs.machine, ssh: access, privateKey: key, files, start: inputs.start, reset: inputs.reset });
      return { digest: m.digest, hostKeySeen: m.hostKeySeen };
    };
    const state = join(work, 'state');
    const stack = await openStack({ repoRoot: REPO_DIR, specFile: 'infra/it.yaml', stackName: 'metal-ssh', backendUrl: `file://${state}`, passphrase: 'metal-ssh', pulumiHome: join(work, 'home'), workDir: join(work, 'ws'), program, env: { PATH: `${bin}:${process.env.PATH ?? ''}` } });
    await stack.setConfig('native6:sshPrivateKey', { value: privateKey, secret: true });
    const first = await stack.up({ color: 'never' });
    assert.deepEqual(first.summary.resourceChanges, { create: 2 }, first.stdout);
    assert.equal(first.outputs.hostKeySeen!.value, `ssh-rsa ${rsaPin}`);
    assert.deepEqual(eventLines(), ['start']);
    const second = await stack.up({ color: 'never' });
    assert.deepEqual(second.summary.resourceChanges, { same: 2 }, second.stdout);
    assert.deepEqual(eventLines(), ['start'], 'the second up ran nothing on the machine');
    // The checkpoint as the backend keeps it (exportStack would show the secrets: --show-secrets).
    const exported = readFileSync(join(state, '.pulumi', 'stacks', 'native6', 'metal-ssh.json'), 'utf8');
    assert.ok(exported.includes('"ciphertext"'), 'secrets encrypted');
    const keyBody = privateKey.split('\n')[1]!;
    for (const s of [keyBody, 'TUFURVJJQUwt', 'quoted']) assert.ok(!exported.includes(s), `${s.slice(0, 12)}… in clear in the state, after: ${exported.slice(Math.max(0, exported.indexOf(s) - 300), exported.indexOf(s))}`);
    assert.ok(exported.includes('pulumi-nodejs:dynamic/native6-metal:Machine'));
    await stack.destroy({ color: 'never' });
    assert.deepEqual(eventLines(), ['start', 'reset']);
    assert.equal(existsSync(root), false);
    await stack.workspace.removeStack('metal-ssh');
  } finally {
    if (daemon?.pid) daemon.kill('SIGTERM');
    if (netnsList().includes(NS)) {
      // Whatever still runs in the namespace (sshd's sessions) is this test's.
      const pids = ip('netns', 'pids', NS).split('\n').filter(Boolean).map(Number);
      for (const pid of pids) process.kill(pid, 'SIGKILL');
      ip('netns', 'del', NS);
    }
    if (madeRunSshd) rmSync('/run/sshd', { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  }
  assert.ok(!netnsList().includes(NS), `${NS} is left`);
  assert.ok(!daemon?.pid || !alive(daemon.pid) || (await new Promise((r) => setTimeout(r, 500)).then(() => !alive(daemon!.pid!))), 'sshd is left running');
});
