/**
 * A first boot of an Equinix Metal machine, run for real in a sandbox: the
 * rendered user-data's write_files written and its runcmd run as cloud-init
 * does (the commands in one /bin/sh script, in order, without a `set -e` of
 * cloud-init's own), inside private mount, UTS, network and PID namespaces:
 *
 * - /etc, /usr/local and /var are overlays whose upper layers sit in the
 *   sandbox's folder, so every file the boot writes lands there and the test
 *   reads it there; / is remounted read-only, so a write anywhere else fails
 *   the boot loudly instead of touching the host; the network namespace is
 *   empty, so nothing leaves the machine.
 * - PATH starts with the stubs of test/fixtures/boot/stubs, for what a
 *   machine has to install or reach and what would touch the host; each
 *   records its calls, and each says what it models. A program a package
 *   brings exits 127 "command not found" until `apt-get install` installed
 *   that package. jq and nft are then the host's real ones (nft in the
 *   sandbox's network namespace, so the rendered DNAT is loaded by the real
 *   parser); kubeadm checks its flags and configuration with the pinned
 *   kubeadm.
 *
 * Root is needed: only root writes through overlays of the host's own
 * folders (in an unprivileged user namespace the host's /etc stays owned by
 * an unmapped user).
 */
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import { REPO_DIR } from '../lib/toolchain/repo.js';

export const BOOT_FIXTURES = join(REPO_DIR, 'test/fixtures/boot');

export interface BootScenario {
  /** The document the machine's metadata service answers, and its address. */
  readonly metadata: unknown;
  readonly metadataUrl: string;
  /** The API ClusterIP; a Service address whose text starts with the ClusterIP's; the DNS Service's. */
  readonly clusterIP: string;
  readonly decoyIP: string;
  readonly dnsIP: string;
  /** Seconds after kubeadm init until kube-proxy serves the ClusterIP's port 443; never when undefined. */
  readonly kubeProxyServesAfter?: number;
  /** The packages the stock image has (their programs work before any apt-get install). */
  readonly preinstalled: readonly string[];
  /** Make this kubeadm subcommand fail. */
  readonly failKubeadm?: 'init' | 'join';
  /** The host's programs the sandbox uses: the pinned kubeadm, jq, nft, unshare. */
  readonly programs: { readonly kubeadm: string; readonly jq: string; readonly nft: string; readonly unshare: string };
}

export interface Call {
  readonly name: string;
  /** base: the stock image has it; installed: its package was installed; missing: it was not (exit 127). */
  readonly state: 'base' | 'installed' | 'missing';
  readonly args: readonly string[];
}

export interface BootRun {
  /** The runcmd script's exit status (its last command's, as cloud-init sees it). */
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Every stubbed program's calls, in order. */
  readonly calls: readonly Call[];
  /** What systemd-cat received (the journal). */
  readonly journal: string;
  /** A file under /etc, /usr/local or /var after the boot; undefined when absent (never written, or deleted). */
  file(path: string): string | undefined;
  /** A file of the stubs' state: kubeadm-init.yaml, kubeadm-join.yaml, handover, bootstrap-at-init.nft, ruleset.after, clock, kube-proxy-serves. */
  state(name: string): string | undefined;
}

const OVERLAYS = ['etc', 'usr/local', 'var'] as const;
const layer = (o: string) => o.replace(/\//g, '-');

/** Which programs each package brings (the apt-get stub enables their stubs). */
const PACKAGES: Readonly<Record<string, readonly string[]>> = {
  containerd: ['containerd', 'ctr'],
  curl: ['curl'],
  gpg: ['gpg'],
  jq: ['jq'],
  nftables: ['nft'],
  kubelet: ['kubelet'],
  kubeadm: ['kubeadm'],
  kubectl: ['kubectl'],
};
/** Found only once pkgs.k8s.io's source is written and apt-get update saw it. */
const KUBERNETES_PACKAGES = ['kubelet', 'kubeadm', 'kubectl'];

interface CloudConfig {
  hostname: string;
  write_files: Array<{ path: string; content: string; permissions?: string }>;
  runcmd: unknown[];
}

/** cloud-init's shellify: each item of a list single-quoted, a string as it is. */
function shellify(cmd: unknown): string {
  if (typeof cmd === 'string') return cmd;
  if (!Array.isArray(cmd)) throw new Error(`runcmd item ${JSON.stringify(cmd)} is neither a list nor a string`);
  return cmd.map((a) => `'${String(a).replace(/'/g, `'\\''`)}'`).join(' ');
}

/** cloud-init inside the namespaces: the hostname, write_files, then runcmd as one /bin/sh script. */
function cloudInitScript(config: CloudConfig, sandbox: string): string {
  const b64 = (text: string) => Buffer.from(text).toString('base64');
  const lines = ['set -euo pipefail', `hostname '${config.hostname}'`];
  for (const f of config.write_files) {
    lines.push(`mkdir -p '${dirname(f.path)}'`, `base64 -d > '${f.path}' <<'EOF'`, b64(f.content), 'EOF', `chmod ${f.permissions ?? '0644'} '${f.path}'`);
  }
  const scripts = '/var/lib/cloud/instance/scripts';
  const runcmd = `#!/bin/sh\n${config.runcmd.map(shellify).join('\n')}\n`;
  lines.push(`mkdir -p ${scripts}`, `base64 -d > ${scripts}/runcmd <<'EOF'`, b64(runcmd), 'EOF', `chmod 0700 ${scripts}/runcmd`);
  lines.push('set +e', `${scripts}/runcmd > '${sandbox}/out/stdout' 2> '${sandbox}/out/stderr'`, `echo $? > '${sandbox}/out/rc'`);
  return `${lines.join('\n')}\n`;
}

/** The namespaces' prelude: the sandbox's folder kept writable, the overlays, / read-only, cloud-init, the ruleset left. */
function sandboxScript(sandbox: string, env: Record<string, string>, nft: string): string {
  for (const v of [sandbox, nft, ...Object.values(env)]) if (v.includes("'")) throw new Error(`cannot single-quote ${v}`);
  return [
    'set -euo pipefail',
    `mount --bind '${sandbox}' '${sandbox}'`,
    // Before the overlays: mount(8) would read the sandbox's /etc/fstab.
    'mount -o remount,bind,ro /',
    ...OVERLAYS.map((o) => `mount -t overlay overlay -o 'lowerdir=/${o},upperdir=${sandbox}/upper/${layer(o)},workdir=${sandbox}/ovl/${layer(o)}' '/${o}'`),
    `env -i ${Object.entries(env).map(([k, v]) => `'${k}=${v}'`).join(' ')} /bin/bash '${sandbox}/cloud-init.sh'`,
    `'${nft}' list ruleset > '${sandbox}/state/ruleset.after'`,
    '',
  ].join('\n');
}

function run(cmd: string, args: readonly string[], timeoutMs: number): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, killSignal: 'SIGKILL' });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), out: signal ? `${out}\n(killed by ${signal})` : out }));
  });
}

/**
 * Boots `userData` in a fresh sandbox and hands the result to `use`; the
 * sandbox's folder is removed afterwards, whatever `use` does (the
 * namespaces, and the mounts in them, end with the boot).
 */
export async function withBoot<T>(userData: string, scenario: BootScenario, use: (boot: BootRun) => T | Promise<T>): Promise<T> {
  if (!userData.startsWith('#cloud-config\n')) throw new Error('the user-data is not a #cloud-config document');
  if (process.getuid?.() !== 0) {
    throw new Error('booting user-data needs root: it mounts overlays over /etc, /usr/local and /var in private namespaces (run it as root: sudo -E env "PATH=$PATH" npx tsx --test <file>)');
  }
  const config = parse(userData) as CloudConfig;
  const dir = mkdtempSync(join(tmpdir(), 'n6-boot-'));
  try {
    for (const d of ['state/installed', 'out', 'tmp', ...OVERLAYS.flatMap((o) => [`upper/${layer(o)}`, `ovl/${layer(o)}`])]) mkdirSync(join(dir, d), { recursive: true });
    // The stock image: its fstab; the first boot: apt's locks held, the clock at zero.
    writeFileSync(join(dir, 'upper/etc/fstab'), readFileSync(join(BOOT_FIXTURES, 'fstab')));
    writeFileSync(join(dir, 'state/lock-lists'), '');
    writeFileSync(join(dir, 'state/lock-dpkg'), '');
    writeFileSync(join(dir, 'state/clock'), '0\n');
    for (const p of scenario.preinstalled) {
      const commands = PACKAGES[p];
      if (!commands) throw new Error(`preinstalled package ${p} is not modelled (${Object.keys(PACKAGES).join(', ')})`);
      for (const c of commands) writeFileSync(join(dir, 'state/installed', c), '');
    }
    writeFileSync(join(dir, 'metadata.json'), JSON.stringify(scenario.metadata));
    writeFileSync(join(dir, 'package-commands'), `${Object.entries(PACKAGES).flatMap(([p, cs]) => cs.map((c) => `${p}=${c}`)).join('\n')}\n`);
    writeFileSync(join(dir, 'stub.sh'), readFileSync(join(BOOT_FIXTURES, 'stub.sh')));
    const env: Record<string, string> = {
      PATH: `${join(BOOT_FIXTURES, 'stubs')}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
      HOME: '/root',
      LANG: 'C.UTF-8',
      // Here-strings make temporary files: in the sandbox, not in the read-only /tmp.
      TMPDIR: `${dir}/tmp`,
      N6_SANDBOX: dir,
      N6_METADATA_URL: scenario.metadataUrl,
      N6_REAL_JQ: scenario.programs.jq,
      N6_REAL_NFT: scenario.programs.nft,
      N6_REAL_KUBEADM: scenario.programs.kubeadm,
      N6_CLUSTER_IP: scenario.clusterIP,
      N6_DECOY_IP: scenario.decoyIP,
      N6_DNS_IP: scenario.dnsIP,
      N6_ENDPOINT: `[${scenario.clusterIP}]:443`,
      N6_KUBERNETES_PACKAGES: KUBERNETES_PACKAGES.join(' '),
      N6_KUBE_PROXY_AFTER: scenario.kubeProxyServesAfter === undefined ? '' : String(scenario.kubeProxyServesAfter),
      N6_FAIL_KUBEADM: scenario.failKubeadm ?? '',
    };
    writeFileSync(join(dir, 'cloud-init.sh'), cloudInitScript(config, dir));
    writeFileSync(join(dir, 'sandbox.sh'), sandboxScript(dir, env, scenario.programs.nft));
    // A PID namespace too: when its first process ends (or is killed at the timeout), every process of the boot goes with it.
    const namespaces = ['--pid', '--fork', '--kill-child', '--mount-proc', '--mount', '--uts', '--net', '--propagation', 'private'];
    const prelude = await run(scenario.programs.unshare, [...namespaces, '/bin/bash', join(dir, 'sandbox.sh')], 120_000);
    const read = (p: string) => (existsSync(p) ? readFileSync(p, 'utf8') : undefined);
    const rc = read(join(dir, 'out/rc'));
    if (prelude.code !== 0 || rc === undefined) {
      throw new Error(`the sandbox failed (exit ${prelude.code}) before the boot ran to its end: ${prelude.out}${read(join(dir, 'out/stderr')) ?? ''}`);
    }
    const calls = (read(join(dir, 'state/calls.log')) ?? '')
      .split('\n')
      .filter(Boolean)
      .map((l): Call => {
        const [name, state, ...args] = l.split('\x1f');
        return { name: name!, state: state as Call['state'], args };
      });
    return await use({
      exitCode: Number(rc.trim()),
      stdout: read(join(dir, 'out/stdout')) ?? '',
      stderr: read(join(dir, 'out/stderr')) ?? '',
      calls,
      journal: read(join(dir, 'state/journal')) ?? '',
      file(path) {
        const overlay = OVERLAYS.find((o) => path.startsWith(`/${o}/`));
        if (!overlay) throw new Error(`${path} is outside the sandbox's overlays (${OVERLAYS.map((o) => `/${o}`).join(', ')})`);
        const p = join(dir, 'upper', layer(overlay), path.slice(overlay.length + 2));
        // A file of the host's layer deleted in the sandbox is a whiteout (a character device).
        return existsSync(p) && lstatSync(p).isFile() ? readFileSync(p, 'utf8') : undefined;
      },
      state: (name) => read(join(dir, 'state', name)),
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
