/**
 * A lab machine's sshd (lib/platforms/lab/machine/sshd.ts) against Debian's
 * OpenSSH: a machine made here, network namespace n6-sshdt-m1 (its
 * loopback holding 2001:db8:ff5::11/64) and its mount namespace
 * (ensureMachineMounts, its folders in a temporary folder). The client's
 * ssh and ssh-keyscan run in the namespace too (the host has no route to
 * it), with a known_hosts written from the host key this test read off the
 * machine's disk. Shown: root logs in with the operator's key; the
 * fingerprint returned is the one ssh-keyscan sees (and ssh-keygen -lf
 * prints), the only key offered (not the host's own keys); commands run
 * over SSH get the lab's PATH from sshd (SetEnv) and find its systemctl; a file written over SSH into /etc
 * lands on the machine's disk, not on the host's /etc; the privilege
 * separation folder is on the machine's /run; a second call starts nothing;
 * after sshd is killed (a power cut) it starts again with the same key
 * (called from another process, which exits: the sshd outlives it); a
 * changed port restarts it; another key is refused. Every process,
 * namespace and mount made is removed whatever happens, and checked gone.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { createRunner, type RunResult } from '../../lib/exec/run.js';
import { LAB_PATH, LAB_SBIN } from '../../lib/platforms/lab/kubernetes/boot.js';
import { diskPath, ensureMachineMounts, mountNamespacePids, mountNsFile, releaseMachineMounts, releaseMountNsDir, removeCreatedMountpoints, runOnMachine } from '../../lib/platforms/lab/machine/machine.js';
import { processAlive } from '../../lib/platforms/lab/machine/process.js';
import { ensureMachineSshd, SSHD_DIR, SSHD_HOST_KEY, SSHD_SESSION_HOME, stopMachineSshd, type SshdStatus } from '../../lib/platforms/lab/machine/sshd.js';
import { fingerprint, parseKeyscan, sshOptions } from '../../lib/platforms/metal/ssh.js';
import { needProgram, needRoot } from '../prerequisites.js';

const NS = 'n6-sshdt-m1';
const ADDRESS = '2001:db8:ff5::11';
const PROBE = '/etc/n6-sshdt-probe';
const PROVIDE = 'npm run setup -- debian: (openssh-server, openssh-client)';

const ip = (...args: string[]) => execFileSync('ip', args, { encoding: 'utf8' });
const netnsList = () => ip('netns', 'list');
const wait = (ms: number) => new Promise((res) => setTimeout(res, ms));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** ensureMachineSshd run by another node process, which exits once it returns. */
function ensureInAnotherProcess(options: { authorizedKeys: string; path: string; logFile: string }): SshdStatus {
  const module = pathToFileURL(join(ROOT, 'lib/platforms/lab/machine/sshd.ts')).href;
  const runner = pathToFileURL(join(ROOT, 'lib/exec/run.ts')).href;
  const code = [
    `const { ensureMachineSshd } = await import(${JSON.stringify(module)});`,
    `const { createRunner } = await import(${JSON.stringify(runner)});`,
    `const status = await ensureMachineSshd(createRunner(), { ns: ${JSON.stringify(NS)}, name: 'sshdt-m1' }, JSON.parse(process.env.N6_SSHDT_OPTIONS));`,
    'process.stdout.write(JSON.stringify(status));',
  ].join('\n');
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, N6_SSHDT_OPTIONS: JSON.stringify(options) }, timeout: 60_000 });
  return JSON.parse(out) as SshdStatus;
}

test('a lab machine runs its own sshd: its key on its disk, root by the operator key only, the lab PATH, idempotent, back with the same key after a power cut', { timeout: 180_000 }, async () => {
  needRoot();
  needProgram('sshd', PROVIDE, ['/usr/sbin']);
  const ssh = needProgram('ssh', PROVIDE);
  const keyscan = needProgram('ssh-keyscan', PROVIDE);
  const keygen = needProgram('ssh-keygen', PROVIDE);
  needProgram('nsenter', 'apt-get install util-linux');
  assert.ok(!netnsList().split('\n').some((l) => l.split(' ')[0] === NS), `${NS} exists already (left by an earlier run?): remove it with \`ip netns del ${NS}\` after killing its processes (ip netns pids ${NS})`);
  assert.ok(!existsSync(mountNsFile(NS)), `${mountNsFile(NS)} exists already (left by an earlier run?): umount it and remove it`);

  const work = mkdtempSync(join(tmpdir(), 'n6-sshdt-'));
  const r = createRunner();
  const root = join(work, 'm1', 'root');
  const stateRoot = join(work, 'state');
  const machine = { ns: NS, name: 'sshdt-m1' };
  const logFile = join(work, 'sshd.log');
  const seenPids = new Set<number>();
  try {
    ip('netns', 'add', NS);
    ip('-n', NS, 'link', 'set', 'lo', 'up');
    // On the loopback (this kernel may have no dummy links).
    ip('-n', NS, 'addr', 'add', `${ADDRESS}/64`, 'dev', 'lo');
    await ensureMachineMounts(r, NS, root, stateRoot);

    // The operator's key, and another.
    const operator = join(work, 'operator');
    const stranger = join(work, 'stranger');
    execFileSync(keygen, ['-q', '-t', 'ed25519', '-N', '', '-C', 'operator', '-f', operator]);
    execFileSync(keygen, ['-q', '-t', 'ed25519', '-N', '', '-C', 'stranger', '-f', stranger]);
    const authorizedKeys = readFileSync(`${operator}.pub`, 'utf8');
    const options = { authorizedKeys, path: LAB_PATH, logFile };

    const first = await ensureMachineSshd(r, machine, options);
    seenPids.add(first.pid);
    assert.equal(first.started, true);
    assert.ok(processAlive(first.pid), 'sshd runs');
    assert.match(first.fingerprint, /^SHA256:[A-Za-z0-9+/]{43}$/);

    // The host key, read off the machine's disk (not the host's /etc).
    const pubFile = diskPath(root, `${SSHD_HOST_KEY}.pub`);
    const [type, blob] = readFileSync(pubFile, 'utf8').trim().split(/\s+/);
    assert.equal(type, 'ssh-ed25519');
    assert.equal(fingerprint(blob!), first.fingerprint);
    assert.equal(execFileSync(keygen, ['-lf', pubFile], { encoding: 'utf8' }).split(' ')[1], first.fingerprint, 'as ssh-keygen -lf prints it');
    assert.ok(existsSync(diskPath(root, SSHD_HOST_KEY)), 'the private host key is on the disk');
    assert.ok(!existsSync(SSHD_DIR), `${SSHD_DIR} reached the host's /etc`);
    const knownHosts = join(work, 'known_hosts');
    writeFileSync(knownHosts, `${ADDRESS} ${type} ${blob}\n`);

    // ssh-keyscan sees that key, and only it: the host's own host keys are not offered.
    const scan = await r.run(keyscan, ['-T', '5', '-p', '22', ADDRESS], { ns: NS, allowFail: true });
    const scanned = parseKeyscan(scan.stdout);
    assert.deepEqual(scanned.map((k) => `${k.type} ${k.fingerprint}`), [`ssh-ed25519 ${first.fingerprint}`], scan.stderr);

    const sshAs = (key: string, command: string, port = 22): Promise<RunResult> =>
      r.run(ssh, [...sshOptions({ keyFile: key, knownHosts }, 5), '-p', String(port), '--', `root@${ADDRESS}`, command], { ns: NS, allowFail: true, timeoutMs: 20_000 });
    const sshOk = async (command: string, port = 22): Promise<string> => {
      const res = await sshAs(operator, command, port);
      assert.equal(res.code, 0, `ssh ${command}: ${res.stderr}\nsshd's log:\n${existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''}`);
      return res.stdout.trim();
    };

    assert.equal(await sshOk('id -u'), '0', 'root logs in with the operator key');
    assert.equal(await sshOk('command -v systemctl'), join(LAB_SBIN, 'systemctl'), 'the lab PATH reaches a command run over SSH');
    // The session's own environment, as sshd made it (before root's shell read any rc file): SetEnv's PATH, whole.
    assert.equal(await sshOk(`tr '\\0' '\\n' < /proc/$$/environ | grep '^PATH='`), `PATH=${LAB_PATH}`);
    // root's home in a session is on the machine's disk, not the host's /root: no host ~/.bashrc, no file of ours under the host's ~.
    assert.equal(await sshOk('echo "$HOME"'), SSHD_SESSION_HOME);
    assert.equal(await sshOk('echo "$PATH"'), LAB_PATH, "no rc file of the host's put folders before the lab's");
    await sshOk('mkdir -p ~/.kube/cache && touch ~/.kube/cache/n6-sshdt-mark');
    assert.ok(existsSync(diskPath(root, `${SSHD_SESSION_HOME}/.kube/cache/n6-sshdt-mark`)), 'written under ~ lands on the machine\'s disk');
    assert.ok(!existsSync('/root/.kube/cache/n6-sshdt-mark'), "and not in the host's /root");

    // A file written over SSH into /etc: on the machine's disk, not on the host.
    await sshOk(`echo written-over-ssh > ${PROBE}`);
    assert.equal(readFileSync(diskPath(root, PROBE), 'utf8'), 'written-over-ssh\n');
    assert.ok(!existsSync(PROBE), `${PROBE} reached the host's /etc`);

    // The privilege-separation folder: on the machine's own /run (its tmpfs).
    const privsep = await runOnMachine(r, NS, 'findmnt', ['-n', '-o', 'FSTYPE,SOURCE', '-T', '/run/sshd']);
    assert.deepEqual(privsep.stdout.trim().split(/\s+/), ['tmpfs', `n6-${NS}`]);

    // Again: nothing started.
    const second = await ensureMachineSshd(r, machine, options);
    assert.deepEqual(second, { started: false, fingerprint: first.fingerprint, pid: first.pid });

    // A power cut: sshd killed; it starts again with the key the disk kept.
    process.kill(first.pid, 'SIGKILL');
    for (let i = 0; i < 50 && processAlive(first.pid); i++) await wait(100);
    assert.ok(!processAlive(first.pid), 'sshd killed');
    // Called from a process that exits at once: the sshd it starts outlives it.
    const third = await ensureInAnotherProcess(options);
    assert.ok(processAlive(third.pid), 'sshd outlived the process that started it');
    seenPids.add(third.pid);
    assert.equal(third.started, true);
    assert.equal(third.fingerprint, first.fingerprint, 'the same host key after the power cut');
    assert.notEqual(third.pid, first.pid);
    assert.equal(await sshOk('cat /etc/n6-sshdt-probe'), 'written-over-ssh', 'StrictHostKeyChecking passes with the known_hosts written before');

    // Another key: refused.
    const refused = await sshAs(stranger, 'true');
    assert.equal(refused.code, 255, refused.stderr);
    assert.match(refused.stderr, /Permission denied \(publickey\)/);

    // A changed config (another port): the running sshd stopped, a new one started, the same key.
    const moved = await ensureMachineSshd(r, machine, { ...options, port: 2222 });
    seenPids.add(moved.pid);
    assert.equal(moved.started, true);
    assert.equal(moved.fingerprint, first.fingerprint);
    assert.ok(!processAlive(third.pid), 'the sshd of the old config is stopped');
    writeFileSync(knownHosts, `[${ADDRESS}]:2222 ${type} ${blob}\n`);
    assert.equal(await sshOk('id -u', 2222), '0');
    assert.equal(await stopMachineSshd(r, machine), true);
    assert.ok(!processAlive(moved.pid), 'stopMachineSshd stopped it');
    assert.equal(await stopMachineSshd(r, machine), false, 'nothing left to stop');
  } finally {
    // Everything in the machine's mount namespace or its network namespace is this test's.
    const pids = new Set<number>(mountNamespacePids(NS));
    if (netnsList().split('\n').some((l) => l.split(' ')[0] === NS)) for (const p of ip('netns', 'pids', NS).split('\n').filter(Boolean)) pids.add(Number(p));
    for (const pid of pids) {
      seenPids.add(pid);
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    for (let i = 0; i < 50 && [...pids].some(processAlive); i++) await wait(100);
    await releaseMachineMounts(r, NS);
    await releaseMountNsDir(r);
    removeCreatedMountpoints(stateRoot);
    if (netnsList().split('\n').some((l) => l.split(' ')[0] === NS)) ip('netns', 'del', NS);
    rmSync(work, { recursive: true, force: true });
  }
  assert.ok(!netnsList().split('\n').some((l) => l.split(' ')[0] === NS), `${NS} is left`);
  assert.ok(!existsSync(mountNsFile(NS)), `${mountNsFile(NS)} is left`);
  assert.deepEqual([...seenPids].filter(processAlive), [], 'processes of the test are left');
  assert.ok(!existsSync(PROBE) && !existsSync(SSHD_DIR), 'the host /etc was written to');
});
