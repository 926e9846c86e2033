/**
 * An ephemeral Kubernetes API server: the pinned etcd and kube-apiserver
 * (built by `npm run setup`, step bin:kubernetes and bin:etcd) on loopback,
 * their state in one folder, AlwaysAllow with a static token, a kubeconfig
 * for it, and a stop that ends both (call it in `finally`). `npm run
 * validate` submits the rendered trees to it; the integration tests start
 * it through test/apiserver.ts.
 *
 * The serving certificate comes from lib/pki (node:crypto), so nothing but
 * the two pinned programs is needed. Readiness is asked of /readyz through
 * the product's Kubernetes client (lib/kube), with the token.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeError, tokenKubeClient } from '../kube/client.js';
import { generateKey, selfSignedCA, signCertificate } from '../pki/x509.js';
import { SetupNeededError } from './cacheDir.js';
import { SETUP_COMMAND, toolPaths } from './pins.js';

export interface ApiServer {
  /** `https://[::1]:<port>`. */
  readonly server: string;
  /** PEM of the CA that signed the serving certificate. */
  readonly ca: string;
  /** A bearer token in system:masters. */
  readonly token: string;
  /** A kubeconfig file for this server (in the server's folder). */
  readonly kubeconfig: string;
  /** How long etcd and kube-apiserver took to become ready, in ms. */
  readonly startMs: number;
  /** etcd's client URL (plain HTTP on loopback): what the API server stores, as stored. */
  readonly etcd: string;
  /** Ends kube-apiserver and etcd (SIGTERM, SIGKILL after 5 s); removes the folder when it made it. Safe to call twice. */
  stop(): Promise<void>;
}

export interface ApiServerOptions {
  readonly cacheDir: string;
  /** An empty folder for the state (the caller removes it); by default a temporary folder, removed by stop(). */
  readonly dir?: string;
  /** 90 s by default. */
  readonly readyTimeoutMs?: number;
  /** Aborting ends the start: what was started is stopped and the start throws. */
  readonly signal?: AbortSignal;
  /** More kube-apiserver flags (e.g. --enable-bootstrap-token-auth). */
  readonly extraArgs?: readonly string[];
}

/** The programs startApiServer needs, each with the setup step that builds it; throws SetupNeededError naming the missing ones. */
export function checkApiServerTools(cacheDir: string): { etcd: string; apiserver: string } {
  const paths = toolPaths(cacheDir);
  const tools = { etcd: paths.etcd, apiserver: paths['kube-apiserver'] };
  const missing = [
    [paths.etcd, 'bin:etcd'],
    [paths['kube-apiserver'], 'bin:kubernetes'],
  ].filter(([f]) => !existsSync(f!));
  if (missing.length > 0) {
    throw new SetupNeededError(`${missing.map(([f]) => f).join(', ')} missing; run \`${SETUP_COMMAND} -- ${[...new Set(missing.map(([, s]) => s))].join(' ')}\``);
  }
  return tools;
}

async function freePort(host: string): Promise<number> {
  const s = createServer();
  await new Promise<void>((res, rej) => s.once('error', rej).listen(0, host, res));
  const port = (s.address() as AddressInfo).port;
  await new Promise((res) => s.close(res));
  return port;
}

function gone(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function daemon(file: string, args: readonly string[]): { child: ChildProcess; out: () => string } {
  let out = '';
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
  const keep = (d: Buffer): void => {
    out = (out + d.toString('utf8')).slice(-8192);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  child.on('error', (e) => keep(Buffer.from(`\n${file}: ${e.message}\n`)));
  return { child, out: () => out };
}

async function end(child: ChildProcess): Promise<void> {
  if (gone(child) || child.pid === undefined) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(t);
}

/** A serving certificate for ::1 and localhost, signed by a fresh CA: [ca, cert, key] as PEM. */
function servingCertificate(): [string, string, string] {
  // Whole seconds: a certificate's times have no fractions.
  const now = Math.floor(Date.now() / 1000) * 1000;
  const notBefore = new Date(now - 60_000);
  const notAfter = new Date(now + 24 * 3600_000);
  const caKey = generateKey();
  const ca = selfSignedCA({ key: caKey, commonName: 'native6-ephemeral-ca', notBefore, notAfter });
  const key = generateKey();
  const cert = signCertificate({
    caKey,
    caCertPem: ca,
    key,
    commonName: 'kube-apiserver',
    organizations: [],
    notBefore,
    notAfter,
    serial: BigInt(`0x${randomBytes(8).toString('hex')}`) + 1n,
    usage: 'server',
    dnsNames: ['localhost'],
    ipAddresses: ['::1'],
  });
  return [ca, cert, key.privateKeyPem];
}

/** A kubeconfig (JSON, which every kubeconfig reader takes as YAML) with the CA inline and the token. */
export function kubeconfigFor(server: string, ca: string, token: string): string {
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'ephemeral', cluster: { server, 'certificate-authority-data': Buffer.from(ca).toString('base64') } }],
    users: [{ name: 'admin', user: { token } }],
    contexts: [{ name: 'ephemeral', context: { cluster: 'ephemeral', user: 'admin', namespace: 'default' } }],
    'current-context': 'ephemeral',
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

/** Starts etcd and kube-apiserver on loopback and waits until /readyz answers ok. */
export async function startApiServer(opts: ApiServerOptions): Promise<ApiServer> {
  const tools = checkApiServerTools(opts.cacheDir);
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'native6-apiserver-'));
  const children: ChildProcess[] = [];
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      for (const c of children.reverse()) await end(c);
      if (ownDir) rmSync(dir, { recursive: true, force: true });
    })());
  const t0 = performance.now();
  const aborted = (): void => {
    if (opts.signal?.aborted) throw new Error('the API server\'s start was cancelled');
  };
  try {
    aborted();
    const [client, peer, api] = [await freePort('127.0.0.1'), await freePort('127.0.0.1'), await freePort('::1')];
    const etcdUrl = `http://127.0.0.1:${client}`;
    const peerUrl = `http://127.0.0.1:${peer}`;
    const etcd = daemon(tools.etcd, [
      '--name=ephemeral',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=ephemeral=${peerUrl}`,
      '--initial-cluster-state=new',
      '--log-level=error',
    ]);
    children.push(etcd.child);
    aborted();
    const sa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(join(dir, 'sa.key'), sa.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(join(dir, 'sa.pub'), sa.publicKey.export({ type: 'spki', format: 'pem' }));
    const [ca, cert, key] = servingCertificate();
    const crt = join(dir, 'serving.crt');
    const keyFile = join(dir, 'serving.key');
    writeFileSync(crt, cert + ca);
    writeFileSync(keyFile, key, { mode: 0o600 });
    const token = randomBytes(24).toString('hex');
    writeFileSync(join(dir, 'tokens.csv'), `${token},admin,admin,system:masters\n`, { mode: 0o600 });
    mkdirSync(join(dir, 'certs'));
    aborted();
    const apiserver = daemon(tools.apiserver, [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=::1',
      '--advertise-address=::1',
      `--secure-port=${api}`,
      '--endpoint-reconciler-type=none',
      `--tls-cert-file=${crt}`,
      `--tls-private-key-file=${keyFile}`,
      `--cert-dir=${join(dir, 'certs')}`,
      `--service-account-key-file=${join(dir, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
      '--service-account-issuer=https://kubernetes.default.svc',
      // IPv6 only, as every cluster of the product.
      '--service-cluster-ip-range=2001:db8:0:5ec::/112',
      '--authorization-mode=AlwaysAllow',
      `--token-auth-file=${join(dir, 'tokens.csv')}`,
      '--profiling=false',
      // As kubeadm runs it: calico-node is privileged.
      '--allow-privileged=true',
      ...(opts.extraArgs ?? []),
    ]);
    children.push(apiserver.child);
    const server = `https://[::1]:${api}`;
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, kubeconfigFor(server, ca, token), { mode: 0o600 });
    const deadline = Date.now() + (opts.readyTimeoutMs ?? 90_000);
    const probe = tokenKubeClient(server, ca, token, { timeoutMs: 2000 });
    let last = 'no answer';
    for (;;) {
      aborted();
      // Not listening yet, or 500 while etcd and the post-start hooks come up: not yet.
      const answer = await probe.request('GET', '/readyz').then(
        (body) => (typeof body === 'string' ? body.trim() : JSON.stringify(body)),
        (e: unknown) => (e instanceof KubeError ? `${e.status}` : (e as Error).message),
      );
      if (answer === 'ok') break;
      last = answer;
      if (gone(apiserver.child) || gone(etcd.child) || Date.now() > deadline) {
        throw new Error(`the API server did not become ready (/readyz: ${last.split('\n')[0]}):\n${apiserver.out()}\n${etcd.out()}`);
      }
      await new Promise((res) => setTimeout(res, 250));
    }
    return { server, ca, token, kubeconfig, startMs: performance.now() - t0, etcd: etcdUrl, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
