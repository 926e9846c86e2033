/**
 * The metal platform's transport, the pure half: the user's own machines
 * are bootstrapped over SSH with the same bootstrap the Equinix Metal path
 * hands to cloud-init (lib/render/bootstrap.ts: one bootstrap, two
 * transports). Here: the OpenSSH client's command lines, the host key
 * check (the spec pins each machine's key by its SHA256 fingerprint; only
 * the scanned key with that fingerprint is written to a known_hosts file of
 * our own, so that ssh itself then checks the server holds it), the script
 * that installs a bootstrap's files atomically and runs its start commands
 * over one session (fed on stdin, never on a command line), the reset
 * script run on delete, the digest and the diff of the Pulumi resource
 * (machine.ts), and the masking of secrets in what is reported.
 * session.ts runs them. docs/metal-ssh.md says how it works.
 */
import { createHash } from 'node:crypto';
import type { SshAccess } from '../../cluster/inventory.js';
import { BOOT_DONE, BOOT_STATUS, BOOT_UNIT, FIREWALL_UNIT, HANDOVER_UNIT, JOIN_TOKEN_TIMER, JOIN_TOKEN_UNIT, ROUTES_UNIT } from '../../render/bootPaths.js';

/** A file to install: an absolute path, an octal mode, its content (a BootFile's shape, any mode). */
export interface MachineFile {
  readonly path: string;
  readonly mode: string;
  readonly content: string;
}

export type Command = readonly string[];

/** Run on a control plane before a machine is reset (kubectl drain, delete node): failures there are reported, not fatal. */
export interface Deregister {
  readonly ssh: SshAccess;
  readonly commands: readonly Command[];
}

/** Seconds ssh and ssh-keyscan wait for a connection. */
export const CONNECT_TIMEOUT_S = 10;

/** Where the temporary files of one session are: the operator's key (0600) and the known_hosts file holding the one pinned key. */
export interface SessionFiles {
  readonly keyFile: string;
  readonly knownHosts: string;
}

const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;
const IPV6 = /^[0-9A-Fa-f:.]+$/;
const USER = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;
const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;
const FILE_PATH = /^\/(?:[A-Za-z0-9._+@-]+\/)*[A-Za-z0-9._+@-]+$/;
const MODE = /^0?[0-7]{3}$/;

/** The host as ssh takes it: an IPv6 literal without brackets (`user@2001:db8::1` is what ssh parses), a name as given. */
export function sshHost(host: string): string {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (bare.includes(':')) {
    if (!IPV6.test(bare) || bare.split(':').length < 3) throw new Error(`ssh host "${host}" is not an IPv6 address`);
    return bare.toLowerCase();
  }
  if (!HOST_NAME.test(bare)) throw new Error(`ssh host "${host}" is neither a host name nor an address`);
  return bare;
}

/** Checks an SshAccess before anything runs (names and numbers only, so the messages hold no secret). */
export function checkAccess(machine: string, a: SshAccess): void {
  sshHost(a.host);
  if (!Number.isInteger(a.port) || a.port < 1 || a.port > 65_535) throw new Error(`${machine}: ssh port ${a.port} is not a port (1-65535)`);
  if (!USER.test(a.user)) throw new Error(`${machine}: ssh user "${a.user}" is not a user name`);
  if (!FINGERPRINT.test(a.hostKey)) throw new Error(`${machine}: ssh hostKey "${a.hostKey}" is not a fingerprint as \`ssh-keygen -lf\` prints it (SHA256:<43 base64 characters>)`);
}

/** The options every ssh of ours runs with: no config file, no agent, no prompt, only our key and our known_hosts. */
export function sshOptions(files: SessionFiles, connectTimeoutS = CONNECT_TIMEOUT_S): string[] {
  return [
    '-F', 'none',
    '-T',
    '-o', 'BatchMode=yes',
    '-o', 'StrictHostKeyChecking=yes',
    '-o', `UserKnownHostsFile=${files.knownHosts}`,
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'UpdateHostKeys=no',
    '-o', 'CheckHostIP=no',
    '-o', 'IdentitiesOnly=yes',
    '-o', 'IdentityAgent=none',
    '-o', `ConnectTimeout=${connectTimeoutS}`,
    '-o', 'ServerAliveInterval=15',
    '-o', 'ServerAliveCountMax=4',
    '-o', 'LogLevel=ERROR',
    '-i', files.keyFile,
  ];
}

/** The remote side: a shell reading the script on stdin, as root (sudo without a prompt when the user is not root). */
export function remoteShell(user: string): string[] {
  return user === 'root' ? ['bash', '-s'] : ['sudo', '-n', 'bash', '-s'];
}

/** `ssh <options> -p <port> -- <user>@<host> bash -s`: `--` before the destination, so that nothing after it is read as an option. */
export function sshArgs(access: SshAccess, files: SessionFiles, connectTimeoutS = CONNECT_TIMEOUT_S): string[] {
  return [...sshOptions(files, connectTimeoutS), '-p', String(access.port), '--', `${access.user}@${sshHost(access.host)}`, ...remoteShell(access.user)];
}

/** `ssh-keyscan -T <s> -p <port> <host>`: the server's host keys, one a line. */
export function keyscanArgs(access: SshAccess, connectTimeoutS = CONNECT_TIMEOUT_S): string[] {
  return ['-T', String(connectTimeoutS), '-p', String(access.port), sshHost(access.host)];
}

export interface ScannedKey {
  readonly type: string;
  /** The key blob, base64 as in known_hosts. */
  readonly blob: string;
  readonly fingerprint: string;
}

/**
 * SHA256:<base64 without padding> of the key blob: what `ssh-keygen -lf`
 * prints (as lib/cluster/sshKeys.ts sshFingerprint; not imported: the
 * provider process loads this file and should load little else).
 */
export function fingerprint(blobBase64: string): string {
  return `SHA256:${createHash('sha256').update(Buffer.from(blobBase64, 'base64')).digest('base64').replace(/=+$/, '')}`;
}

/** ssh-keyscan's lines (`<host> <type> <base64>`; comments start with #). */
export function parseKeyscan(output: string): ScannedKey[] {
  const keys: ScannedKey[] = [];
  for (const line of output.split('\n')) {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) continue;
    const [, type, blob] = t.split(/\s+/);
    if (!type || !blob || !/^[A-Za-z0-9+/]+={0,2}$/.test(blob)) continue;
    keys.push({ type, blob, fingerprint: fingerprint(blob) });
  }
  return keys;
}

/** The name ssh looks a host up by in known_hosts: the host, or `[host]:port` off port 22. */
export function knownHostsName(access: Pick<SshAccess, 'host' | 'port'>): string {
  const host = sshHost(access.host).toLowerCase();
  return access.port === 22 ? host : `[${host}]:${access.port}`;
}

export class HostKeyMismatchError extends Error {
  override name = 'HostKeyMismatchError';
}

/**
 * The known_hosts line of the one scanned key whose fingerprint is the
 * spec's; an error naming the machine, the host, the fingerprint expected
 * and those seen, and the fix, when none is.
 */
export function pinnedKnownHosts(machine: string, access: SshAccess, scanned: readonly ScannedKey[]): { line: string; key: ScannedKey } {
  const key = scanned.find((k) => k.fingerprint === access.hostKey);
  if (!key) {
    const seen = scanned.map((k) => `${k.type} ${k.fingerprint}`).join(', ');
    throw new HostKeyMismatchError(
      `${machine}: the host key of ${access.host} port ${access.port} is not the one the spec pins: expected ${access.hostKey}, the server offers ${seen || 'no key'}. ` +
        'Nothing was sent to it. Fix: check that this is the machine you meant (an address reused, a reinstalled system, or someone in between); ' +
        'only if its key really changed, update spec.machines[].ssh.hostKey of this machine to the new fingerprint (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the machine itself).',
    );
  }
  return { line: `${knownHostsName(access)} ${key.type} ${key.blob}\n`, key };
}

/** Single-quoted for bash. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

const commandLine = (c: Command): string => {
  if (c.length === 0) throw new Error('an empty command');
  return c.map(shellQuote).join(' ');
};

/** The delimiter of each file's here-document: base64 holds no underscore. */
const END = 'N6_END_OF_FILE';

function base64Lines(content: string): string[] {
  const b = Buffer.from(content, 'utf8').toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b.length; i += 76) lines.push(b.slice(i, i + 76));
  return lines;
}

export function checkFiles(files: readonly MachineFile[]): void {
  const seen = new Set<string>();
  for (const f of files) {
    if (!FILE_PATH.test(f.path) || f.path.split('/').some((p) => p === '..' || p === '.')) throw new Error(`file path "${f.path}" is not an absolute path of plain names`);
    if (!MODE.test(f.mode)) throw new Error(`file ${f.path}: mode "${f.mode}" is not an octal mode like 0644`);
    if (seen.has(f.path)) throw new Error(`file ${f.path} is given twice`);
    seen.add(f.path);
  }
}

/**
 * The install script, fed to `bash -s` on the machine: every file written
 * to a temporary file beside its place (directories made, 0755), owned by
 * root, given its mode, then, once all are written, each renamed into
 * place; then the start commands, in order. A failure before the renames
 * leaves no file changed (the temporary files removed). N6_ROOT, unset on a
 * machine, puts everything under a folder (the unit tests run it so, not
 * always as root: owned by whoever runs it then).
 */
export function installScript(files: readonly MachineFile[], start: readonly Command[]): string {
  checkFiles(files);
  const lines = [
    'set -Eeuo pipefail',
    'umask 077',
    'root=${N6_ROOT:-}',
    'tmps=()',
    "trap 'for t in \"${tmps[@]}\"; do rm -f -- \"$t\"; done' EXIT",
    `trap 'echo "native6-ssh: failed (exit $?): $BASH_COMMAND" >&2' ERR`,
    'put() {',
    '  local dir=${1%/*}',
    '  (umask 022; mkdir -p -- "$root${dir:-/}")',
    '  local tmp',
    '  tmp=$(mktemp -- "$root$dir/.n6-new.XXXXXXXX")',
    '  tmps+=("$tmp")',
    '  base64 -d > "$tmp"',
    '  chown 0:0 -- "$tmp" 2>/dev/null || [ -n "$root" ]',
    '  chmod "$2" -- "$tmp"',
    '}',
  ];
  for (const f of files) lines.push(`put ${shellQuote(f.path)} ${f.mode} <<'${END}'`, ...base64Lines(f.content), END);
  lines.push('# All written: each put in place.');
  files.forEach((f, i) => lines.push(`mv -fT -- "\${tmps[${i}]}" "$root"${shellQuote(f.path)}`));
  lines.push('tmps=()', `echo "native6-ssh: ${files.length} file(s) installed"`);
  for (const c of start) lines.push(`echo ${shellQuote(`native6-ssh: start: ${c.join(' ')}`)}`, commandLine(c));
  lines.push('echo "native6-ssh: started"', '');
  return lines.join('\n');
}

/** Exit status of a best-effort script (reset, deregister) some of whose commands failed. */
export const SOME_FAILED = 3;
const FAILED_PREFIX = 'native6-ssh: command failed';

/** Every command run, even after one failed; those that failed are named on stderr and the script exits SOME_FAILED. */
export function bestEffortScript(commands: readonly Command[]): string {
  const lines = [
    'set -uo pipefail',
    'failed=0',
    `run() { "$@" || { rc=$?; echo "${FAILED_PREFIX} (exit $rc): $*" >&2; failed=1; }; }`,
    ...commands.map((c) => `run ${commandLine(c)}`),
    `[ "$failed" = 0 ] || exit ${SOME_FAILED}`,
    '',
  ];
  return lines.join('\n');
}

/** The commands of a best-effort script that failed, from its stderr. */
export function failedCommands(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.startsWith(FAILED_PREFIX)).map((l) => l.slice('native6-ssh: '.length));
}

/** What a native6 machine's reset does by default: its units stopped and disabled (those it has), kubeadm's state reset, the stamp removed. */
export function defaultReset(): Command[] {
  const units = [BOOT_UNIT, HANDOVER_UNIT, JOIN_TOKEN_TIMER, JOIN_TOKEN_UNIT, ROUTES_UNIT, FIREWALL_UNIT, 'native6-nat64.service'];
  return [
    ['sh', '-c', `for u in ${units.join(' ')}; do if systemctl cat "$u" >/dev/null 2>&1; then systemctl disable --now "$u"; fi; done`],
    ['sh', '-c', 'if command -v kubeadm >/dev/null; then kubeadm reset -f; fi'],
    ['rm', '-f', BOOT_DONE, BOOT_STATUS],
  ];
}

/** What a control plane runs before a machine goes by default: drained, then its Node deleted (admin.conf: root's on every control plane). */
export function defaultDeregister(node: string): Command[] {
  const kubectl = ['kubectl', '--kubeconfig', '/etc/kubernetes/admin.conf'];
  return [
    [...kubectl, 'drain', node, '--ignore-daemonsets', '--delete-emptydir-data', '--force', '--timeout=120s'],
    [...kubectl, 'delete', 'node', node, '--ignore-not-found'],
  ];
}

// ------------------------------------------------------------- the resource

/** sha256 of what is installed and run: the files (path, mode, content) and the start commands. Never the content itself. */
export function bootDigest(files: readonly MachineFile[], start: readonly Command[]): string {
  const canonical = JSON.stringify({ files: files.map((f) => [f.path, f.mode, f.content]), start: start.map((c) => [...c]) });
  return `sha256:${createHash('sha256').update(canonical).digest('hex')}`;
}

export interface MachineInputs {
  readonly machine: string;
  readonly ssh: SshAccess;
  readonly privateKey: string;
  readonly files: readonly MachineFile[];
  readonly start: readonly Command[];
  readonly reset: readonly Command[];
  readonly deregister?: Deregister;
}

/** The resource's state: no file content; the private key kept (secret) for delete. */
export interface MachineOutputs {
  readonly machine: string;
  readonly ssh: SshAccess;
  readonly privateKey: string;
  readonly reset: readonly Command[];
  readonly deregister?: Deregister;
  readonly digest: string;
  /** The host key the server held, as `<type> SHA256:<...>`. */
  readonly hostKeySeen: string;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
const accessOf = (a: SshAccess) => ({ host: a.host, port: a.port, user: a.user, hostKey: a.hostKey });

export interface MachineDiff {
  readonly changes: boolean;
  readonly replaces: string[];
  readonly deleteBeforeReplace: boolean;
  /** What changed, by input name (for the update: `files` means installing again). */
  readonly changed: string[];
}

/**
 * No change when the digest, the access, the key and the delete commands
 * are the same (a second apply touches nothing); another name is another
 * machine (replaced: the old reset first); the rest is an update.
 */
export function machineDiff(olds: MachineOutputs, news: MachineInputs): MachineDiff {
  const changed: string[] = [];
  if (olds.machine !== news.machine) changed.push('machine');
  if (olds.digest !== bootDigest(news.files, news.start)) changed.push('files');
  if (!same(accessOf(olds.ssh), accessOf(news.ssh))) changed.push('ssh');
  if (olds.privateKey !== news.privateKey) changed.push('privateKey');
  if (!same(olds.reset, news.reset)) changed.push('reset');
  if (!same(olds.deregister, news.deregister)) changed.push('deregister');
  const replaces = changed.includes('machine') ? ['machine'] : [];
  return { changes: changed.length > 0, replaces, deleteBeforeReplace: true, changed };
}

// ----------------------------------------------------------------- masking

/** What must never be reported: the key and each file's content, whole, by line and as the script carries it (base64). */
export function secretFragments(privateKey: string, files: readonly MachineFile[]): string[] {
  const out = new Set<string>();
  const add = (s: string) => {
    const t = s.trim();
    if (t.length >= 8) out.add(t);
  };
  for (const v of [privateKey, ...files.map((f) => f.content)]) {
    add(v);
    v.split('\n').forEach(add);
  }
  for (const f of files) base64Lines(f.content).forEach(add);
  return [...out].sort((a, b) => b.length - a.length);
}

export function redact(text: string, fragments: readonly string[]): string {
  let out = text;
  for (const f of fragments) out = out.split(f).join('[redacted]');
  return out;
}
