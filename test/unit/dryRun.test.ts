// The server half of `npm run validate` as it talks to the API
// (lib/validate/dryRun.ts), against a KubeClient faked in memory: the
// staging (the tree's CRDs and Namespaces for real, Flux's namespace made,
// the rest as a dry run), a bounded number of requests at once, the API
// server's words mapped back to the file and object, a kind discovery does
// not know. The real server: test/integration/validate.test.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeError, type KubeClient, type ObjectRef } from '../../lib/kube/client.js';
import { apiMessage, FIELD_MANAGER, installCrds, submitObjects, waitEstablished } from '../../lib/validate/dryRun.js';
import type { BuildOwner, BuildTarget, BuiltObject } from '../../lib/validate/kustomizeBuild.js';

const OWNER: BuildOwner = { file: 'clusters/demo/apps.yaml', line: 8, col: 3, path: 'spec.path', label: 'Kustomization flux-system/apps', postBuild: false };

function target(owner: BuildOwner = OWNER): BuildTarget {
  return { key: owner.file, dir: '/src/apps', overlay: {}, components: [], ignoreMissingComponents: false, owners: [owner] };
}

function built(object: Record<string, unknown>, source?: string, t: BuildTarget = target()): BuiltObject {
  return { object, source, target: t };
}

function status(code: number, reason: string, message: string): string {
  return JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason, code, message });
}

interface Call {
  readonly method: string;
  readonly path: string;
  readonly dryRun?: boolean;
  readonly fieldManager?: string;
}

/**
 * A KubeClient in memory: discovery knows v1 and apps/v1 (and the groups
 * `served` adds), apply answers what `refuse` says for a path, the CRD list
 * is `crds`; every call is recorded, and the most requests in flight at once.
 */
function fakeClient(opts: { refuse?: (path: string) => Error | undefined; crds?: () => unknown[]; namespaceExists?: boolean; delayMs?: number; served?: Record<string, string[]> } = {}) {
  const calls: Call[] = [];
  const served: Record<string, string[]> = { v1: ['ConfigMap', 'Namespace', 'Service'], 'apps/v1': ['Deployment'], 'apiextensions.k8s.io/v1': ['CustomResourceDefinition'], ...opts.served };
  const plural = (kind: string): string => `${kind.toLowerCase()}s`;
  let inFlight = 0;
  let maxInFlight = 0;
  const unused = (): never => {
    throw new Error('not used by the dry run');
  };
  const client: KubeClient = {
    server: 'https://[::1]:6443',
    async request<T>(method: string, path: string): Promise<T> {
      calls.push({ method, path });
      if (method === 'POST' && path === '/api/v1/namespaces' && opts.namespaceExists) throw new KubeError(method, path, 409, status(409, 'AlreadyExists', 'namespaces "flux-system" already exists'));
      return {} as T;
    },
    async get<T>(path: string): Promise<T> {
      calls.push({ method: 'GET', path });
      return { items: opts.crds?.() ?? [] } as T;
    },
    async find<T>(path: string): Promise<T | undefined> {
      calls.push({ method: 'GET', path });
      const gv = path.replace(/^\/apis?\//, '');
      return (served[gv] ? { resources: served[gv].map((kind) => ({ kind })) } : undefined) as T | undefined;
    },
    async apply<T>(path: string, _object: unknown, fieldManager: string, options: { readonly dryRun?: boolean } = {}): Promise<T> {
      calls.push({ method: 'APPLY', path, dryRun: options.dryRun === true, fieldManager });
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        await new Promise((r) => setTimeout(r, opts.delayMs ?? 1));
        const refusal = opts.refuse?.(path);
        if (refusal) throw refusal;
        return {} as T;
      } finally {
        inFlight--;
      }
    },
    mergePatch: unused,
    delete: unused,
    async pathOf(o: ObjectRef): Promise<string> {
      if (!served[o.apiVersion]?.includes(o.kind)) throw new Error(`no API path for ${o.apiVersion} ${o.kind} ${o.metadata.name}: Unrecognized API version and kind`);
      const base = o.apiVersion.includes('/') ? `/apis/${o.apiVersion}` : `/api/${o.apiVersion}`;
      const namespaced = o.kind !== 'Namespace' && o.kind !== 'CustomResourceDefinition';
      return `${base}${namespaced ? `/namespaces/${o.metadata.namespace ?? 'default'}` : ''}/${plural(o.kind)}/${o.metadata.name}`;
    },
    watch: unused,
  };
  return { client, calls, maxInFlight: () => maxInFlight };
}

const display = (abs: string): string => abs;

test("apiMessage: the API server's Status message, without the client's method and path; other errors as they are", () => {
  const e = new KubeError('PATCH', '/api/v1/namespaces/wbe/configmaps/x?fieldManager=kustomize-controller', 404, status(404, 'NotFound', 'namespaces "wbe" not found'));
  assert.equal(apiMessage(e), 'namespaces "wbe" not found');
  assert.equal(apiMessage(new KubeError('PATCH', '/x', 502, 'Bad Gateway')), '502 Bad Gateway');
  assert.equal(apiMessage(new Error('PATCH /x: no answer in 60000 ms')), 'PATCH /x: no answer in 60000 ms');
});

test("the tree's CRDs and Namespaces are applied for real first, Flux's namespace is made, the rest is a dry run, each distinct object once", async () => {
  const f = fakeClient({ crds: () => [{ metadata: { name: 'widgets.example.com' }, status: { conditions: [{ type: 'Established', status: 'True' }] } }] });
  const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings', namespace: 'web' } };
  const postBuild = target({ ...OWNER, label: 'Kustomization flux-system/subst', postBuild: true });
  const r = await submitObjects(
    f.client,
    [
      built(cm),
      built({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'web' } }),
      built({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'widgets.example.com' } }),
      built(structuredClone(cm)),
      built({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'later', namespace: 'web' } }, undefined, postBuild),
    ],
    { display },
  );
  assert.deepEqual(r, { issues: [], submitted: 3, notSubmitted: 1 });
  const applies = f.calls.filter((c) => c.method === 'APPLY');
  assert.deepEqual(
    applies.map((c) => [c.path, c.dryRun]).sort(),
    [
      ['/api/v1/namespaces/web', false],
      ['/api/v1/namespaces/web/configmaps/settings', true],
      ['/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com', false],
    ].sort(),
  );
  assert.ok(applies.every((c) => c.fieldManager === FIELD_MANAGER));
  const order = f.calls.map((c) => `${c.method} ${c.path}`);
  const dry = order.indexOf('APPLY /api/v1/namespaces/web/configmaps/settings');
  assert.ok(order.indexOf('GET /apis/apiextensions.k8s.io/v1/customresourcedefinitions') < dry, 'the CRDs are Established before the dry run');
  assert.ok(order.indexOf('POST /api/v1/namespaces') < dry, "Flux's namespace is made before the dry run");
});

test("Flux's namespace: not made when the tree has it, and one already there is fine", async () => {
  const ns = built({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'flux-system' } });
  const has = fakeClient();
  await submitObjects(has.client, [ns], { display });
  assert.deepEqual(has.calls.filter((c) => c.method === 'POST'), []);
  const there = fakeClient({ namespaceExists: true });
  const r = await submitObjects(there.client, [built({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a', namespace: 'flux-system' } })], { display });
  assert.deepEqual(r.issues, []);
});

test('a bounded number of requests at once (8 by default, or as asked), every object submitted', async () => {
  const objects = Array.from({ length: 30 }, (_, i) => built({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `c${i}`, namespace: 'default' } }));
  const byDefault = fakeClient({ delayMs: 5 });
  assert.equal((await submitObjects(byDefault.client, objects, { display })).submitted, 30);
  assert.equal(byDefault.maxInFlight(), 8);
  assert.equal(byDefault.calls.filter((c) => c.method === 'APPLY').length, 30);
  const three = fakeClient({ delayMs: 5 });
  await submitObjects(three.client, objects, { display, concurrency: 3 });
  assert.equal(three.maxInFlight(), 3);
});

test("a refusal is the API server's words on the object's file, at the field it names; a failure that is no answer says so", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'native6-dryrun-test-'));
  try {
    const file = join(dir, 'web.yaml');
    writeFileSync(
      file,
      [
        'apiVersion: v1',
        'kind: ConfigMap',
        'metadata:',
        '  name: settings',
        '  namespace: wbe',
        '---',
        'apiVersion: apps/v1',
        'kind: Deployment',
        'metadata:',
        '  name: web',
        '  namespace: web',
        'spec:',
        '  replicas: 1',
        '',
      ].join('\n'),
    );
    const f = fakeClient({
      refuse: (path) => {
        if (path.includes('/configmaps/settings')) return new KubeError('PATCH', path, 404, status(404, 'NotFound', 'namespaces "wbe" not found'));
        if (path.includes('/deployments/web')) return new KubeError('PATCH', path, 422, status(422, 'Invalid', 'Deployment.apps "web" is invalid: spec.replicas: Invalid value: 1: nope'));
        if (path.includes('/services/')) return new Error(`PATCH ${path}: no answer in 60000 ms`);
        return undefined;
      },
    });
    const r = await submitObjects(
      f.client,
      [
        built({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'web' }, spec: { replicas: 1 } }, file),
        built({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings', namespace: 'wbe' } }, file),
        built({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'web' } }),
      ],
      { display },
    );
    const via = 'server-side dry run, as built for Kustomization flux-system/apps';
    // Sorted by file (the temporary folder's absolute path first), then line.
    assert.deepEqual(r.issues, [
      { file, line: 1, col: 1, path: '', message: `ConfigMap wbe/settings: the API server refused it (${via}): namespaces "wbe" not found` },
      { file, line: 13, col: 3, path: 'spec.replicas', message: `Deployment web/web: the API server refused it (${via}): Deployment.apps "web" is invalid: spec.replicas: Invalid value: 1: nope` },
      { file: 'clusters/demo/apps.yaml', line: 8, col: 3, path: '', message: `Service web/web: it could not be submitted (${via}): PATCH /api/v1/namespaces/web/services/web: no answer in 60000 ms` },
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a kind discovery does not know is an issue naming the object: its group and version not served, or served without it', async () => {
  const f = fakeClient({ served: { 'example.com/v1': ['Gadget'] } });
  const own = target({ ...OWNER, label: 'kustomization', file: 'apps/widgets/kustomization.yaml', line: 1, col: 1, path: '' });
  const r = await submitObjects(
    f.client,
    [
      built({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w', namespace: 'default' } }, undefined, own),
      built({ apiVersion: 'nothing.example.com/v1', kind: 'Widget', metadata: { name: 'w' } }, undefined, own),
    ],
    { display },
  );
  assert.deepEqual(
    r.issues.map((i) => i.message),
    [
      'Widget default/w: the API server does not serve its kind (server-side dry run): example.com/v1 has no kind Widget',
      'Widget w: the API server does not serve its kind (server-side dry run): no API group version nothing.example.com/v1',
    ],
  );
  assert.deepEqual(f.calls.filter((c) => c.method === 'APPLY'), [], 'nothing without a path is applied');
});

test('the pinned CRD files are applied for real, then waited for until Established: one list of the CRDs each look', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'native6-dryrun-test-'));
  try {
    const file = join(dir, 'crds.yaml');
    const crd = (name: string): string => `apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: ${name}\n`;
    writeFileSync(file, `${crd('a.example.com')}---\n${crd('b.example.com')}`);
    let looks = 0;
    const established = (name: string) => ({ metadata: { name }, status: { conditions: [{ type: 'Established', status: 'True' }] } });
    const f = fakeClient({ crds: () => (++looks < 3 ? [established('a.example.com')] : [established('a.example.com'), established('b.example.com')]) });
    assert.equal(await installCrds(f.client, [file]), 2);
    assert.equal(looks, 3);
    assert.deepEqual(
      f.calls.filter((c) => c.method === 'APPLY').map((c) => [c.path, c.dryRun, c.fieldManager]).sort(),
      [
        ['/apis/apiextensions.k8s.io/v1/customresourcedefinitions/a.example.com', false, FIELD_MANAGER],
        ['/apis/apiextensions.k8s.io/v1/customresourcedefinitions/b.example.com', false, FIELD_MANAGER],
      ],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('CRDs that never become Established: the wait ends naming them', async () => {
  const f = fakeClient({ crds: () => [{ metadata: { name: 'a.example.com' }, status: { conditions: [{ type: 'Established', status: 'True' }] } }] });
  await assert.rejects(waitEstablished(f.client, ['a.example.com', 'b.example.com'], 300), /^WaitTimeout: CustomResourceDefinitions Established: not after 0\.3 s \(\d+ looks\); last: not Established: b\.example\.com$/);
  await waitEstablished(f.client, [], 0);
});
