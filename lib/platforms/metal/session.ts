/**
 * The metal platform's transport, the half that runs: ssh-keyscan and ssh
 * (the OpenSSH client) with the command lines and scripts of ssh.ts. The
 * operator's private key is written to a 0600 file in a 0700 folder of
 * its own, removed when the session ends; every error and log line is
 * masked (ssh.ts redact) so that neither the key nor a file's content is
 * ever reported. Only the connection is tried again (a machine rebooting):
 * a wrong host key, a refused login or a failed command is not.
 *
 * The Pulumi resource (machine.ts) calls createMachine, updateMachine and
 * deleteMachine from its dynamic provider.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SshAccess } from '../../cluster/inventory.js';
import { retry } from '../../phases/retry.js';
import {
  bestEffortScript,
  bootDigest,
  checkAccess,
  CONNECT_TIMEOUT_S,
  failedCommands,
  HostKeyMismatchError,
  installScript,
  keyscanArgs,
  parseKeyscan,
  pinnedKnownHosts,
  redact,
  secretFragments,
  sshArgs,
  SOME_FAILED,
  type Command,
  type Deregister,
  type MachineInputs,
  type MachineOutputs,
  type SessionFiles,
} from './ssh.js';

export interface SessionOptions {
  /** The programs: `ssh` and `ssh-keyscan` on PATH unless given. */
  readonly ssh?: string;
  readonly sshKeyscan?: string;
  readonly connectTimeoutS?: number;
  /** How often, and how far apart, a connection is tried (a machine rebooting): 6 tries over about a minute unless given. */
  readonly connectTries?: { readonly attempts: number; readonly initialMs: number; readonly maxMs: number };
  /** How long one remote script may run: 10 minutes unless given. */
  readonly commandTimeoutMs?: number;
  readonly log?: (line: string) => void;
}

const TRIES = { attempts: 6, initialMs: 2000, maxMs: 30_000 };

/** The server could not be reached (or said nothing): worth trying again. */
export class ConnectError extends Error {
  override name = 'ConnectError';
}

/** ssh's own failures (exit 255) that are the connection's, not the login's or the command's. */
const CONNECTION = /Connection refused|Connection timed out|timed out|No route to host|Network is unreachable|Connection reset|Connection closed|kex_exchange_identification|Could not resolve hostname|Broken pipe/i;

interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

const tail = (s: string, lines = 20) => s.trim().split('\n').slice(-lines).join('\n');

function run(program: string, args: readonly string[], input: string, timeoutMs: number): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(program, [...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const keep = (s: string, more: string) => (s + more).slice(-65_536);
    child.stdout.on('data', (d: Buffer) => (stdout = keep(stdout, d.toString('utf8'))));
    child.stderr.on('data', (d: Buffer) => (stderr = keep(stderr, d.toString('utf8'))));
    const timer = setTimeout(() => {
      stderr += `\n(killed after ${timeoutMs / 1000} s)`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: 127, stdout, stderr: `${stderr}\ncannot run ${program}: ${e.message}` });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
    child.stdin.on('error', () => {}); // a server that hangs up early: its exit says why
    child.stdin.end(input);
  });
}

/** A folder of its own (0700) for one session: the key (0600) and known_hosts; removed whatever happens. */
async function withSessionFiles<T>(privateKey: string, knownHostsLine: string, fn: (files: SessionFiles) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'n6-ssh-'));
  try {
    const files = { keyFile: join(dir, 'id'), knownHosts: join(dir, 'known_hosts') };
    writeFileSync(files.keyFile, privateKey.endsWith('\n') ? privateKey : `${privateKey}\n`, { mode: 0o600 });
    writeFileSync(files.knownHosts, knownHostsLine, { mode: 0o600 });
    return await fn(files);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One machine's session: its host key checked by fingerprint, then scripts run on stdin. */
export class Session {
  private readonly fragments: string[];
  private readonly o: SessionOptions;

  constructor(
    readonly machine: string,
    readonly access: SshAccess,
    private readonly privateKey: string,
    secretFiles: MachineInputs['files'],
    options: SessionOptions = {},
  ) {
    checkAccess(machine, access);
    if (!/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(privateKey)) throw new Error(`${machine}: the SSH private key is not a PEM or OpenSSH private key (native6:sshPrivateKey)`);
    this.fragments = secretFragments(privateKey, secretFiles);
    this.o = options;
  }

  private where(): string {
    return `${this.machine} (${this.access.user}@${this.access.host} port ${this.access.port})`;
  }

  private masked(text: string): string {
    return redact(text, this.fragments);
  }

  private log(line: string): void {
    this.o.log?.(this.masked(line));
  }

  /** Tries `fn` again only on a ConnectError. */
  private connect<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const t = this.o.connectTries ?? TRIES;
    return retry(fn, { what: `${what} ${this.where()}`, ...t, log: (l) => this.log(l), fatal: (e) => !(e instanceof ConnectError) });
  }

  /** The server's key whose fingerprint is the spec's, as a known_hosts line; a HostKeyMismatchError, before anything is sent, else. */
  async hostKey(): Promise<{ line: string; seen: string }> {
    return this.connect('scanning the host keys of', async () => {
      const t = this.o.connectTimeoutS ?? CONNECT_TIMEOUT_S;
      const r = await run(this.o.sshKeyscan ?? 'ssh-keyscan', keyscanArgs(this.access, t), '', (t + 5) * 1000);
      if (r.code === 127) throw new Error(this.masked(tail(r.stderr)));
      const keys = parseKeyscan(r.stdout);
      if (keys.length === 0) throw new ConnectError(`no host key from ${this.access.host} port ${this.access.port}${r.stderr.trim() ? `: ${tail(r.stderr, 3)}` : ''}`);
      const { line, key } = pinnedKnownHosts(this.machine, this.access, keys);
      return { line, seen: `${key.type} ${key.fingerprint}` };
    });
  }

  /** A script run by `bash -s` over ssh, after the host key check; its result, whatever its exit, unless the connection or login failed. */
  async script(what: string, script: string): Promise<Ran & { seen: string }> {
    const { line, seen } = await this.hostKey();
    return this.connect(what, () =>
      withSessionFiles(this.privateKey, line, async (files) => {
        const t = this.o.connectTimeoutS ?? CONNECT_TIMEOUT_S;
        const r = await run(this.o.ssh ?? 'ssh', sshArgs(this.access, files, t), script, this.o.commandTimeoutMs ?? 600_000);
        const stderr = this.masked(r.stderr);
        const masked = { code: r.code, stdout: this.masked(r.stdout), stderr, seen };
        if (r.code === 255 && CONNECTION.test(stderr)) throw new ConnectError(`${what}: ${tail(stderr, 3)}`);
        if (r.code === 255) {
          const fix = /Permission denied/i.test(stderr)
            ? ` Fix: the machine's ${this.access.user} must accept the key in native6:sshPrivateKey (its public half in ~${this.access.user}/.ssh/authorized_keys).`
            : /Host key verification failed/i.test(stderr)
              ? ' The server does not hold the key whose fingerprint the spec pins.'
              : '';
          throw new Error(`${this.where()}: ${what}: ssh failed: ${tail(stderr, 5)}.${fix}`);
        }
        return masked;
      }),
    );
  }
}

const commandText = (c: Command) => c.join(' ');

/** Files in place, start commands run; the outputs (digest, the key seen; no content). */
async function install(inputs: MachineInputs, options: SessionOptions): Promise<MachineOutputs> {
  const s = new Session(inputs.machine, inputs.ssh, inputs.privateKey, inputs.files, options);
  const script = installScript(inputs.files, inputs.start);
  const r = await s.script('installing the bootstrap on', script);
  if (r.code !== 0) throw new Error(`${inputs.machine}: installing the bootstrap failed (exit ${r.code}): ${tail(r.stderr, 10)}`);
  options.log?.(`${inputs.machine}: ${inputs.files.length} file(s) installed, ${inputs.start.length} start command(s) run (${inputs.start.map(commandText).join('; ')})`);
  return outputsOf(inputs, r.seen);
}

function outputsOf(inputs: MachineInputs, hostKeySeen: string): MachineOutputs {
  return {
    machine: inputs.machine,
    ssh: { host: inputs.ssh.host, port: inputs.ssh.port, user: inputs.ssh.user, hostKey: inputs.ssh.hostKey },
    privateKey: inputs.privateKey,
    reset: inputs.reset.map((c) => [...c]),
    ...(inputs.deregister ? { deregister: inputs.deregister } : {}),
    digest: bootDigest(inputs.files, inputs.start),
    hostKeySeen,
  };
}

export function createMachine(inputs: MachineInputs, options: SessionOptions = {}): Promise<MachineOutputs> {
  return install(inputs, options);
}

/**
 * Files or start commands changed: installed again and started again (the
 * bootstrap's unit is idempotent: its stamp). Anything else (the access,
 * the key, the delete commands): only the host key checked at the new access.
 */
export async function updateMachine(olds: MachineOutputs, inputs: MachineInputs, options: SessionOptions = {}): Promise<MachineOutputs> {
  if (olds.digest !== bootDigest(inputs.files, inputs.start)) return install(inputs, options);
  const s = new Session(inputs.machine, inputs.ssh, inputs.privateKey, inputs.files, options);
  const r = await s.script('checking the access to', 'true\n');
  if (r.code !== 0) throw new Error(`${inputs.machine}: checking the access failed (exit ${r.code}): ${tail(r.stderr, 5)}`);
  return outputsOf(inputs, r.seen);
}

/** What delete did: the deregistration's troubles, reported (they do not stop the reset). */
export interface DeleteReport {
  readonly warnings: string[];
}

async function deregister(olds: MachineOutputs, d: Deregister, options: SessionOptions): Promise<string[]> {
  try {
    const s = new Session(`${olds.machine}'s control plane`, d.ssh, olds.privateKey, [], options);
    const r = await s.script(`deregistering ${olds.machine} on`, bestEffortScript(d.commands));
    if (r.code === 0) return [];
    const failed = failedCommands(r.stderr);
    return [`${olds.machine}: deregistering on ${d.ssh.host} failed (exit ${r.code}): ${failed.length ? failed.join('; ') : tail(r.stderr, 5)}`];
  } catch (e) {
    return [`${olds.machine}: deregistering on ${d.ssh.host} failed: ${redact((e as Error).message, secretFragments(olds.privateKey, []))}`];
  }
}

/** Deregistered on a control plane (if given; its failures reported, not fatal), then reset over ssh. */
export async function deleteMachine(olds: MachineOutputs, options: SessionOptions = {}): Promise<DeleteReport> {
  const warnings = olds.deregister ? await deregister(olds, olds.deregister, options) : [];
  for (const w of warnings) options.log?.(`warning: ${w}`);
  const s = new Session(olds.machine, olds.ssh, olds.privateKey, [], options);
  let r: Awaited<ReturnType<Session['script']>>;
  try {
    r = await s.script('resetting', bestEffortScript(olds.reset));
  } catch (e) {
    if (e instanceof HostKeyMismatchError) throw e;
    throw new Error(`${(e as Error).message} Fix: bring the machine back and destroy again; if it is gone for good, drop it from the stack's state (pulumi state delete <its urn>).`);
  }
  if (r.code === SOME_FAILED) throw new Error(`${olds.machine}: reset: ${failedCommands(r.stderr).join('; ')}. Fix what failed on the machine and destroy again.`);
  if (r.code !== 0) throw new Error(`${olds.machine}: reset failed (exit ${r.code}): ${tail(r.stderr, 5)}`);
  options.log?.(`${olds.machine}: reset (${olds.reset.map(commandText).join('; ')})`);
  return { warnings };
}
