// The lab's programs as `npm run setup` leaves them in .cache/ (bin:kubernetes,
// bin:etcd, bin:cni): each reports the pinned version, the CNI plugins speak
// the CNI protocol, and etcd + kube-apiserver really start on loopback.
//
// These tests do not build anything: when a program is missing they fail
// and say to run `npm run setup`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
import { SETUP_COMMAND } from '../../lib/toolchain/pins.js';
import { apiServer } from '../apiserver.js';
import { checkGoModPins } from '../../lib/toolchain/steps/labPrograms.js';
import { debianPackagesStep, missingDebianPackages, type Exec } from '../../lib/toolchain/steps/debian.js';
import { DEFAULT_CACHE_DIR, REPO_DIR } from '../../lib/toolchain/repo.js';
import { goModDownload } from '../../lib/toolchain/go.js';

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
    // A program that answers without reading its input (CNI's VERSION) may exit first: EPIPE on
    // our write is then no failure; its answer and exit code are what the tests check.
    child.stdin?.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') throw e;
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
  assert.equal(await step.done!(), false);
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
    assert.equal(await step.done!(), true);

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


test('smoke: etcd and kube-apiserver start on loopback and /readyz answers 200', { timeout: 150_000 }, async (t) => {
  need(paths.etcd);
  need(paths['kube-apiserver']);
  const dir = mkdtempSync(join(tmpdir(), 'native6-smoke-'));
  const t0 = performance.now();
  // etcd and the API server as the other integration tests start them (test/apiserver.ts).
  const api = await apiServer(dir);
  try {
    assert.equal(String(await api.client.request<string>('GET', '/readyz')).trim(), 'ok');
    t.diagnostic(`etcd and kube-apiserver ready (/readyz 200) ${((performance.now() - t0) / 1000).toFixed(1)} s after etcd's start`);
  } finally {
    await api.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
