// The product's Kubernetes client (lib/kube/client.ts, carried by
// @kubernetes/client-node) against a real kube-apiserver (etcd +
// kube-apiserver on loopback, built by `npm run setup`):
//
// - a kubeconfig whose user is an exec credential plugin (what most managed
//   and bare-metal clusters hand out) authenticates; a plugin that answers a
//   wrong token is refused with the API's 401;
// - a kubeconfig with proxy-url reaches the API through an HTTP CONNECT proxy;
// - server-side apply with a field manager, forced over another manager's
//   field; a dry run stores nothing; every field the product applies comes
//   back (nothing dropped on the way);
// - a reflector's copy (list, then watches the server ends every second) matches a LIST;
// - list with a label selector, watch (ADDED, DELETED, then aborted), delete
//   with a precondition (a wrong uid is a 409) and missingOk;
// - discovery finds a CRD's path once it is Established, and names an
//   unknown kind.
//
// Everything is removed in `finally`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { KubeError, kubeClient, tokenKubeClient, type KubeClient, type WatchEvent } from '../../lib/kube/client.js';
import { crdsEstablished } from '../../lib/kube/objects.js';
import { Reflector } from '../../lib/kube/reflector.js';
import { kubeconfigFor, startApiServer, type ApiServer } from '../../lib/toolchain/apiServer.js';
import { DEFAULT_CACHE_DIR } from '../../lib/toolchain/repo.js';
import { waitFor, waitUntil } from '../../lib/phases/wait.js';
import { needApiServer } from '../apiserver.js';

interface Obj {
  metadata: { name: string; namespace?: string; uid: string; labels?: Record<string, string>; managedFields?: Array<{ manager: string }> };
  data?: Record<string, string>;
  [k: string]: unknown;
}

/** A kubeconfig for `api` whose user runs `command args` for its credential. */
function execKubeconfig(api: ApiServer, command: string, args: readonly string[]): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster: { server: api.server, 'certificate-authority-data': Buffer.from(api.ca).toString('base64') } }],
    users: [{ name: 'u', user: { exec: { apiVersion: 'client.authentication.k8s.io/v1', command, args: [...args], interactiveMode: 'Never' } } }],
    contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u' } }],
    'current-context': 'ctx',
  });
}

/** A credential plugin: writes one line per call to `calls`, answers `token`. */
function plugin(dir: string, name: string, token: string): { file: string; calls: string } {
  const file = join(dir, `${name}.mjs`);
  const calls = join(dir, `${name}.calls`);
  writeFileSync(calls, '');
  writeFileSync(
    file,
    `import { appendFileSync } from 'node:fs';\n` +
      `appendFileSync(${JSON.stringify(calls)}, 'call\\n');\n` +
      `process.stdout.write(JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status: { token: ${JSON.stringify(token)} } }));\n`,
  );
  return { file, calls };
}

/** An HTTP CONNECT proxy on loopback that counts the tunnels it opens. */
async function connectProxy(): Promise<{ server: Server; url: string; tunnels: () => number }> {
  let tunnels = 0;
  const open = new Set<{ destroy(): void }>();
  const server = createServer((_req, res) => res.writeHead(405).end());
  // Tunnels are not the server's connections any more: close() ends them too.
  const close = server.close.bind(server);
  server.close = (cb) => {
    for (const s of open) s.destroy();
    return close(cb);
  };
  server.on('connect', (req, socket, head) => {
    open.add(socket);
    // host:port, the host bracketed or not ("[::1]:6443" or "::1:6443": hpagent sends the latter).
    const authority = req.url ?? '';
    const at = authority.lastIndexOf(':');
    const upstream = connect(Number(authority.slice(at + 1)), authority.slice(0, at).replace(/^\[|\]$/g, ''), () => {
      tunnels += 1;
      open.add(upstream);
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
  });
  // By name, on IPv4 loopback: the library's proxy agent (hpagent) dials URL.hostname, which keeps an IPv6
  // literal's brackets ("getaddrinfo ENOTFOUND [::1]"), so a proxy named by an IPv6 literal cannot work.
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  return { server, url: `http://localhost:${(server.address() as AddressInfo).port}`, tunnels: () => tunnels };
}

test('the Kubernetes client against a real kube-apiserver: exec plugin, proxy, apply, list, watch, delete, discovery', { timeout: 180_000 }, async (t) => {
  needApiServer();
  const dir = mkdtempSync(join(tmpdir(), 'native6-kube-'));
  let api: ApiServer | undefined;
  let proxy: Server | undefined;
  try {
    api = await startApiServer({ cacheDir: DEFAULT_CACHE_DIR });
    const admin: KubeClient = tokenKubeClient(api.server, api.ca, api.token);
    const ns = 'kube-client-test';
    await admin.apply(`/api/v1/namespaces/${ns}`, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }, 'native6-test');

    await t.test('an exec credential plugin authenticates; a wrong token is a 401', async () => {
      const good = plugin(dir, 'good', api!.token);
      const client = kubeClient(execKubeconfig(api!, process.execPath, [good.file]));
      const got = await client.get<{ metadata: { name: string } }>(`/api/v1/namespaces/${ns}`);
      assert.equal(got.metadata.name, ns);
      assert.ok(readFileSync(good.calls, 'utf8').split('\n').filter(Boolean).length >= 1, 'the plugin was run');

      const bad = plugin(dir, 'bad', 'not-the-token');
      const refused = kubeClient(execKubeconfig(api!, process.execPath, [bad.file]));
      await assert.rejects(refused.get(`/api/v1/namespaces/${ns}`), (e: unknown) => e instanceof KubeError && e.status === 401);
      assert.ok(readFileSync(bad.calls, 'utf8').length > 0, 'the refused plugin was run too');
    });

    await t.test('proxy-url: the API is reached through the proxy', async () => {
      const p = await connectProxy();
      proxy = p.server;
      const text = stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: { server: api!.server, 'certificate-authority-data': Buffer.from(api!.ca).toString('base64'), 'proxy-url': p.url } }],
        users: [{ name: 'u', user: { token: api!.token } }],
        contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'ctx',
      });
      const before = p.tunnels();
      const got = await kubeClient(text).get<{ metadata: { name: string } }>(`/api/v1/namespaces/${ns}`);
      assert.equal(got.metadata.name, ns);
      assert.ok(p.tunnels() > before, `the request went through the proxy (${p.tunnels()} tunnels)`);
    });

    await t.test('tls-server-name: the certificate is checked against the name given, not the server address', async () => {
      // The ephemeral server's certificate names ::1 and localhost: reached at [::1], it is checked as the given name.
      const text = kubeconfigFor(api!.server, api!.ca, api!.token);
      const named = await kubeClient(text, { tlsServerName: 'localhost' }).get<{ metadata: { name: string } }>(`/api/v1/namespaces/${ns}`);
      assert.equal(named.metadata.name, ns);
      await assert.rejects(kubeClient(text, { tlsServerName: 'kubernetes.default.svc' }).get(`/api/v1/namespaces/${ns}`), (e: unknown) => /kubernetes\.default\.svc|altnames|certificate/i.test(String((e as Error).message) + String((e as Error).cause ?? '')));
    });

    await t.test('server-side apply: field manager, force, dry run, nothing dropped', async () => {
      const path = await admin.pathOf({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'owned', namespace: ns } });
      assert.equal(path, `/api/v1/namespaces/${ns}/configmaps/owned`);
      const cm = (value: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'owned', namespace: ns, labels: { app: 'kube-client-test' } }, data: { key: value } });
      await admin.apply(path, cm('a'), 'manager-a');
      const forced = await admin.apply<Obj>(path, cm('b'), 'manager-b');
      assert.equal(forced.data?.key, 'b');
      assert.ok(forced.metadata.managedFields?.some((f) => f.manager === 'manager-b'), 'manager-b owns what it applied');

      const dryPath = `/api/v1/namespaces/${ns}/configmaps/dry`;
      const dry = await admin.apply<Obj>(dryPath, { ...cm('c'), metadata: { name: 'dry', namespace: ns } }, 'manager-a', { dryRun: true });
      assert.equal(dry.data?.key, 'c', 'the dry run answers the object');
      assert.equal(await admin.find(dryPath), undefined, 'a dry run stores nothing');

      // A Deployment with fields the library's typed models could drop: all of them come back.
      const deployment = {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'echo', namespace: ns, labels: { app: 'echo' }, annotations: { 'native6.dev/note': 'kept' } },
        spec: {
          replicas: 2,
          revisionHistoryLimit: 3,
          selector: { matchLabels: { app: 'echo' } },
          strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '50%', maxUnavailable: 0 } },
          template: {
            metadata: { labels: { app: 'echo' } },
            spec: {
              automountServiceAccountToken: false,
              securityContext: { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } },
              topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { app: 'echo' } } }],
              containers: [
                {
                  name: 'echo',
                  image: 'registry.k8s.io/e2e-test-images/agnhost:2.53',
                  args: ['netexec', '--http-port=8080'],
                  ports: [{ name: 'http', containerPort: 8080 }],
                  resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { memory: '64Mi' } },
                  securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
                },
              ],
            },
          },
        },
      };
      const stored = await admin.apply<Record<string, unknown>>(await admin.pathOf(deployment), deployment, 'native6-test');
      assertContains(stored, deployment, 'Deployment');
    });

    await t.test('list with a label selector, watch, delete with a precondition', async () => {
      const base = `/api/v1/namespaces/${ns}/configmaps`;
      const events: Array<WatchEvent<Obj>> = [];
      const aborter = new AbortController();
      const watching = admin.watch<Obj>(`${base}?labelSelector=${encodeURIComponent('watch=yes')}`, (e) => events.push(e), aborter.signal);
      try {
        // The watch is open once the server answers its first request: create until ADDED shows up.
        await admin.apply(`${base}/watched`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'watched', namespace: ns, labels: { watch: 'yes' } } }, 'native6-test');
        await admin.apply(`${base}/unwatched`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'unwatched', namespace: ns } }, 'native6-test');
        await waitUntil('the watch saw watched ADDED', async () => events.some((e) => e.type === 'ADDED' && e.object.metadata.name === 'watched'), { timeoutMs: 10_000, intervalMs: 50 });

        const listed = await admin.get<{ items: Obj[] }>(`${base}?labelSelector=${encodeURIComponent('watch=yes')}`);
        assert.deepEqual(listed.items.map((o) => o.metadata.name), ['watched']);

        await assert.rejects(admin.delete(`${base}/watched`, { preconditions: { uid: '00000000-0000-0000-0000-000000000000' } }), (e: unknown) => e instanceof KubeError && e.status === 409);
        const uid = listed.items[0]!.metadata.uid;
        assert.equal(await admin.delete(`${base}/watched`, { preconditions: { uid }, gracePeriodSeconds: 0 }), true);
        assert.equal(await admin.delete(`${base}/watched`, { missingOk: true }), false, 'missingOk answers false on 404');
        await assert.rejects(admin.delete(`${base}/watched`), (e: unknown) => e instanceof KubeError && e.status === 404);
        await waitUntil('the watch saw watched DELETED', async () => events.some((e) => e.type === 'DELETED' && e.object.metadata.name === 'watched'), { timeoutMs: 10_000, intervalMs: 50 });
        assert.ok(!events.some((e) => e.object.metadata?.name === 'unwatched'), 'the label selector reached the watch');
      } finally {
        aborter.abort();
        await watching;
      }
    });

    await t.test('a reflector keeps a copy: listed, then every change by watch, across watches the server ends', async () => {
      const base = `/api/v1/namespaces/${ns}/configmaps`;
      const path = `${base}?labelSelector=${encodeURIComponent('reflect=yes')}`;
      const cm = (name: string, v: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: ns, labels: { reflect: 'yes' } }, data: { v } });
      await admin.apply(`${base}/before`, cm('before', '1'), 'native6-test');
      let changes = 0;
      const aborter = new AbortController();
      // Watches of 1 s: several end while the changes are made, each resumed from the last version seen.
      const reflector = new Reflector<Obj>(admin, path, () => changes++, { watchSeconds: 1, retryMs: 100 });
      const running = reflector.run(aborter.signal);
      const seen = () => reflector.items().map((o) => `${o.metadata.name}=${o.data?.v}`).join(' ');
      try {
        await waitUntil('the first list', async () => reflector.synced, { timeoutMs: 10_000, intervalMs: 20 });
        assert.equal(seen(), 'before=1');
        for (let i = 0; i < 4; i++) {
          await admin.apply(`${base}/c${i}`, cm(`c${i}`, String(i)), 'native6-test');
          await new Promise((res) => setTimeout(res, 700));
        }
        await admin.apply(`${base}/before`, cm('before', '2'), 'native6-test');
        await admin.delete(`${base}/c1`, { gracePeriodSeconds: 0 });
        await waitUntil('the copy matches the server', async () => seen() === 'before=2 c0=0 c2=2 c3=3', { timeoutMs: 15_000, intervalMs: 50 });
        const listed = (await admin.get<{ items: Obj[] }>(path)).items.map((o) => `${o.metadata.name}=${o.data?.v}`).join(' ');
        assert.equal(seen(), listed, 'the copy is what a LIST gives');
        assert.ok(changes >= 7, `every change was told (${changes})`);
      } finally {
        aborter.abort();
        await running;
      }
    });

    await t.test('discovery: a CRD kind once Established; an unknown kind is named', async () => {
      const crd = {
        apiVersion: 'apiextensions.k8s.io/v1',
        kind: 'CustomResourceDefinition',
        metadata: { name: 'widgets.test.native6.dev' },
        spec: {
          group: 'test.native6.dev',
          scope: 'Namespaced',
          names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
          versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
        },
      };
      await assert.rejects(admin.pathOf({ apiVersion: 'test.native6.dev/v1', kind: 'Widget', metadata: { name: 'w', namespace: ns } }), /no API path for test\.native6\.dev\/v1 Widget kube-client-test\/w/);
      await admin.apply(await admin.pathOf(crd), crd, 'native6-test');
      await waitUntil('the Widget CRD Established', () => crdsEstablished(admin, [crd]), { timeoutMs: 30_000, intervalMs: 200 });
      const widget = { apiVersion: 'test.native6.dev/v1', kind: 'Widget', metadata: { name: 'w', namespace: ns }, spec: { size: 3 }, status: { anything: ['the library has no model of it'] } };
      const path = await waitFor('discovery serves Widget', () => admin.pathOf(widget).catch(() => undefined), { timeoutMs: 30_000, intervalMs: 200 });
      assert.equal(path, `/apis/test.native6.dev/v1/namespaces/${ns}/widgets/w`);
      const stored = await admin.apply<Record<string, unknown>>(path, widget, 'native6-test');
      assertContains(stored, { spec: widget.spec }, 'Widget');
      await assert.rejects(admin.pathOf({ apiVersion: 'v1', kind: 'NoSuchKind', metadata: { name: 'x' } }), /no API path for v1 NoSuchKind x/);
    });
  } finally {
    if (proxy) await new Promise((res) => proxy!.close(res));
    await api?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Fails unless every leaf of `want` is in `got` (the server may add defaults, never drop what was applied). */
function assertContains(got: unknown, want: unknown, where: string): void {
  if (Array.isArray(want)) {
    assert.ok(Array.isArray(got), `${where}: an array was dropped`);
    want.forEach((w, i) => assertContains((got as unknown[])[i], w, `${where}[${i}]`));
  } else if (want && typeof want === 'object') {
    assert.ok(got && typeof got === 'object', `${where}: an object was dropped`);
    for (const [k, v] of Object.entries(want)) assertContains((got as Record<string, unknown>)[k], v, `${where}.${k}`);
  } else {
    assert.deepEqual(got, want, `${where}`);
  }
}
