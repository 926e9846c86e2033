/**
 * An OpenSSH server on a lab machine, so that the lab bootstraps its
 * machines over SSH as a user's own machines are (lib/platforms/metal).
 * Debian's /usr/sbin/sshd runs ON the machine (nsenter into its network
 * and mount namespaces), detached from the caller, its log appended to a
 * file. Everything it reads is on the machine's disk, under SSHD_DIR
 * (/etc/ssh/native6-lab: written through the machine's mount namespace, so
 * it lands on the disk's overlay, never on the host's /etc): its own
 * ed25519 host key (made once, kept across power cycles as a real
 * machine's is), its sshd_config and the operator's authorized_keys. The
 * host's own /etc/ssh host keys, visible through the overlay's lower layer,
 * are not used (HostKey names only the machine's). Its privilege-separation
 * folder (/run/sshd) and its pid file are on the machine's /run (a tmpfs of
 * its own, gone at a power cut as a real machine's /run is).
 *
 * PATH: sshd applies the config's `SetEnv PATH=...` after its default PATH,
 * so the session starts with exactly that PATH and a non-interactive
 * `ssh root@machine 'command -v systemctl'` finds the lab's shim (checked in
 * test/integration/labSshd.test.ts, /proc/$$/environ included). HOME too:
 * root's home in passwd is /root, the host's (not one of the machine's disk
 * folders), so a session's HOME is SSHD_SESSION_HOME on the machine's disk:
 * what a command writes under ~ (kubectl's cache) stays on the machine, and
 * the ~/.bashrc Debian's bash reads for a command run by sshd is the
 * machine's (none), not the host's (which may put folders before the lab's).
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import type { Runner } from '../../../exec/run.js';
import { fingerprint } from '../../metal/ssh.js';
import { mountNsFile, onMachine, runOnMachine } from './machine.js';
import { processAlive, signal } from './process.js';

/** OpenSSH's server, as Debian's openssh-server installs it. */
export const SSHD = '/usr/sbin/sshd';
/** OpenSSH's key tool, from openssh-client. */
export const SSH_KEYGEN = '/usr/bin/ssh-keygen';
/** The machine's sshd files, on its disk. */
export const SSHD_DIR = '/etc/ssh/native6-lab';
/** The machine's sshd host key (private; its public half beside it, `.pub`). */
export const SSHD_HOST_KEY = `${SSHD_DIR}/ssh_host_ed25519_key`;
/** The machine's sshd_config. */
export const SSHD_CONFIG = `${SSHD_DIR}/sshd_config`;
/** The public keys allowed to log in as root. */
export const SSHD_AUTHORIZED_KEYS = `${SSHD_DIR}/authorized_keys`;
/** sshd's pid file, on the machine's /run. */
export const SSHD_PID_FILE = '/run/native6-lab/sshd.pid';
/**
 * root's home in a session: on the machine's disk. root's home in passwd is /root, which is the
 * host's (not one of the machine's disk folders): what a command writes under ~ (kubectl's cache)
 * and the ~/.bashrc bash reads for a command over SSH would be the host's.
 */
export const SSHD_SESSION_HOME = '/var/lib/native6-lab/root';
/** sshd's privilege-separation folder (compiled into Debian's sshd), on the machine's /run. */
export const SSHD_PRIVSEP_DIR = '/run/sshd';

/** A lab machine as this file needs it: its network namespace (also its mount namespace's name) and its name. */
export interface SshdMachine {
  readonly ns: string;
  readonly name: string;
}

/** What ensureMachineSshd is given. */
export interface SshdOptions {
  /** The operator's public key line(s), as in an authorized_keys file. */
  readonly authorizedKeys: string;
  /** PATH of the commands run over SSH (the lab's programs first). */
  readonly path: string;
  /** The host file sshd's log (stderr) is appended to. */
  readonly logFile: string;
  /** 22 unless given. */
  readonly port?: number;
}

/** What ensureMachineSshd did: whether it started an sshd, the host key's fingerprint (`SHA256:...`), the sshd's pid. */
export interface SshdStatus {
  readonly started: boolean;
  readonly fingerprint: string;
  readonly pid: number;
}

const READY_MS = 10_000;
const STOP_MS = 5_000;
/** sshd's own environment: nothing of the caller's (the sessions get theirs from the config). */
const SSHD_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' };

/** The sshd_config of a lab machine. */
export function sshdConfig(port: number, path: string): string {
  return [
    '# The lab machine\'s sshd (lib/platforms/lab/machine/sshd.ts): rewritten by the lab.',
    `Port ${port}`,
    'AddressFamily any',
    'ListenAddress ::',
    'ListenAddress 0.0.0.0',
    `HostKey ${SSHD_HOST_KEY}`,
    `PidFile ${SSHD_PID_FILE}`,
    `AuthorizedKeysFile ${SSHD_AUTHORIZED_KEYS}`,
    'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'PermitUserEnvironment no',
    'X11Forwarding no',
    'PrintMotd no',
    'StrictModes yes',
    `SetEnv PATH=${path} HOME=${SSHD_SESSION_HOME}`,
    'Subsystem sftp /usr/lib/openssh/sftp-server',
    '',
  ].join('\n');
}

function check(machine: SshdMachine, options: SshdOptions): number {
  const port = options.port ?? 22;
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new Error(`${machine.name}: sshd port ${port} is not a port (1-65535)`);
  if (!/^\/[^\s"'\\#:]*(?::\/[^\s"'\\#:]*)*$/.test(options.path)) {
    throw new Error(`${machine.name}: the PATH for sshd "${options.path}" is not a colon-separated list of absolute folders without spaces or quotes: give one such as lib/platforms/lab/kubernetes/boot.ts LAB_PATH`);
  }
  // Never echo the keys: a private key pasted here must not reach a log.
  if (/PRIVATE KEY/.test(options.authorizedKeys)) throw new Error(`${machine.name}: authorizedKeys holds a private key: give the public key line(s) (the .pub file) instead`);
  const lines = options.authorizedKeys.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  if (lines.length === 0) throw new Error(`${machine.name}: authorizedKeys holds no key: give the operator's public key line (ssh-ed25519 AAAA...)`);
  lines.forEach((l, i) => {
    if (!/(^|\s)(ssh-|ecdsa-|sk-)[A-Za-z0-9@.-]+\s+AAAA[A-Za-z0-9+/]+={0,2}(\s|$)/.test(l)) throw new Error(`${machine.name}: authorizedKeys line ${i + 1} is not a public key line (<type> AAAA... [comment])`);
  });
  for (const [program, pkg] of [[SSHD, 'openssh-server'], [SSH_KEYGEN, 'openssh-client']] as const) {
    if (!existsSync(program)) throw new Error(`${program} is missing (Debian's ${pkg}), so lab machine ${machine.name} cannot run an sshd: run \`npm run setup\`, which installs it`);
  }
  return port;
}

/** Writes a file on the machine (through its mount namespace, so onto its disk or its /run), atomically; the content goes on stdin, never on a command line. */
async function writeOnMachine(r: Runner, ns: string, path: string, mode: string, content: string): Promise<void> {
  const script = 'umask 077 && mkdir -p "${1%/*}" && cat > "$1.tmp" && chmod "$2" "$1.tmp" && mv -f "$1.tmp" "$1"';
  await runOnMachine(r, ns, 'sh', ['-c', script, 'sh', path, mode], { input: content });
}

/** A file of the machine's, or undefined when absent (never one holding a secret). */
async function readOnMachine(r: Runner, ns: string, path: string): Promise<string | undefined> {
  const res = await runOnMachine(r, ns, 'sh', ['-c', '[ -f "$1" ] && cat "$1"', 'sh', path], { allowFail: true });
  return res.code === 0 ? res.stdout : undefined;
}

/** The host key's public line: the key made with ssh-keygen on the machine the first time, kept after. */
async function ensureHostKey(r: Runner, machine: SshdMachine): Promise<string> {
  const script = [
    'set -e',
    `mkdir -p -m 0755 ${SSHD_DIR}`,
    `mkdir -p -m 0700 ${SSHD_SESSION_HOME}`,
    `if [ ! -f ${SSHD_HOST_KEY} ]; then`,
    `  rm -f ${SSHD_HOST_KEY}.new ${SSHD_HOST_KEY}.new.pub`,
    `  ${SSH_KEYGEN} -q -t ed25519 -N '' -C "root@$1" -f ${SSHD_HOST_KEY}.new < /dev/null > /dev/null`,
    `  mv -f ${SSHD_HOST_KEY}.new.pub ${SSHD_HOST_KEY}.pub`,
    `  mv -f ${SSHD_HOST_KEY}.new ${SSHD_HOST_KEY}`,
    'fi',
    // The public half only: ssh-keygen -y prints the public key of the private one.
    `[ -s ${SSHD_HOST_KEY}.pub ] || ${SSH_KEYGEN} -y -f ${SSHD_HOST_KEY} > ${SSHD_HOST_KEY}.pub`,
    `chmod 0600 ${SSHD_HOST_KEY}`,
    `cat ${SSHD_HOST_KEY}.pub`,
  ].join('\n');
  const res = await runOnMachine(r, machine.ns, 'sh', ['-c', script, 'sh', machine.name], { allowFail: true });
  const line = res.stdout.trim();
  if (res.code !== 0 || !/^ssh-ed25519 AAAA[A-Za-z0-9+/]+={0,2}(\s|$)/.test(line)) {
    // Only ssh-keygen's and the shell's stderr: the private key is never read here.
    throw new Error(`${machine.name}: the sshd host key ${SSHD_HOST_KEY} could not be made or read on the machine (exit ${res.code}): ${res.stderr.trim() || 'no public key line'}. Fix: check the machine's disk is mounted (ensureMachineMounts) and that ${SSH_KEYGEN} runs`);
  }
  return line;
}

/** The pid of the machine's sshd when the one its pid file names is alive: /usr/sbin/sshd, in the machine's mount namespace (not a reused pid). */
async function runningSshd(r: Runner, machine: SshdMachine): Promise<number | undefined> {
  const text = await readOnMachine(r, machine.ns, SSHD_PID_FILE);
  const pid = Number(text?.trim());
  return Number.isInteger(pid) && pid > 1 && isMachineSshd(machine.ns, pid) ? pid : undefined;
}

function isMachineSshd(ns: string, pid: number): boolean {
  if (!processAlive(pid)) return false;
  try {
    return readlinkSync(`/proc/${pid}/exe`) === SSHD && readlinkSync(`/proc/${pid}/ns/mnt`) === `mnt:[${statSync(mountNsFile(ns)).ino}]`;
  } catch {
    return false;
  }
}

function logTail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-15).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Starts sshd on the machine, detached (it outlives the caller), and waits until it wrote its pid file (its sockets are bound then). */
async function startSshd(r: Runner, machine: SshdMachine, logFile: string): Promise<number> {
  await runOnMachine(r, machine.ns, 'sh', ['-c', `rm -f ${SSHD_PID_FILE} && mkdir -p ${SSHD_PID_FILE.replace(/\/[^/]+$/, '')} && mkdir -p -m 0755 ${SSHD_PRIVSEP_DIR} && chmod 0755 ${SSHD_PRIVSEP_DIR}`]);
  const checked = await runOnMachine(r, machine.ns, SSHD, ['-t', '-f', SSHD_CONFIG], { allowFail: true, env: SSHD_ENV });
  if (checked.code !== 0) throw new Error(`${machine.name}: sshd refuses its config ${SSHD_CONFIG} (sshd -t, exit ${checked.code}): ${checked.stderr.trim()}. Fix: see the config this file writes (sshdConfig)`);
  const [command, args] = onMachine(machine.ns, SSHD, ['-D', '-e', '-f', SSHD_CONFIG]);
  const out = openSync(logFile, 'a');
  let exited: string | undefined;
  let pid: number | undefined;
  try {
    // nsenter enters the namespaces and execs sshd: the child's pid is sshd's.
    const child = spawn(command, args, { cwd: '/', detached: true, stdio: ['ignore', out, out], env: SSHD_ENV });
    child.on('error', (e) => (exited = e.message));
    child.on('exit', (code, sig) => (exited = `exited (${sig ?? `code ${code}`})`));
    pid = child.pid;
    const deadline = Date.now() + READY_MS;
    while (exited === undefined && Date.now() < deadline) {
      const written = Number((await readOnMachine(r, machine.ns, SSHD_PID_FILE))?.trim());
      if (written === pid && isMachineSshd(machine.ns, pid)) {
        child.unref();
        return pid;
      }
      await new Promise((res) => setTimeout(res, 100));
    }
    if (exited === undefined && pid) signal(pid, 'SIGKILL');
    throw new Error(`${machine.name}: sshd did not start on the machine (${exited ?? `no pid file ${SSHD_PID_FILE} within ${READY_MS / 1000} s`}). Its log, ${logFile}:\n${logTail(logFile)}`);
  } finally {
    closeSync(out);
  }
}

/**
 * Makes sure the machine runs its sshd, as described at the top of this
 * file: the host key made when absent (never replaced), authorized_keys
 * rewritten on every call (sshd reads it at each login: no restart),
 * sshd_config written when it differs. When the sshd its pid file names is
 * alive and the config did not change, nothing is started (`started:
 * false`); when the config changed, the running sshd is stopped (SIGTERM;
 * open sessions stay) and a new one started. The fingerprint is the host
 * key's as `ssh-keygen -lf` prints it (what a metal spec's `ssh.hostKey`
 * pins). Not safe against two calls at once for the same machine.
 */
export async function ensureMachineSshd(r: Runner, machine: SshdMachine, options: SshdOptions): Promise<SshdStatus> {
  const port = check(machine, options);
  const publicLine = await ensureHostKey(r, machine);
  const print = fingerprint(publicLine.split(/\s+/)[1]!);
  const keys = options.authorizedKeys.endsWith('\n') ? options.authorizedKeys : `${options.authorizedKeys}\n`;
  await writeOnMachine(r, machine.ns, SSHD_AUTHORIZED_KEYS, '0600', keys);
  const config = sshdConfig(port, options.path);
  const changed = (await readOnMachine(r, machine.ns, SSHD_CONFIG)) !== config;
  if (changed) await writeOnMachine(r, machine.ns, SSHD_CONFIG, '0644', config);
  const running = await runningSshd(r, machine);
  if (running !== undefined && !changed) return { started: false, fingerprint: print, pid: running };
  if (running !== undefined) await stopPid(machine.ns, running);
  return { started: true, fingerprint: print, pid: await startSshd(r, machine, options.logFile) };
}

async function stopPid(ns: string, pid: number): Promise<void> {
  signal(pid, 'SIGTERM');
  const deadline = Date.now() + STOP_MS;
  while (isMachineSshd(ns, pid) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
  if (isMachineSshd(ns, pid)) signal(pid, 'SIGKILL');
  for (let i = 0; i < 40 && processAlive(pid); i++) await new Promise((res) => setTimeout(res, 50));
}

/**
 * Stops the machine's sshd (SIGTERM, then SIGKILL after 5 s); open sessions
 * stay. Returns whether one was running. Its files stay on the disk.
 */
export async function stopMachineSshd(r: Runner, machine: SshdMachine): Promise<boolean> {
  const pid = await runningSshd(r, machine);
  if (pid === undefined) return false;
  await stopPid(machine.ns, pid);
  return true;
}
