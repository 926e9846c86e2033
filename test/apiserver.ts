/**
 * A real API server for integration tests: etcd and kube-apiserver (built by
 * `npm run setup`) on loopback, AlwaysAllow with a static token, a client for
 * it and a stop that ends both (call it in `finally`).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { KubeClient } from '../lib/kube/client.js';
import { DEFAULT_CACHE_DIR } from '../lib/toolchain/repo.js';
import { toolPaths } from '../lib/toolchain/pins.js';
import { need } from './prerequisites.js';

function sh(cmd: string, args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (e) => resolve({ code: 127, stdout, stderr: e.message }));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** Fails, naming the setup step, unless setup has built what apiServer() starts. */
export function needApiServer(): void {
  const paths = toolPaths(DEFAULT_CACHE_DIR);
  need(paths.etcd, 'npm run setup -- bin:etcd');
  need(paths['kube-apiserver'], 'npm run setup -- bin:kubernetes');
}

async function freePort(host: string): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((res, rej) => s.once('error', rej).listen(0, host, res));
  const port = (s.address() as AddressInfo).port;
  await new Promise((res) => s.close(res));
  return port;
}

function start(file: string, args: string[]): { child: ChildProcess; out: () => string } {
  let out = '';
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
  const keep = (d: Buffer) => (out = (out + d.toString('utf8')).slice(-8192));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  return { child, out: () => out };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 5000);
  await gone;
  clearTimeout(t);
}

/** etcd and kube-apiserver on loopback (AlwaysAllow, a static token): a client for it, and a stop. */
export async function apiServer(dir: string): Promise<{ client: KubeClient; stop: () => Promise<void> }> {
  needApiServer();
  const paths = toolPaths(DEFAULT_CACHE_DIR);
  for (const f of [paths.etcd, paths['kube-apiserver']]) assert.ok(existsSync(f), `${f} is missing: run npm run setup`);
  const children: ChildProcess[] = [];
  const stopAll = async () => {
    for (const c of children.reverse()) await stop(c);
  };
  try {
    const [client, peer, api] = [await freePort('127.0.0.1'), await freePort('127.0.0.1'), await freePort('::1')];
    const etcdUrl = `http://127.0.0.1:${client}`;
    const peerUrl = `http://127.0.0.1:${peer}`;
    const etcd = start(paths.etcd, [
      '--name=flux',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=flux=${peerUrl}`,
      '--initial-cluster-state=new',
    ]);
    children.push(etcd.child);
    const sa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(join(dir, 'sa.key'), sa.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(join(dir, 'sa.pub'), sa.publicKey.export({ type: 'spki', format: 'pem' }));
    const crt = join(dir, 'serving.crt');
    const key = join(dir, 'serving.key');
    const ssl = await sh('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', crt, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:::1']);
    assert.equal(ssl.code, 0, ssl.stderr);
    const token = randomBytes(24).toString('hex');
    writeFileSync(join(dir, 'tokens.csv'), `${token},flux-test,flux-test,system:masters\n`);
    mkdirSync(join(dir, 'certs'));
    const apiserver = start(paths['kube-apiserver'], [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=::1',
      '--advertise-address=::1',
      `--secure-port=${api}`,
      '--endpoint-reconciler-type=none',
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
      // As kubeadm runs it: calico-node is privileged.
      '--allow-privileged=true',
    ]);
    children.push(apiserver.child);
    const kube = new KubeClient({ server: `https://[::1]:${api}`, ca: readFileSync(crt, 'utf8'), token });
    const deadline = Date.now() + 90_000;
    for (;;) {
      const ok = await kube.request<string>('GET', '/readyz').then((b) => String(b).trim() === 'ok', () => false);
      if (ok) break;
      if (apiserver.child.exitCode !== null || etcd.child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`the API server did not become ready:\n${apiserver.out()}\n${etcd.out()}`);
      }
      await new Promise((res) => setTimeout(res, 500));
    }
    return { client: kube, stop: stopAll };
  } catch (e) {
    await stopAll();
    throw e;
  }
}

