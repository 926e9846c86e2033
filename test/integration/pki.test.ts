/**
 * The PKI (lib/pki) checked by the programs that will read what it makes:
 * openssl verifies the chain strictly, prints the extensions and computes
 * kubeadm's discovery hash; kubectl talks TLS to a local server with the
 * kubeconfig's client certificate; ssh-keygen reads the SSH key. Each
 * program is required: without it the test fails naming what provides it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { kubeconfig } from '../../lib/kube/kubeconfig.js';
import { caCertHash, generateKey, signCertificate } from '../../lib/pki/x509.js';
import { generateSshKey } from '../../lib/pki/sshKey.js';
import { DEFAULT_CACHE_DIR } from '../../lib/toolchain/repo.js';
import { toolPaths } from '../../lib/toolchain/pins.js';
import { needProgram } from '../prerequisites.js';
import { ca, leaf } from '../pki-fixture.js';

const execFileAsync = promisify(execFile);
/** Runs a command; resolves with its stdout, rejects when it exits non-zero. */
async function run(cmd: string, args: readonly string[], env?: NodeJS.ProcessEnv): Promise<{ stdout: string }> {
  const { stdout } = await execFileAsync(cmd, args, env === undefined ? {} : { env });
  return { stdout };
}

/** A verification time inside every validity used here (seconds since the epoch, for openssl -attime). */
const AT = Math.floor(new Date('2025-07-01T00:00:00Z').getTime() / 1000);


test('openssl verifies the chain strictly, shows the extensions and computes the same CA hash', async () => {
  const OPENSSL = needProgram('openssl', 'apt-get install openssl (or npm run setup -- debian:packages)');
  const dir = mkdtempSync(join(tmpdir(), 'native6-pki-'));
  try {
    const caKey = generateKey();
    const caPem = ca(caKey, 'kubernetes', 0x80n);
    writeFileSync(join(dir, 'ca.pem'), caPem);
    writeFileSync(join(dir, 'server.pem'), leaf(caKey, caPem, 'server'));
    writeFileSync(join(dir, 'client.pem'), leaf(caKey, caPem, 'client'));
    writeFileSync(join(dir, 'other-ca.pem'), ca());
    for (const f of ['server.pem', 'client.pem']) {
      const { stdout } = await run(OPENSSL, ['verify', '-x509_strict', '-attime', String(AT), '-CAfile', join(dir, 'ca.pem'), join(dir, f)]);
      assert.equal(stdout.trim(), `${join(dir, f)}: OK`);
    }
    await assert.rejects(run(OPENSSL, ['verify', '-attime', String(AT), '-CAfile', join(dir, 'other-ca.pem'), join(dir, 'server.pem')]));
    await run(OPENSSL, ['verify', '-purpose', 'sslserver', '-attime', String(AT), '-CAfile', join(dir, 'ca.pem'), join(dir, 'server.pem')]);
    await assert.rejects(run(OPENSSL, ['verify', '-purpose', 'sslserver', '-attime', String(AT), '-CAfile', join(dir, 'ca.pem'), join(dir, 'client.pem')]), 'a client certificate is no server certificate');

    const caText = (await run(OPENSSL, ['x509', '-text', '-noout', '-in', join(dir, 'ca.pem')])).stdout;
    assert.match(caText, /Version: 3 \(0x2\)/);
    assert.match(caText, /Serial Number: 128 \(0x80\)/);
    assert.match(caText, /Signature Algorithm: ecdsa-with-SHA256/);
    assert.match(caText, /X509v3 Basic Constraints: critical\n\s+CA:TRUE/);
    assert.match(caText, /X509v3 Key Usage: critical\n\s+Digital Signature, Key Encipherment, Certificate Sign/);
    assert.match(caText, /X509v3 Subject Key Identifier: \n\s+([0-9A-F]{2}:){19}[0-9A-F]{2}/);
    const serverText = (await run(OPENSSL, ['x509', '-text', '-noout', '-in', join(dir, 'server.pem')])).stdout;
    assert.match(serverText, /X509v3 Basic Constraints: critical\n\s+CA:FALSE/);
    assert.match(serverText, /X509v3 Key Usage: critical\n\s+Digital Signature, Key Encipherment/);
    assert.match(serverText, /X509v3 Extended Key Usage: \n\s+TLS Web Server Authentication/);
    assert.match(serverText, /X509v3 Authority Key Identifier: \n\s+([0-9A-F]{2}:){19}[0-9A-F]{2}/);
    assert.match(serverText, /X509v3 Subject Alternative Name: \n\s+DNS:kubernetes, DNS:kubernetes.default.svc.cluster.local, IP Address:2001:DB8:2A00:1:0:0:0:1, IP Address:2001:DB8:0:0:0:0:0:0, IP Address:192.0.2.7/);
    const clientText = (await run(OPENSSL, ['x509', '-text', '-noout', '-in', join(dir, 'client.pem')])).stdout;
    assert.match(clientText, /Subject: O = system:masters, CN = kubernetes-admin/);
    assert.match(clientText, /X509v3 Extended Key Usage: \n\s+TLS Web Client Authentication/);

    // kubeadm's documented recipe for the discovery hash.
    const pub = (await run(OPENSSL, ['x509', '-pubkey', '-noout', '-in', join(dir, 'ca.pem')])).stdout;
    writeFileSync(join(dir, 'ca.pub'), pub);
    await run(OPENSSL, ['pkey', '-pubin', '-in', join(dir, 'ca.pub'), '-outform', 'der', '-out', join(dir, 'ca.pub.der')]);
    const { stdout: dgst } = await run(OPENSSL, ['dgst', '-sha256', '-r', join(dir, 'ca.pub.der')]);
    assert.equal(`sha256:${dgst.split(' ')[0]}`, caCertHash(caPem));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('kubectl reaches a TLS server over [::1] with the kubeconfig, both sides verified by the CA', async () => {
  const KUBECTL = needProgram('kubectl', 'npm run setup -- bin:kubernetes', [toolPaths(DEFAULT_CACHE_DIR).kubectl.replace(/\/kubectl$/, '')]);
  const caKey = generateKey();
  const caPem = ca(caKey);
  const now = new Date(Math.floor(Date.now() / 1000) * 1000);
  const until = new Date(now.getTime() + 3600_000);
  const serverKey = generateKey();
  const serverCert = signCertificate({ caKey, caCertPem: caPem, key: serverKey, commonName: 'kube-apiserver', organizations: [], notBefore: new Date(now.getTime() - 60_000), notAfter: until, serial: 10n, usage: 'server', ipAddresses: ['::1'] });
  const clientKey = generateKey();
  const clientCert = signCertificate({ caKey, caCertPem: caPem, key: clientKey, commonName: 'kubernetes-admin', organizations: ['system:masters'], notBefore: new Date(now.getTime() - 60_000), notAfter: until, serial: 11n, usage: 'client' });
  const server = createServer({ key: serverKey.privateKeyPem, cert: serverCert, ca: caPem, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    const peer = (req.socket as TLSSocket).getPeerCertificate();
    res.writeHead(200, { 'content-type': 'text/plain' }).end(`${peer.subject.O}/${peer.subject.CN}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '::1', resolve));
  const dir = mkdtempSync(join(tmpdir(), 'native6-pki-'));
  try {
    const { port } = server.address() as AddressInfo;
    const file = join(dir, 'admin.conf');
    writeFileSync(file, kubeconfig({ clusterName: 'lab', server: `https://[::1]:${port}`, caCertPem: caPem, user: 'kubernetes-admin', clientCertPem: clientCert, clientKeyPem: clientKey.privateKeyPem }), { mode: 0o600 });
    const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: dir, NO_PROXY: '*' };
    const { stdout } = await run(KUBECTL, ['--kubeconfig', file, '--cache-dir', join(dir, 'cache'), '--request-timeout', '10s', 'get', '--raw', '/healthz'], env);
    assert.equal(stdout.trim(), 'system:masters/kubernetes-admin');
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ssh-keygen derives the same public key from the private key file', async () => {
  const SSH_KEYGEN = needProgram('ssh-keygen', 'apt-get install openssh-client (or npm run setup -- debian:packages)');
  const dir = mkdtempSync(join(tmpdir(), 'native6-pki-'));
  try {
    const { privateKeyPem, publicKeyOpenSsh } = generateSshKey();
    const file = join(dir, 'id_ecdsa');
    writeFileSync(file, privateKeyPem, { mode: 0o600 });
    const { stdout } = await run(SSH_KEYGEN, ['-y', '-f', file]);
    const [type, blob] = stdout.trim().split(' ');
    const [ourType, ourBlob] = publicKeyOpenSsh.split(' ');
    assert.equal(type, 'ecdsa-sha2-nistp256');
    assert.equal(type, ourType);
    assert.equal(blob, ourBlob);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
