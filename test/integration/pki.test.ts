/**
 * The PKI (lib/pki) checked by the programs that will read what it makes:
 * openssl verifies the chain strictly, prints the extensions and computes
 * kubeadm's discovery hash; kubectl talks TLS to a local server with the
 * kubeconfig's client certificate; ssh-keygen reads the SSH key; kubeadm
 * signs its own certificates with the stack's CAs; a real kube-apiserver
 * authenticates the admin certificate. Each program is required: without
 * it the test fails naming what provides it.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { kubeClient } from '../../lib/kube/client.js';
import { kubeconfig } from '../../lib/kube/kubeconfig.js';
import { ADMIN_GROUP, ADMIN_USER, generateClusterSecrets, signAdmin } from '../../lib/pki/clusterSecrets.js';
import { startApiServer } from '../../lib/toolchain/apiServer.js';
import { needApiServer } from '../apiserver.js';
import { need } from '../prerequisites.js';
import { caCertHash, generateKey, selfSignedCA, signCertificate } from '../../lib/pki/x509.js';
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
    assert.match(caText, /X509v3 Basic Constraints: critical\n\s+CA:TRUE, pathlen:0\n/);
    assert.match(caText, /X509v3 Key Usage: critical\n\s+Digital Signature, Certificate Sign, CRL Sign\n/);
    assert.match(caText, /X509v3 Subject Key Identifier: \n\s+([0-9A-F]{2}:){19}[0-9A-F]{2}/);
    const serverText = (await run(OPENSSL, ['x509', '-text', '-noout', '-in', join(dir, 'server.pem')])).stdout;
    assert.match(serverText, /X509v3 Basic Constraints: critical\n\s+CA:FALSE/);
    assert.match(serverText, /X509v3 Key Usage: critical\n\s+Digital Signature\n/);
    assert.match(serverText, /X509v3 Extended Key Usage: \n\s+TLS Web Server Authentication/);
    assert.match(serverText, /X509v3 Authority Key Identifier: \n\s+([0-9A-F]{2}:){19}[0-9A-F]{2}/);
    assert.match(serverText, /X509v3 Subject Alternative Name: \n\s+DNS:kubernetes, DNS:kubernetes.default.svc.cluster.local, IP Address:2001:DB8:2A00:1:0:0:0:1, IP Address:2001:DB8:0:0:0:0:0:0, IP Address:192.0.2.7/);
    const clientText = (await run(OPENSSL, ['x509', '-text', '-noout', '-in', join(dir, 'client.pem')])).stdout;
    assert.match(clientText, /Subject: O = system:masters, CN = kubernetes-admin/);
    assert.match(clientText, /X509v3 Extended Key Usage: \n\s+TLS Web Client Authentication/);
    assert.match(clientText, /X509v3 Key Usage: critical\n\s+Digital Signature\n/);

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

test('openssl refuses a CA that our CA signed: pathLenConstraint 0 lets the cluster CA sign leaves only', async () => {
  const OPENSSL = needProgram('openssl', 'apt-get install openssl (or npm run setup -- debian:packages)');
  const dir = mkdtempSync(join(tmpdir(), 'native6-pki-'));
  try {
    const caKey = generateKey();
    const now = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
    const caPem = selfSignedCA({ key: caKey, commonName: 'kubernetes', notBefore: now, notAfter: new Date(now.getTime() + 86_400_000) });
    const f = (name: string) => join(dir, name);
    writeFileSync(f('ca.pem'), caPem);
    writeFileSync(f('ca.key'), caKey.privateKeyPem, { mode: 0o600 });
    // An intermediate CA signed by ours (openssl does not care what our CA allows when it signs), and a leaf of it.
    writeFileSync(f('ext.cnf'), '[ca]\nbasicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign, cRLSign, digitalSignature\n[leaf]\nbasicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\nextendedKeyUsage = clientAuth\n');
    for (const [name, cn] of [['int', 'intermediate'], ['leaf', 'someone']] as const) {
      await run(OPENSSL, ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', f(`${name}.key`)]);
      await run(OPENSSL, ['req', '-new', '-key', f(`${name}.key`), '-subj', `/CN=${cn}`, '-out', f(`${name}.csr`)]);
    }
    await run(OPENSSL, ['x509', '-req', '-in', f('int.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-set_serial', '5', '-days', '1', '-extfile', f('ext.cnf'), '-extensions', 'ca', '-out', f('int.pem')]);
    await run(OPENSSL, ['x509', '-req', '-in', f('leaf.csr'), '-CA', f('int.pem'), '-CAkey', f('int.key'), '-set_serial', '6', '-days', '1', '-extfile', f('ext.cnf'), '-extensions', 'leaf', '-out', f('leaf.pem')]);
    // The intermediate itself is a certificate our CA signed: it verifies.
    assert.equal((await run(OPENSSL, ['verify', '-x509_strict', '-CAfile', f('ca.pem'), f('int.pem')])).stdout.trim(), `${f('int.pem')}: OK`);
    // A leaf under it does not: the chain is one CA too long for pathlen:0.
    const refused = await run(OPENSSL, ['verify', '-x509_strict', '-CAfile', f('ca.pem'), '-untrusted', f('int.pem'), f('leaf.pem')]).then(
      () => 'verified',
      (e: { stdout?: string; stderr?: string }) => `${e.stdout ?? ''}${e.stderr ?? ''}`,
    );
    assert.match(refused, /path length constraint exceeded/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('kubeadm makes its certificates from the stack\'s CAs (pathlen:0, no keyEncipherment), and openssl verifies them strictly', async () => {
  const OPENSSL = needProgram('openssl', 'apt-get install openssl (or npm run setup -- debian:packages)');
  const kubeadm = toolPaths(DEFAULT_CACHE_DIR).kubeadm;
  need(kubeadm, 'npm run setup -- bin:kubernetes');
  const dir = mkdtempSync(join(tmpdir(), 'native6-pki-'));
  try {
    const s = generateClusterSecrets('pki');
    const pki = join(dir, 'pki');
    mkdirSync(join(pki, 'etcd'), { recursive: true });
    const files: Array<[string, string]> = [['ca.crt', s.caCertPem], ['ca.key', s.caKeyPem], ['front-proxy-ca.crt', s.frontProxyCaCertPem], ['front-proxy-ca.key', s.frontProxyCaKeyPem], ['etcd/ca.crt', s.etcdCaCertPem], ['etcd/ca.key', s.etcdCaKeyPem]];
    for (const [f, text] of files) writeFileSync(join(pki, f), text, { mode: 0o600 });
    const config = ['apiVersion: kubeadm.k8s.io/v1beta4', 'kind: ClusterConfiguration', 'kubernetesVersion: v1.35.4', `certificatesDir: ${pki}`, 'networking:', '  serviceSubnet: 2001:db8:0:5ec::/112', ''].join('\n');
    writeFileSync(join(dir, 'kubeadm.yaml'), config);
    for (const phase of ['apiserver', 'apiserver-kubelet-client', 'front-proxy-client', 'etcd-server', 'etcd-peer', 'etcd-healthcheck-client', 'apiserver-etcd-client']) {
      execFileSync(kubeadm, ['init', 'phase', 'certs', phase, '--config', join(dir, 'kubeadm.yaml')], { stdio: 'pipe' });
    }
    const chains: Array<[string, string]> = [
      ['ca.crt', 'apiserver.crt'],
      ['ca.crt', 'apiserver-kubelet-client.crt'],
      ['front-proxy-ca.crt', 'front-proxy-client.crt'],
      ['etcd/ca.crt', 'etcd/server.crt'],
      ['etcd/ca.crt', 'etcd/peer.crt'],
      ['etcd/ca.crt', 'etcd/healthcheck-client.crt'],
      ['etcd/ca.crt', 'apiserver-etcd-client.crt'],
    ];
    for (const [ca, cert] of chains) {
      const { stdout } = await run(OPENSSL, ['verify', '-x509_strict', '-CAfile', join(pki, ca), join(pki, cert)]);
      assert.equal(stdout.trim(), `${join(pki, cert)}: OK`, `${cert} under ${ca}`);
    }
    // kubeadm kept our CAs as they were (it signs with them; it makes no CA of its own).
    for (const [f, text] of files) assert.equal(readFileSync(join(pki, f), 'utf8'), text, f);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a real kube-apiserver authenticates the admin certificate (digitalSignature only) of the stack\'s CA (pathlen:0) as native6-admin in kubeadm:cluster-admins', async () => {
  needApiServer();
  const dir = mkdtempSync(join(tmpdir(), 'native6-pki-'));
  try {
    const s = generateClusterSecrets('pki');
    writeFileSync(join(dir, 'client-ca.crt'), s.caCertPem);
    const api = await startApiServer({ cacheDir: DEFAULT_CACHE_DIR, extraArgs: [`--client-ca-file=${join(dir, 'client-ca.crt')}`] });
    try {
      const whoAmI = async (caCertPem: string, caKeyPem: string) => {
        const admin = signAdmin('pki', caCertPem, caKeyPem);
        // kubeconfig() wants the server's CA to be the client's: here the API server serves with a CA of its own.
        const b64 = (pem: string) => Buffer.from(pem).toString('base64');
        const config = {
          apiVersion: 'v1',
          kind: 'Config',
          clusters: [{ name: 'pki', cluster: { server: api.server, 'certificate-authority-data': b64(api.ca) } }],
          users: [{ name: ADMIN_USER, user: { 'client-certificate-data': b64(admin.certPem), 'client-key-data': b64(admin.keyPem) } }],
          contexts: [{ name: 'pki', context: { cluster: 'pki', user: ADMIN_USER } }],
          'current-context': 'pki',
        };
        const client = kubeClient(JSON.stringify(config));
        const review = (await client.request('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' })) as { status: { userInfo: { username: string; groups: string[] } } };
        return review.status.userInfo;
      };
      const me = await whoAmI(s.caCertPem, s.caKeyPem);
      assert.equal(me.username, ADMIN_USER);
      assert.deepEqual([...me.groups].sort(), [ADMIN_GROUP, 'system:authenticated'].sort());
      // The same certificate from another CA is not authenticated (401): the API server checked the chain.
      const other = generateClusterSecrets('other');
      await assert.rejects(whoAmI(other.caCertPem, other.caKeyPem), (e: unknown) => (e as { status?: number }).status === 401);
    } finally {
      await api.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
