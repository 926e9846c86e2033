// The Kubernetes client's edges that need no API server, against a TLS
// server on loopback that records what arrives: an OIDC kubeconfig sends its
// id-token, a client certificate is presented, `server` overrides the
// kubeconfig's, bodies go over the wire as given, an API error names the
// request and the API's message, a silent server times out by name.
// (The integration tier drives a real kube-apiserver: exec plugins, proxy,
// server-side apply, watch, delete, discovery.)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { stringify } from 'yaml';
import { KubeError, kubeClient, kubeconfigCluster } from '../../lib/kube/client.js';
import { kubeconfig } from '../../lib/kube/kubeconfig.js';
import { generateKey, selfSignedCA, signCertificate } from '../../lib/pki/x509.js';

const notBefore = new Date(Math.floor(Date.now() / 1000) * 1000 - 3_600_000);
const notAfter = new Date(notBefore.getTime() + 2 * 86_400_000);
const caKey = generateKey();
const ca = selfSignedCA({ key: caKey, commonName: 'test-ca', notBefore, notAfter });
const serverKey = generateKey();
const serverCert = signCertificate({ caKey, caCertPem: ca, key: serverKey, commonName: 'localhost', organizations: [], notBefore, notAfter, serial: 2n, usage: 'server', ipAddresses: ['::1'] });
const clientKey = generateKey();
const clientCert = signCertificate({ caKey, caCertPem: ca, key: clientKey, commonName: 'admin', organizations: ['system:masters'], notBefore, notAfter, serial: 3n, usage: 'client' });

interface Seen {
  method: string;
  url: string;
  authorization?: string;
  contentType?: string;
  body: string;
  clientCN?: string;
}

/** A TLS server on [::1] that records each request and answers `answer(seen)` (status, body); `silent` never answers. */
async function fakeApi(answer: (s: Seen) => [number, unknown] | 'silent'): Promise<{ server: Server; url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer({ key: serverKey.privateKeyPem, cert: serverCert, ca, requestCert: true, rejectUnauthorized: false }, (req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      const peer = (req.socket as import('node:tls').TLSSocket).getPeerCertificate();
      const s: Seen = { method: req.method ?? '', url: req.url ?? '', body, ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}), ...(req.headers['content-type'] ? { contentType: req.headers['content-type'] } : {}), ...(peer?.subject?.CN ? { clientCN: String(peer.subject.CN) } : {}) };
      seen.push(s);
      const a = answer(s);
      if (a === 'silent') return;
      res.writeHead(a[0], { 'Content-Type': 'application/json' }).end(JSON.stringify(a[1]));
    });
  });
  await new Promise<void>((res) => server.listen(0, '::1', res));
  return { server, url: `https://[::1]:${(server.address() as AddressInfo).port}`, seen };
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((res) => server.close(() => res()));
}

const b64url = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

test('an OIDC kubeconfig sends its id-token as the bearer token', async () => {
  const api = await fakeApi(() => [200, { kind: 'Namespace', metadata: { name: 'default' } }]);
  try {
    const idToken = `${b64url({ alg: 'ES256', typ: 'JWT' })}.${b64url({ iss: 'https://issuer.example', sub: 'alice', exp: Math.floor(Date.now() / 1000) + 3600 })}.c2lnbmF0dXJl`;
    const text = stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server: api.url, 'certificate-authority-data': Buffer.from(ca).toString('base64') } }],
      users: [{ name: 'alice', user: { 'auth-provider': { name: 'oidc', config: { 'client-id': 'native6', 'idp-issuer-url': 'https://issuer.example', 'id-token': idToken } } } }],
      contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'alice' } }],
      'current-context': 'ctx',
    });
    await kubeClient(text).get('/api/v1/namespaces/default');
    assert.equal(api.seen[0]?.authorization, `Bearer ${idToken}`);
  } finally {
    await close(api.server);
  }
});

test('a certificate kubeconfig presents its client certificate; `server` overrides the file; bodies go as given', async () => {
  const api = await fakeApi((s) => [200, s.method === 'GET' ? { kind: 'Status' } : JSON.parse(s.body)]);
  try {
    const text = kubeconfig({ clusterName: 'c', server: 'https://[2001:db8::1]:6443', caCertPem: ca, user: 'admin', clientCertPem: clientCert, clientKeyPem: clientKey.privateKeyPem });
    assert.deepEqual(kubeconfigCluster(text), { server: 'https://[2001:db8::1]:6443', caPem: ca });
    const client = kubeClient(text, { server: api.url });
    assert.equal(client.server, api.url);
    // A field no Kubernetes model has, and a null (merge patch's "remove"): both reach the server unchanged.
    const object = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x', namespace: 'y' }, spec: { replicas: 1, fieldFromTheFuture: { a: [1, 'two'] } } };
    await client.apply('/apis/apps/v1/namespaces/y/deployments/x', object, 'native6 apply');
    await client.mergePatch('/api/v1/nodes/n', { spec: { unschedulable: null } });
    await client.delete('/api/v1/namespaces/y/pods/p', { gracePeriodSeconds: 0, preconditions: { uid: 'u-1' } });
    const [apply, patch, del] = api.seen;
    assert.equal(apply?.clientCN, 'admin');
    assert.equal(apply?.method, 'PATCH');
    assert.equal(apply?.url, '/apis/apps/v1/namespaces/y/deployments/x?fieldManager=native6%20apply&force=true');
    assert.equal(apply?.contentType, 'application/apply-patch+yaml');
    assert.deepEqual(JSON.parse(apply!.body), object);
    assert.equal(patch?.contentType, 'application/merge-patch+json');
    assert.deepEqual(JSON.parse(patch!.body), { spec: { unschedulable: null } });
    assert.equal(del?.method, 'DELETE');
    assert.deepEqual(JSON.parse(del!.body), { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0, preconditions: { uid: 'u-1' } });
  } finally {
    await close(api.server);
  }
});

test('an API error names the request, the status and the API message; a 404 is found as undefined', async () => {
  const api = await fakeApi((s) => (s.url.includes('missing') ? [404, { kind: 'Status', message: 'pods "missing" not found' }] : [422, { kind: 'Status', message: 'spec.replicas: Invalid value: -1' }]));
  try {
    const client = kubeClient(kubeconfig({ clusterName: 'c', server: api.url, caCertPem: ca, user: 'admin', clientCertPem: clientCert, clientKeyPem: clientKey.privateKeyPem }));
    await assert.rejects(client.apply('/apis/apps/v1/namespaces/y/deployments/x', {}, 'm'), (e: unknown) => {
      assert.ok(e instanceof KubeError);
      assert.equal(e.status, 422);
      assert.equal(e.message, 'PATCH /apis/apps/v1/namespaces/y/deployments/x?fieldManager=m&force=true: 422 spec.replicas: Invalid value: -1');
      return true;
    });
    assert.equal(await client.find('/api/v1/namespaces/y/pods/missing'), undefined);
    assert.equal(await client.delete('/api/v1/namespaces/y/pods/missing', { missingOk: true }), false);
  } finally {
    await close(api.server);
  }
});

test('a server that never answers fails by name after the timeout', async () => {
  const api = await fakeApi(() => 'silent');
  try {
    const client = kubeClient(kubeconfig({ clusterName: 'c', server: api.url, caCertPem: ca, user: 'admin', clientCertPem: clientCert, clientKeyPem: clientKey.privateKeyPem }), { timeoutMs: 300 });
    await assert.rejects(client.get('/readyz'), /^Error: GET \/readyz: no answer in 300 ms$/);
  } finally {
    await close(api.server);
  }
});

test('a kubeconfig the library cannot read is an error that says kubeconfig', () => {
  assert.throws(() => kubeClient('clusters: [oops'), /^Error: kubeconfig: /);
  assert.throws(() => kubeClient(stringify({ apiVersion: 'v1', kind: 'Config', clusters: [], users: [], contexts: [] })), /kubeconfig has no current cluster/);
});
