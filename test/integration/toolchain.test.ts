// The lab's programs as `npm run setup` leaves them in .cache/ (bin:kubernetes,
// bin:etcd, bin:cni): each reports the pinned version, the CNI plugins speak
// the CNI protocol, and etcd + kube-apiserver really start on loopback.
//
// These tests do not build anything: when a program is missing they fail
// and say to run `npm run setup`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CNI_BUILD,
  CNI_PLUGINS_VERSION,
  DEBIAN_PACKAGES,
  ETCD_VERSION,
  K8S_BUILD,
  KUBERNETES_VERSION,
  TOOL_PINS,
  toolPath,
  toolPaths,
  type ToolPaths,
} from '../../lib/toolchain/pins.js';
import { SETUP_COMMAND } from '../../lib/validate/pins.js';
import {
  checkGoModPins,
  debianPackagesStep,
  DEFAULT_CACHE_DIR,
  goModDownload,
  missingDebianPackages,
  REPO_DIR,
  type Exec,
} from '../../scripts/setup.js';

const paths = toolPaths(DEFAULT_CACHE_DIR);

/** Fails (never skips) when setup has not put the program there. */
function need(file: string): void {
  if (!existsSync(file)) {
    assert.fail(`${file} is missing: run \`${SETUP_COMMAND}\` (it builds the lab's programs into .cache/; \`${SETUP_COMMAND} -- bin:\` for just those)`);
  }
}

function exec(
  file: string,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; input?: string } = {},
): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve) => {
    const child = execFile(file, args, { env: opts.env ?? {}, timeout: 20_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ stdout, stderr, code: err ? (typeof err.code === 'number' ? err.code : 1) : 0 });
    });
    child.stdin?.end(opts.input ?? '');
  });
}

// ---------------------------------------------------------------- versions

const k8sMinor = KUBERNETES_VERSION.split('.').slice(0, 2).join('.');

const expected: { name: Exclude<keyof ToolPaths, 'cniBinDir' | 'cni'>; args: string[]; out: RegExp }[] = [
  { name: 'kube-apiserver', args: ['--version'], out: new RegExp(`^Kubernetes ${KUBERNETES_VERSION}\\n$`) },
  { name: 'kube-controller-manager', args: ['--version'], out: new RegExp(`^Kubernetes ${KUBERNETES_VERSION}\\n$`) },
  { name: 'kube-scheduler', args: ['--version'], out: new RegExp(`^Kubernetes ${KUBERNETES_VERSION}\\n$`) },
  { name: 'kube-proxy', args: ['--version'], out: new RegExp(`^Kubernetes ${KUBERNETES_VERSION}\\n$`) },
  { name: 'kubeadm', args: ['version', '-o', 'short'], out: new RegExp(`^${KUBERNETES_VERSION}\\n$`) },
  { name: 'kubectl', args: ['version', '--client'], out: new RegExp(`^Client Version: ${KUBERNETES_VERSION}\\n`) },
  { name: 'etcd', args: ['--version'], out: new RegExp(`^etcd Version: ${ETCD_VERSION.slice(1)}\\n`) },
];

for (const e of expected) {
  test(`${e.name} ${e.args.join(' ')} reports the pinned version`, async () => {
    const file = paths[e.name];
    need(file);
    const r = await exec(file, e.args);
    assert.equal(r.code, 0, `${file} ${e.args.join(' ')} exited ${r.code}: ${r.stderr}`);
    assert.match(r.stdout, e.out);
  });
}

test('kubectl version -o json: the release, a clean tree, a fixed build date', async () => {
  need(paths.kubectl);
  const r = await exec(paths.kubectl, ['version', '--client', '-o', 'json']);
  const v = (JSON.parse(r.stdout) as { clientVersion: Record<string, string> }).clientVersion;
  assert.equal(v.gitVersion, KUBERNETES_VERSION);
  assert.equal(`v${v.major}.${v.minor}`, k8sMinor);
  assert.equal(v.gitTreeState, 'clean');
  assert.equal(v.buildDate, K8S_BUILD.buildDate);
});

for (const pin of TOOL_PINS.filter((p) => p.group === 'cni')) {
  test(`CNI ${pin.name} answers VERSION and names ${CNI_PLUGINS_VERSION}`, async () => {
    const file = toolPath(DEFAULT_CACHE_DIR, pin);
    need(file);
    const r = await exec(file, [], { env: { CNI_COMMAND: 'VERSION' }, input: '{"cniVersion":"1.0.0"}' });
    assert.equal(r.code, 0, `${file}: ${r.stdout}${r.stderr}`);
    const answer = JSON.parse(r.stdout) as { cniVersion: string; supportedVersions: string[] };
    assert.ok(Array.isArray(answer.supportedVersions), r.stdout);
    for (const v of ['0.4.0', '1.0.0', '1.1.0']) assert.ok(answer.supportedVersions.includes(v), `${pin.name} lacks CNI ${v}: ${r.stdout}`);
    // Without CNI_COMMAND a plugin says what it is.
    const about = await exec(file, []);
    assert.match(about.stdout + about.stderr, new RegExp(`^CNI ${pin.name} plugin ${CNI_PLUGINS_VERSION}$`, 'm'));
  });
}

test('tools/k8s/go.mod replaces exactly the staging modules k8s.io/kubernetes replaces, with their published twins', async () => {
  checkGoModPins(REPO_DIR, K8S_BUILD);
  checkGoModPins(REPO_DIR, CNI_BUILD);
  const upstream = await goModDownload('k8s.io/kubernetes', KUBERNETES_VERSION);
  const upstreamMod = readFileSync(join(upstream.Dir, 'go.mod'), 'utf8');
  const staging = [...upstreamMod.matchAll(/^\s*(\S+)\s+=>\s+\.\/staging\/\S+\s*$/gm)].map((m) => m[1]!).sort();
  assert.ok(staging.length > 20, `found only ${staging.length} staging replaces upstream`);
  const ours = readFileSync(join(REPO_DIR, K8S_BUILD.sourceDir, 'go.mod'), 'utf8');
  const replaced = new Map([...ours.matchAll(/^\s*(\S+)\s+=>\s+(\S+)\s+(v\S+)\s*$/gm)].map((m) => [m[1]!, `${m[2]} ${m[3]}`]));
  assert.deepEqual([...replaced.keys()].sort(), staging);
  for (const m of staging) assert.equal(replaced.get(m), `${m} ${K8S_BUILD.stagingVersion}`);
});

// ------------------------------------------------------------------ debian

test(`debian: ${DEBIAN_PACKAGES.join(' ')} are installed`, async () => {
  const missing = await missingDebianPackages(DEBIAN_PACKAGES);
  assert.deepEqual(missing, [], `missing Debian packages ${missing.join(' ')}: run \`${SETUP_COMMAND} -- debian:\` (as root)`);
});

/** A fake dpkg-query/apt-get: `installed` are there; apt-get install adds its arguments. */
function fakeHost(installed: string[]): { exec: Exec; calls: string[] } {
  const calls: string[] = [];
  const exec: Exec = async (cmd, args) => {
    calls.push([cmd, ...args].join(' '));
    if (cmd === 'dpkg-query') {
      const pkgs = args.slice(2);
      const stdout = pkgs.filter((p) => installed.includes(p)).map((p) => `${p}\tii \n`).join('');
      return { stdout, stderr: '', code: stdout.split('\n').length - 1 === pkgs.length ? 0 : 1 };
    }
    if (cmd === 'apt-get' && args[0] === 'install') installed.push(...args.filter((a) => !a.startsWith('-') && a !== 'install'));
    return { stdout: '', stderr: '', code: 0 };
  };
  return { exec, calls };
}

test('debian: not root and a package missing -> fails with the command to run as root', async () => {
  const host = fakeHost(['frr', 'nftables']);
  const step = debianPackagesStep({ packages: ['frr', 'bird', 'nftables', 'ipset'], uid: 1000, exec: host.exec, policyRcD: '/nonexistent/policy-rc.d' });
  assert.equal(await step.check(), false);
  await assert.rejects(step.run(), (e: Error) => {
    assert.match(e.message, /^missing Debian packages bird ipset; as root, run: sudo sh -c '/);
    assert.match(e.message, /apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends bird ipset'$/);
    assert.match(e.message, /\[ -e \/nonexistent\/policy-rc\.d \] \|\| \{ printf "%s\\n" "#!\/bin\/sh" "exit 101" > /);
    return true;
  });
  assert.ok(host.calls.every((c) => c.startsWith('dpkg-query')), host.calls.join('\n'));
});

test('debian: as root -> writes policy-rc.d (exit 101) unless there, apt-get update once, install only the missing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'native6-debian-'));
  try {
    const policy = join(dir, 'policy-rc.d');
    const host = fakeHost(['frr']);
    const step = debianPackagesStep({ packages: ['frr', 'bird', 'ipset'], uid: 0, exec: host.exec, policyRcD: policy });
    assert.match(String(await step.run()), /^installed bird ipset \(wrote /);
    assert.match(readFileSync(policy, 'utf8'), /^#!\/bin\/sh\n(#.*\n)*exit 101\n$/);
    assert.deepEqual(host.calls.filter((c) => c.startsWith('apt-get')), [
      'apt-get update',
      'apt-get install -y --no-install-recommends bird ipset',
    ]);
    assert.equal(await step.check(), true);

    writeFileSync(policy, '#!/bin/sh\nexit 0\n'); // the host's own policy is kept
    const again = fakeHost([]);
    const step2 = debianPackagesStep({ packages: ['bird'], uid: 0, exec: again.exec, policyRcD: policy });
    assert.match(String(await step2.run()), /\(kept /);
    assert.equal(readFileSync(policy, 'utf8'), '#!/bin/sh\nexit 0\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ------------------------------------------------------------------- smoke

/** Ports the kernel just gave out on `host` (then closed again). */
async function freePorts(host: string, n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => {
      const s = createServer();
      return new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
        s.once('error', reject);
        s.listen(0, host, () => resolve(s));
      });
    }),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/** GET url: the status code, or the error ("" body kept short). */
type GetOptions = { ca?: string; headers?: Record<string, string> };

function status(get: typeof httpGet | typeof httpsGet, url: string, opts: GetOptions = {}): Promise<{ code: number; said: string }> {
  return new Promise((resolve) => {
    const req = get(url, { ...opts, timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body = (body + d).slice(-2000)));
      res.on('end', () => resolve({ code: res.statusCode ?? 0, said: body }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (e) => resolve({ code: 0, said: e.message }));
  });
}

/** Polls `url` until 200, at most limitMs; the failure says the last answer and the program's output. */
async function until200(
  url: string,
  limitMs: number,
  get: typeof httpGet | typeof httpsGet,
  opts: GetOptions,
  alive: () => string | undefined,
  log: () => string,
): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const r = await status(get, url, opts);
    if (r.code === 200) return performance.now() - t0;
    const dead = alive();
    if (dead) throw new Error(`${url}: ${dead}`);
    if (performance.now() - t0 > limitMs) {
      throw new Error(`${url}: not 200 within ${limitMs / 1000} s; last answer ${r.code}: ${r.said}\nlast output:\n${log()}`);
    }
    await new Promise((res) => setTimeout(res, 250));
  }
}

/** A child whose output is kept (the last 8 KiB) for the failure message. */
function start(file: string, args: string[]): { child: ChildProcess; log: () => string; exited: () => string | undefined } {
  let out = '';
  let exit: string | undefined;
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
  const keep = (d: Buffer) => (out = (out + d.toString('utf8')).slice(-8192));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  child.on('exit', (code, signal) => (exit = `exited (${signal ?? code})`));
  child.on('error', (e) => (exit = e.message));
  return { child, log: () => out, exited: () => (exit ? `${file} ${exit}; its last output:\n${out}` : undefined) };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 5000);
  await gone;
  clearTimeout(t);
}

test('smoke: etcd and kube-apiserver start on loopback and /readyz answers 200', { timeout: 150_000 }, async (t) => {
  need(paths.etcd);
  need(paths['kube-apiserver']);
  const dir = mkdtempSync(join(tmpdir(), 'native6-smoke-'));
  const children: ChildProcess[] = [];
  // Last resort if the test runner goes away mid-test.
  const killAll = () => children.forEach((c) => c.kill('SIGKILL'));
  process.once('exit', killAll);
  try {
    const [clientPort, peerPort] = await freePorts('127.0.0.1', 2);
    const [apiPort] = await freePorts('::1', 1);
    const etcdUrl = `http://127.0.0.1:${clientPort}`;
    const peerUrl = `http://127.0.0.1:${peerPort}`;

    const t0 = performance.now();
    const etcd = start(paths.etcd, [
      '--name=smoke',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=smoke=${peerUrl}`,
      '--initial-cluster-state=new',
    ]);
    children.push(etcd.child);
    const etcdMs = await until200(`${etcdUrl}/health`, 30_000, httpGet, {}, etcd.exited, etcd.log);

    // Keys: the service-account signing key from Node, the serving
    // certificate (self-signed, for ::1 only) from openssl.
    const sa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(join(dir, 'sa.key'), sa.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(join(dir, 'sa.pub'), sa.publicKey.export({ type: 'spki', format: 'pem' }));
    const crt = join(dir, 'serving.crt');
    const key = join(dir, 'serving.key');
    const openssl = await exec('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', key, '-out', crt, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:::1,DNS:localhost',
    ], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
    assert.equal(openssl.code, 0, `openssl (Debian package openssl) failed: ${openssl.stderr}`);
    // AlwaysAllow turns anonymous requests off: /readyz is asked with a static token.
    const token = randomBytes(24).toString('hex');
    writeFileSync(join(dir, 'tokens.csv'), `${token},smoke,smoke,system:masters\n`);

    mkdirSync(join(dir, 'certs'));
    const api = start(paths['kube-apiserver'], [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=::1',
      '--advertise-address=::1', // the service range is IPv6: the families must match
      `--secure-port=${apiPort}`,
      '--endpoint-reconciler-type=none', // no Endpoints for default/kubernetes (::1 is not a valid endpoint)
      `--tls-cert-file=${crt}`,
      `--tls-private-key-file=${key}`,
      `--cert-dir=${join(dir, 'certs')}`,
      `--service-account-key-file=${join(dir, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
      '--service-account-issuer=https://kubernetes.default.svc',
      '--service-cluster-ip-range=2001:db8:0:5ec::/112',
      '--authorization-mode=AlwaysAllow',
      `--token-auth-file=${join(dir, 'tokens.csv')}`,
      '--profiling=false',
    ]);
    children.push(api.child);
    const ca = readFileSync(crt, 'utf8');
    const readyz = `https://[::1]:${apiPort}/readyz`;
    const apiMs = await until200(readyz, 60_000, httpsGet, { ca, headers: { authorization: `Bearer ${token}` } }, () => api.exited() ?? etcd.exited(), api.log);
    t.diagnostic(
      `etcd healthy after ${(etcdMs / 1000).toFixed(1)} s; kube-apiserver /readyz 200 after ${(apiMs / 1000).toFixed(1)} s ` +
        `(${((performance.now() - t0) / 1000).toFixed(1)} s from etcd's start)`,
    );
  } finally {
    for (const c of children.reverse()) await stop(c);
    process.removeListener('exit', killAll);
    rmSync(dir, { recursive: true, force: true });
  }
});
