/**
 * Boots of an Equinix Metal machine, run for real in a sandbox: the
 * rendered user-data's write_files written and its runcmd run as cloud-init
 * does (the commands in one /bin/sh script, in order, without a `set -e` of
 * cloud-init's own), then the units it started run by a model of systemd
 * (test/fixtures/boot/systemd.sh); then, if asked, later boots of the same
 * machine (reboots: its disk kept, its kernel state new, cloud-init's
 * runcmd not run again, the enabled units started). Each boot runs inside
 * private mount, UTS, network and PID namespaces:
 *
 * - /etc, /usr/local and /var are overlays whose upper layers sit in the
 *   sandbox's folder (the machine's disk, kept across its boots), so every
 *   file the boot writes lands there and the test reads it there; / is
 *   remounted read-only, so a write anywhere else fails the boot loudly
 *   instead of touching the host; the network namespace is empty (and new
 *   at each boot), so nothing leaves the machine.
 * - PATH starts with the stubs of test/fixtures/boot/stubs, for what a
 *   machine has to install or reach and what would touch the host; each
 *   records its calls, and each says what it models. A program a package
 *   brings exits 127 "command not found" until `apt-get install` installed
 *   that package. jq and nft are then the host's real ones (nft in the
 *   sandbox's network namespace, so the rendered DNAT is loaded by the real
 *   parser); kubeadm checks its flags and configuration with the pinned
 *   kubeadm. Time is the sum of the sleeps.
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
  /** Seconds after kube-proxy starts (kubeadm init or join, the kubelet at a later boot) until it serves the ClusterIP's port 443; never when undefined. */
  readonly kubeProxyServesAfter?: number;
  /** The packages the stock image has (their programs work before any apt-get install). */
  readonly preinstalled: readonly string[];
  /** Make the first `times` calls of this kubeadm subcommand fail (Infinity: every call). */
  readonly failKubeadm?: { readonly sub: 'init' | 'join'; readonly times: number };
  /** The metadata service does not answer. */
  readonly metadataDown?: boolean;
  /** An API server of the cluster answers on the ClusterIP (the cluster exists already). */
  readonly clusterAnswers?: boolean;
  /** The peer URLs of the cluster's etcd members (a control plane's join asks them); one member of another machine unless given. */
  readonly etcdPeers?: readonly string[];
  /** A boot ends at the latest this many seconds (of the sandbox's clock) after it began; 4000 unless given. */
  readonly horizonS?: number;
  /** Later boots of the machine, in order, each with what differs at that boot. */
  readonly reboots?: ReadonlyArray<Partial<Pick<BootScenario, 'kubeProxyServesAfter' | 'metadataDown' | 'clusterAnswers'>>>;
  /** The host's programs the sandbox uses: the pinned kubeadm, jq, nft, unshare. */
  readonly programs: { readonly kubeadm: string; readonly jq: string; readonly nft: string; readonly unshare: string };
}

export interface Call {
  readonly name: string;
  /** base: the stock image has it; installed: its package was installed; missing: it was not (exit 127). */
  readonly state: 'base' | 'installed' | 'missing';
  readonly args: readonly string[];
}

/** What one boot did. */
export interface BootRecord {
  /** Every stubbed program's calls, in order. */
  readonly calls: readonly Call[];
  /** The journal: the units' output and what systemd-cat received. */
  readonly journal: string;
  /** systemd's model: each unit's start, exit (status, clock), condition-failed, cut-off, in order. */
  readonly units: readonly string[];
  /** The network namespace's ruleset when the boot ended (`nft list ruleset`). */
  readonly ruleset: string;
  /** When the bootstrap DNAT went: `served` (kube-proxy served the ClusterIP then) or `not-served`; undefined when it stayed. */
  readonly handover: string | undefined;
}

export interface BootRun extends BootRecord {
  /** The runcmd script's exit status (its last command's, as cloud-init sees it). */
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  /** The later boots (scenario.reboots), in order. */
  readonly reboots: readonly BootRecord[];
  /** A file under /etc, /usr/local or /var after the last boot; undefined when absent (never written, or deleted). */
  file(path: string): string | undefined;
  /** A file of the stubs' state after the last boot: kubeadm-init.yaml, kubeadm-join.yaml, bootstrap-at-init.nft, clock, resets, failed-init, failed-join. */
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
  // systemd starts what runcmd queued once runcmd is done (cloud-final does not wait for it).
  lines.push(`'${sandbox}/systemd.sh' jobs`);
  return `${lines.join('\n')}\n`;
}

/**
 * One boot in the namespaces: the sandbox's folder kept writable, the overlays, / read-only, then
 * `command` (cloud-init, or systemd's boot) with the boot's horizon, and the ruleset it left.
 */
function sandboxScript(sandbox: string, env: Record<string, string>, nft: string, command: string, horizonS: number): string {
  for (const v of [sandbox, nft, ...Object.values(env)]) if (v.includes("'")) throw new Error(`cannot single-quote ${v}`);
  return [
    'set -euo pipefail',
    `mount --bind '${sandbox}' '${sandbox}'`,
    // Before the overlays: mount(8) would read the sandbox's /etc/fstab.
    'mount -o remount,bind,ro /',
    ...OVERLAYS.map((o) => `mount -t overlay overlay -o 'lowerdir=/${o},upperdir=${sandbox}/upper/${layer(o)},workdir=${sandbox}/ovl/${layer(o)}' '/${o}'`),
    `horizon=$(( $(cat '${sandbox}/state/clock') + ${horizonS} ))`,
    `env -i ${Object.entries(env).map(([k, v]) => `'${k}=${v}'`).join(' ')} "N6_HORIZON=$horizon" /bin/bash ${command.split(' ').map((a) => `'${a}'`).join(' ')}`,
    `'${nft}' list ruleset > '${sandbox}/state/ruleset'`,
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

/** The client URLs of the etcd members the sandbox's cluster names (kubeadm's etcd pods): one of another machine. */
export const ETCD_CLIENT_URLS = ['https://[2001:db8:ffff::e7cd]:2379'];

/** The boot's environment (a later boot changes what its entry of scenario.reboots says). */
function bootEnv(dir: string, scenario: BootScenario, at: Partial<BootScenario>): Record<string, string> {
  const s = { ...scenario, ...at };
  return {
    PATH: `${join(BOOT_FIXTURES, 'stubs')}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
    HOME: '/root',
    LANG: 'C.UTF-8',
    // Here-strings make temporary files: in the sandbox, not in the read-only /tmp.
    TMPDIR: `${dir}/tmp`,
    N6_SANDBOX: dir,
    N6_METADATA_URL: s.metadataUrl,
    N6_METADATA_DOWN: s.metadataDown ? '1' : '',
    N6_CLUSTER_ANSWERS: s.clusterAnswers ? '1' : '',
    N6_ETCD_CLIENT_URLS: ETCD_CLIENT_URLS.join(' '),
    N6_ETCD_PEERS: (s.etcdPeers ?? ['https://[2001:db8:ffff::e7cd]:2380']).join(' '),
    N6_REAL_JQ: s.programs.jq,
    N6_REAL_NFT: s.programs.nft,
    N6_REAL_KUBEADM: s.programs.kubeadm,
    N6_CLUSTER_IP: s.clusterIP,
    N6_DECOY_IP: s.decoyIP,
    N6_DNS_IP: s.dnsIP,
    N6_ENDPOINT: `[${s.clusterIP}]:443`,
    N6_KUBERNETES_PACKAGES: KUBERNETES_PACKAGES.join(' '),
    N6_KUBE_PROXY_AFTER: s.kubeProxyServesAfter === undefined ? '' : String(s.kubeProxyServesAfter),
    N6_FAIL_KUBEADM: s.failKubeadm ? `${s.failKubeadm.sub}:${s.failKubeadm.times === Infinity ? 'always' : s.failKubeadm.times}` : '',
  };
}

/**
 * Boots `userData` in a fresh sandbox (then reboots it as the scenario
 * asks) and hands the result to `use`; the sandbox's folder is removed
 * afterwards, whatever `use` does (the namespaces, and the mounts and
 * processes in them, end with each boot).
 */
export async function withBoot<T>(userData: string, scenario: BootScenario, use: (boot: BootRun) => T | Promise<T>): Promise<T> {
  if (!userData.startsWith('#cloud-config\n')) throw new Error('the user-data is not a #cloud-config document');
  if (process.getuid?.() !== 0) {
    throw new Error('booting user-data needs root: it mounts overlays over /etc, /usr/local and /var in private namespaces (run it as root: sudo -E env "PATH=$PATH" npx tsx --test <file>)');
  }
  const config = parse(userData) as CloudConfig;
  const dir = mkdtempSync(join(tmpdir(), 'n6-boot-'));
  const read = (p: string) => (existsSync(p) ? readFileSync(p, 'utf8') : undefined);
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
    writeFileSync(join(dir, 'systemd.sh'), readFileSync(join(BOOT_FIXTURES, 'systemd.sh')), { mode: 0o755 });
    writeFileSync(join(dir, 'cloud-init.sh'), cloudInitScript(config, dir));
    // A PID namespace too: when its first process ends (or is killed at the timeout), every process of the boot goes with it.
    const namespaces = ['--pid', '--fork', '--kill-child', '--mount-proc', '--mount', '--uts', '--net', '--propagation', 'private'];
    const records: BootRecord[] = [];
    const boots: Array<{ at: Partial<BootScenario>; command: string }> = [
      { at: {}, command: join(dir, 'cloud-init.sh') },
      ...(scenario.reboots ?? []).map((at) => ({ at, command: `${join(dir, 'systemd.sh')} boot` })),
    ];
    for (const [i, boot] of boots.entries()) {
      // A new kernel: kube-proxy has not started, the horizon is this boot's.
      for (const f of ['kube-proxy-started', 'kube-proxy-serves', 'horizon', 'calls.log', 'journal', 'units', 'ruleset', 'handover']) rmSync(join(dir, 'state', f), { force: true });
      writeFileSync(join(dir, 'sandbox.sh'), sandboxScript(dir, bootEnv(dir, scenario, boot.at), scenario.programs.nft, boot.command, scenario.horizonS ?? 4000));
      const prelude = await run(scenario.programs.unshare, [...namespaces, '/bin/bash', join(dir, 'sandbox.sh')], 240_000);
      if (prelude.code !== 0 || (i === 0 && read(join(dir, 'out/rc')) === undefined)) {
        throw new Error(`the sandbox failed (exit ${prelude.code}) before boot ${i + 1} ran to its end: ${prelude.out}${read(join(dir, 'out/stderr')) ?? ''}`);
      }
      records.push({
        calls: (read(join(dir, 'state/calls.log')) ?? '')
          .split('\n')
          .filter(Boolean)
          .map((l): Call => {
            const [name, state, ...args] = l.split('\x1f');
            return { name: name!, state: state as Call['state'], args };
          }),
        journal: read(join(dir, 'state/journal')) ?? '',
        units: (read(join(dir, 'state/units')) ?? '').split('\n').filter(Boolean),
        ruleset: read(join(dir, 'state/ruleset')) ?? '',
        handover: read(join(dir, 'state/handover'))?.trim(),
      });
    }
    const [first, ...later] = records;
    return await use({
      ...first!,
      exitCode: Number(read(join(dir, 'out/rc'))!.trim()),
      stdout: read(join(dir, 'out/stdout')) ?? '',
      stderr: read(join(dir, 'out/stderr')) ?? '',
      reboots: later,
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
