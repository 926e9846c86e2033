// The validator against small hand-written schemas; no schema cache needed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildCatalog,
  compareParsers,
  formatFileIssue,
  formatPath,
  parsePath,
  parseYamlFile,
  validateObject,
  validateTree,
  validateValue,
  names,
  type Catalog,
  type FsView,
  type GoDoc,
  type Schema,
} from '../../lib/validate/index.js';
import { PhaseError } from '../../lib/phases/phase.js';
import { runSteps, type Step } from '../../lib/toolchain/steps/step.js';

const META = 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta';

/** A miniature OpenAPI v3 document in the shape Kubernetes publishes. */
const openapi = {
  openapi: '3.0.0',
  paths: {
    '/api/v1/namespaces/{namespace}/widgets': {
      post: { 'x-kubernetes-action': 'post', 'x-kubernetes-group-version-kind': { group: '', version: 'v1', kind: 'Widget' } },
    },
  },
  components: {
    schemas: {
      [META]: {
        type: 'object',
        properties: {
          name: { type: 'string' },
          namespace: { type: 'string' },
          labels: { type: 'object', additionalProperties: { type: 'string' } },
          annotations: { type: 'object', additionalProperties: { type: 'string' } },
        },
      },
      'io.k8s.apimachinery.pkg.util.intstr.IntOrString': {
        format: 'int-or-string',
        oneOf: [{ type: 'integer' }, { type: 'string' }],
      },
      'test.Port': {
        type: 'object',
        required: ['port'],
        properties: {
          name: { type: 'string' },
          port: { type: 'integer', format: 'int32' },
          protocol: { type: 'string', default: 'TCP', enum: ['TCP', 'UDP', 'SCTP'] },
          targetPort: { allOf: [{ $ref: '#/components/schemas/io.k8s.apimachinery.pkg.util.intstr.IntOrString' }] },
        },
      },
      'test.WidgetSpec': {
        type: 'object',
        required: ['size'],
        properties: {
          size: { type: 'integer', minimum: 1, maximum: 10 },
          mode: { type: 'string', enum: ['Fast', 'Slow'] },
          ports: {
            type: 'array',
            items: { allOf: [{ $ref: '#/components/schemas/test.Port' }] },
            'x-kubernetes-list-type': 'map',
            'x-kubernetes-list-map-keys': ['port', 'protocol'],
          },
          free: { type: 'object' },
          note: { type: 'string', nullable: true, maxLength: 5 },
        },
      },
      'test.Widget': {
        type: 'object',
        'x-kubernetes-group-version-kind': [{ group: '', version: 'v1', kind: 'Widget' }],
        properties: {
          apiVersion: { type: 'string' },
          kind: { type: 'string' },
          metadata: { allOf: [{ $ref: `#/components/schemas/${META}` }], default: {} },
          spec: { allOf: [{ $ref: '#/components/schemas/test.WidgetSpec' }], default: {} },
        },
      },
    },
  },
};

/** A miniature CRD, cluster-scoped. */
const crd = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'gadgets.example.org' },
  spec: {
    group: 'example.org',
    names: { kind: 'Gadget', plural: 'gadgets' },
    scope: 'Cluster',
    versions: [
      { name: 'v1alpha1', served: false, storage: false, schema: { openAPIV3Schema: { type: 'object' } } },
      {
        name: 'v1',
        served: true,
        storage: true,
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: {
              apiVersion: { type: 'string' },
              kind: { type: 'string' },
              metadata: { type: 'object' },
              spec: {
                type: 'object',
                required: ['cidr'],
                properties: {
                  cidr: { type: 'string' },
                  level: { type: 'string', pattern: '^(?i)(Debug|Info)?$' },
                  port: { anyOf: [{ type: 'integer' }, { type: 'string' }], 'x-kubernetes-int-or-string': true },
                  extra: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
                  closed: { type: 'object' },
                  template: {
                    type: 'object',
                    'x-kubernetes-embedded-resource': true,
                    properties: { spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
                  },
                },
              },
            },
          },
        },
      },
    ],
  },
};

function catalog(): Catalog {
  return buildCatalog({
    openapi: [{ source: 'Test v1', doc: openapi }],
    crds: [{ source: 'Gadgets v1', crd }],
    label: 'Test v1, Gadgets v1',
  });
}

const widget = (spec: Record<string, unknown>, metadata: Record<string, unknown> = { name: 'w', namespace: 'default' }) => ({
  apiVersion: 'v1',
  kind: 'Widget',
  metadata,
  spec,
});
const gadget = (spec: Record<string, unknown>, metadata: Record<string, unknown> = { name: 'g' }) => ({
  apiVersion: 'example.org/v1',
  kind: 'Gadget',
  metadata,
  spec,
});

test('a valid object has no issues', () => {
  const c = catalog();
  assert.deepEqual(validateObject(widget({ size: 3, mode: 'Fast', ports: [{ port: 80, targetPort: 'http' }] }), c), []);
  assert.deepEqual(validateObject(gadget({ cidr: 'fd00::/48', level: 'info', port: 8080 }), c), []);
});

test('catalog: served CRD versions only, scope, GVK mapping', () => {
  const c = catalog();
  assert.ok(c.kinds.has('example.org/v1 Gadget'));
  assert.ok(!c.kinds.has('example.org/v1alpha1 Gadget'));
  assert.equal(c.kinds.get('example.org/v1 Gadget')!.namespaced, false);
  assert.equal(c.kinds.get('v1 Widget')!.namespaced, true);
});

test('unknown field is an error with the exact path and a suggestion', () => {
  const issues = validateObject(widget({ size: 3, ports: [{ port: 80, prot: 'TCP' }] }), catalog());
  assert.deepEqual(issues, [{ path: 'spec.ports[0].prot', message: 'unknown field "prot" (did you mean "port"?)' }]);
  const top = validateObject({ ...widget({ size: 1 }), sepc: {} }, catalog());
  assert.equal(top.length, 1);
  assert.equal(top[0]!.path, 'sepc');
});

test('missing required field', () => {
  assert.deepEqual(validateObject(widget({ mode: 'Fast' }), catalog()), [{ path: 'spec.size', message: 'required field is missing' }]);
  assert.deepEqual(validateObject(gadget({}), catalog()), [{ path: 'spec.cidr', message: 'required field is missing' }]);
});

test('wrong type', () => {
  const issues = validateObject(widget({ size: '3' }), catalog());
  assert.deepEqual(issues, [{ path: 'spec.size', message: 'must be an integer, got string "3"' }]);
  assert.equal(validateObject(widget({ size: 2.5 }), catalog())[0]!.message, 'must be an integer, got number 2.5');
  assert.equal(validateObject(widget({ size: 1, ports: {} }), catalog())[0]!.message, 'must be an array, got a mapping');
});

test('enum, minimum/maximum, int32 range, maxLength', () => {
  const c = catalog();
  assert.deepEqual(validateObject(widget({ size: 1, mode: 'fast' }), c), [
    { path: 'spec.mode', message: 'must be one of "Fast", "Slow"; got "fast"' },
  ]);
  assert.equal(validateObject(widget({ size: 11 }), c)[0]!.message, 'must be at most 10, got 11');
  assert.equal(validateObject(widget({ size: 0 }), c)[0]!.message, 'must be at least 1, got 0');
  const big = validateObject(widget({ size: 1, ports: [{ port: 2 ** 31 }] }), c);
  assert.deepEqual(big, [{ path: 'spec.ports[0].port', message: '2147483648 is out of range for int32' }]);
  assert.equal(validateObject(widget({ size: 1, note: 'toolong' }), c)[0]!.path, 'spec.note');
});

test('int-or-string: core IntOrString and x-kubernetes-int-or-string', () => {
  const c = catalog();
  assert.deepEqual(validateObject(widget({ size: 1, ports: [{ port: 80, targetPort: 8080 }] }), c), []);
  assert.deepEqual(validateObject(widget({ size: 1, ports: [{ port: 80, targetPort: 'http' }] }), c), []);
  assert.deepEqual(validateObject(widget({ size: 1, ports: [{ port: 80, targetPort: true }] }), c), [
    { path: 'spec.ports[0].targetPort', message: 'must be an integer or a string, got boolean true' },
  ]);
  assert.deepEqual(validateObject(gadget({ cidr: 'x', port: 'http' }), c), []);
  assert.equal(validateObject(gadget({ cidr: 'x', port: 1.5 }), c)[0]!.path, 'spec.port');
});

test('preserve-unknown-fields allows anything below it; bare CRD objects keep nothing', () => {
  const c = catalog();
  assert.deepEqual(validateObject(gadget({ cidr: 'x', extra: { a: { b: [1, { c: null }] } } }), c), []);
  assert.deepEqual(validateObject(gadget({ cidr: 'x', closed: { a: 1 } }), c), [
    { path: 'spec.closed.a', message: 'unknown field "a" (no fields are allowed here)' },
  ]);
  // A built-in free-form object (no properties) accepts anything.
  assert.deepEqual(validateObject(widget({ size: 1, free: { any: { thing: 1 } } }), c), []);
});

test('nullable', () => {
  const c = catalog();
  assert.deepEqual(validateObject(widget({ size: 1, note: null }), c), []);
  assert.deepEqual(validateObject(widget({ size: 1, mode: null }), c), [
    { path: 'spec.mode', message: 'must not be null (leave the field out instead)' },
  ]);
});

test('pattern with a Go (?i) flag group', () => {
  const c = catalog();
  assert.deepEqual(validateObject(gadget({ cidr: 'x', level: 'DEBUG' }), c), []);
  const issues = validateObject(gadget({ cidr: 'x', level: 'verbose' }), c);
  assert.equal(issues.length, 1);
  assert.equal(issues[0]!.path, 'spec.level');
  assert.match(issues[0]!.message, /does not match pattern/);
});

test('embedded resource: apiVersion/kind/metadata implied, apiVersion and kind required', () => {
  const c = catalog();
  const ok = gadget({ cidr: 'x', template: { apiVersion: 'v1', kind: 'Pod', metadata: { labels: { a: 'b' } }, spec: { x: 1 } } });
  assert.deepEqual(validateObject(ok, c), []);
  const bad = gadget({ cidr: 'x', template: { metadata: { lables: {} } } });
  assert.deepEqual(
    validateObject(bad, c).map((i) => i.path),
    ['spec.template.metadata.lables', 'spec.template.apiVersion', 'spec.template.kind'],
  );
});

test('list-type map: duplicate keys, with schema defaults', () => {
  const issues = validateObject(widget({ size: 1, ports: [{ port: 80 }, { port: 80, protocol: 'TCP' }, { port: 80, protocol: 'UDP' }] }), catalog());
  assert.deepEqual(issues, [{ path: 'spec.ports[1]', message: 'duplicate entry for key (port=80, protocol="TCP") (same as [0])' }]);
});

test('additionalProperties false and schema; anyOf/oneOf', () => {
  const s: Schema = {
    type: 'object',
    properties: {
      m: { type: 'object', additionalProperties: { type: 'integer' } },
      n: { type: 'object', additionalProperties: false },
      q: { oneOf: [{ type: 'string' }, { type: 'number' }] },
      r: { anyOf: [{ type: 'object', required: ['a'] }, { type: 'object', required: ['b'] }], type: 'object', properties: { a: {}, b: {} } },
    },
  };
  assert.deepEqual(validateValue({ m: { x: 1 }, n: {}, q: 'x', r: { b: 1 } }, s, {}), []);
  const issues = validateValue({ m: { x: 'one' }, n: { y: 1 }, q: true, r: {} }, s, {});
  assert.deepEqual(
    issues.map((i) => i.path),
    ['m.x', 'n.y', 'q', 'r'],
  );
  assert.match(issues[2]!.message, /^must match exactly one of: string \| number/);
});

test('unknown apiVersion/kind: "no schema" with close matches', () => {
  const c = catalog();
  const [issue] = validateObject({ apiVersion: 'example.org/v2', kind: 'Gadget', metadata: { name: 'g' } }, c);
  assert.equal(issue!.message, 'no schema for example.org/v2 Gadget (known: example.org/v1 Gadget)');
  const [typo] = validateObject({ apiVersion: 'v1', kind: 'Widgit', metadata: { name: 'g' } }, c);
  assert.equal(typo!.message, 'no schema for v1 Widgit (known: v1 Widget)');
  assert.deepEqual(validateObject({ kind: 'Widget' }, c), [{ path: 'apiVersion', message: 'required field is missing' }]);
});

test('metadata: name, namespace, labels, cluster scope', () => {
  const c = catalog();
  const paths = (o: unknown) => validateObject(o, c).map((i) => i.path);
  assert.deepEqual(paths(widget({ size: 1 }, { namespace: 'default' })), ['metadata.name']);
  assert.deepEqual(paths(widget({ size: 1 }, { name: 'Bad_Name' })), ['metadata.name']);
  assert.deepEqual(paths(widget({ size: 1 }, { name: 'ok', namespace: 'a.b' })), ['metadata.namespace']);
  assert.deepEqual(
    paths(widget({ size: 1 }, { name: 'ok', labels: { 'app.kubernetes.io/name': 'ok', 'bad key!': 'x', good: '-bad-value' } })),
    ['metadata.labels["bad key!"]', 'metadata.labels.good'],
  );
  assert.deepEqual(validateObject(gadget({ cidr: 'x' }, { name: 'g', namespace: 'default' }), c), [
    { path: 'metadata.namespace', message: 'Gadget is cluster-scoped; remove metadata.namespace' },
  ]);
});

test('name rules', () => {
  assert.deepEqual(names.dns1123Subdomain('a.b-c'), []);
  assert.equal(names.dns1123Subdomain('A').length, 1);
  assert.equal(names.dns1123Subdomain('a'.repeat(254)).length, 1);
  assert.deepEqual(names.dns1123Label('abc-1'), []);
  assert.equal(names.dns1123Label('a.b').length, 1);
  assert.equal(names.dns1035Label('1abc').length, 1);
  assert.deepEqual(names.qualifiedName('example.com/My_Key.1'), []);
  assert.equal(names.qualifiedName('Example.com/x').length, 1);
  assert.equal(names.qualifiedName('a/b/c').length, 1);
  assert.deepEqual(names.labelValue(''), []);
  assert.equal(names.labelValue('x'.repeat(64)).length, 1);
  assert.deepEqual(names.checkName(names.nameRuleFor('rbac.authorization.k8s.io', 'ClusterRole'), 'system:foo'), []);
  assert.equal(names.checkName(names.nameRuleFor('', 'Service'), '1svc').length, 1);
});

test('field paths format and parse back', () => {
  const segs = ['metadata', 'labels', 'app.kubernetes.io/name'];
  assert.equal(formatPath(segs), 'metadata.labels["app.kubernetes.io/name"]');
  assert.deepEqual(parsePath(formatPath(segs)), segs);
  assert.equal(formatPath(['spec', 'ports', 0, 'targetPort']), 'spec.ports[0].targetPort');
  assert.deepEqual(parsePath('spec.ports[0].targetPort'), ['spec', 'ports', 0, 'targetPort']);
  assert.deepEqual(parsePath(formatPath(['a"b', 1, 'x-y'])), ['a"b', 1, 'x-y']);
});

// -------------------------------------------------------------- the tree

function fakeFs(paths: Record<string, 'file' | 'dir'>): FsView {
  return { kind: (p) => paths[p] };
}

test('tree: issues are placed at the line and column of the field', () => {
  const content = [
    '# a widget',
    'apiVersion: v1',
    'kind: Widget',
    'metadata:',
    '  name: w',
    'spec:',
    '  size: 1',
    '  ports:',
    '    - port: 80',
    '      targtPort: 8080',
    '---',
    '',
    '---',
    'apiVersion: v1',
    'kind: Widget',
    'metadata: {name: w2}',
    'spec: {}',
    '',
  ].join('\n');
  const r = validateTree([{ path: 'apps/w.yaml', content }, { path: 'apps/README.md', content: '# hi' }], catalog(), { fs: fakeFs({}) });
  assert.equal(r.files, 1);
  assert.equal(r.objects, 2);
  assert.deepEqual(r.skipped, ['apps/README.md']);
  assert.deepEqual(r.issues.map(formatFileIssue), [
    'apps/w.yaml:10:7: spec.ports[0].targtPort: unknown field "targtPort" (did you mean "targetPort"?)',
    'apps/w.yaml:17:1: spec.size: required field is missing',
  ]);
});

test('tree: YAML parse errors carry line numbers', () => {
  const content = 'apiVersion: v1\nkind: Widget\nmetadata:\n  name: w\n  name: again\nspec:\n  size: [1, 2\n';
  const r = validateTree([{ path: 'bad.yaml', content }], catalog(), { fs: fakeFs({}) });
  const parse = r.issues.filter((i) => i.message.startsWith('YAML:'));
  assert.ok(parse.length >= 2, JSON.stringify(r.issues));
  assert.deepEqual(
    parse.map((i) => i.line),
    [...parse.map((i) => i.line)].sort((a, b) => a - b),
  );
  assert.equal(parse[0]!.line, 5); // the duplicate key
  assert.match(parse[0]!.message, /unique/);
  assert.ok(parse.some((i) => i.line >= 7), 'unterminated flow sequence reported at or after line 7');
});

test('tree: kustomization checks resources, components and patches', () => {
  const k = [
    'apiVersion: kustomize.config.k8s.io/v1beta1',
    'kind: Kustomization',
    'namespace: apps',
    'resources:',
    '  - widget.yaml',
    '  - missing.yaml',
    '  - sub',
    '  - empty',
    '  - https://example.org/x.yaml',
    'components:',
    '  - ../comp',
    'patches:',
    '  - path: patch.yaml',
    '  - path: nope.yaml',
    'commonLabels: {a: b}',
    '',
  ].join('\n');
  const fs = fakeFs({
    'apps/widget.yaml': 'file',
    'apps/sub': 'dir',
    'apps/sub/kustomization.yaml': 'file',
    'apps/empty': 'dir',
    comp: 'dir',
    'comp/kustomization.yaml': 'file',
    'apps/patch.yaml': 'file',
  });
  // The patch names only what it changes; it is checked without `required`.
  const patch = 'apiVersion: v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n  mode: Slow\n';
  const r = validateTree(
    [
      { path: 'apps/kustomization.yaml', content: k },
      { path: 'apps/patch.yaml', content: patch },
    ],
    catalog(),
    { fs },
  );
  assert.deepEqual(r.issues.map(formatFileIssue), [
    'apps/kustomization.yaml:6:5: resources[1]: "missing.yaml" does not exist (looked for apps/missing.yaml)',
    'apps/kustomization.yaml:8:5: resources[3]: "empty" is a folder without a kustomization.yaml',
    'apps/kustomization.yaml:9:5: resources[4]: "https://example.org/x.yaml" is remote; vendor it into the repository',
    'apps/kustomization.yaml:14:5: patches[1].path: "nope.yaml" does not exist (looked for apps/nope.yaml)',
    'apps/kustomization.yaml:15:1: commonLabels: unknown field "commonLabels": use labels (with includeSelectors if needed)',
  ]);
});

test('tree: a kustomization with a bad field type and a wrong file name', () => {
  const k = 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: widget.yaml\n';
  const r = validateTree([{ path: 'apps/kust.yaml', content: k }], catalog(), { fs: fakeFs({}) });
  assert.deepEqual(
    r.issues.map((i) => i.path),
    ['kind', 'resources'],
  );
});

test('parser disagreement: what kubectl/Flux read differs from what we wrote', () => {
  const content = 'apiVersion: v1\nkind: Widget\nmetadata:\n  name: w\n  labels:\n    enabled: yes\n    n: x\nspec:\n  size: 1\n  mode: Fast\n';
  const file = parseYamlFile('apps/w.yaml', content);
  // What sigs.k8s.io/yaml (YAML 1.1) makes of it: `yes` is true, key `n` is false.
  const go: GoDoc[] = [
    {
      file: 'apps/w.yaml',
      doc: 0,
      line: 1,
      json: { apiVersion: 'v1', kind: 'Widget', metadata: { name: 'w', labels: { enabled: true, false: 'x' } }, spec: { size: 1, mode: 'Fast' } },
    },
  ];
  assert.deepEqual(compareParsers(file, go).map(formatFileIssue), [
    'apps/w.yaml:7:5: metadata.labels.n: parsers disagree: kubectl/Flux read key "false", we wrote "n" (quote the key)',
    'apps/w.yaml:6:5: metadata.labels.enabled: parsers disagree: kubectl/Flux read true, we wrote "yes" (quote the value)',
  ]);
  // Agreement gives nothing; a document count mismatch is one issue.
  const same: GoDoc[] = [{ file: 'apps/w.yaml', doc: 0, line: 1, json: file.docs[0]!.value }];
  assert.deepEqual(compareParsers(file, same), []);
  assert.match(compareParsers(file, [...same, { ...same[0]!, doc: 1 }])[0]!.message, /read 2 documents, we read 1/);
  assert.match(compareParsers(file, [{ file: 'apps/w.yaml', doc: 0, line: 3, error: 'boom' }])[0]!.message, /cannot parse this document: boom/);

  // Through validateTree: the Go side is consulted per file.
  const r = validateTree([{ path: 'apps/w.yaml', content }], catalog(), { fs: fakeFs({}), goDocs: go });
  assert.equal(r.issues.filter((i) => i.message.startsWith('parsers disagree')).length, 2);
});

test('tree: generator inputs are data, JSON 6902 patches are skipped', () => {
  const k = [
    'apiVersion: kustomize.config.k8s.io/v1beta1',
    'kind: Kustomization',
    'configMapGenerator:',
    '  - name: cfg',
    '    files: [conf.yaml]',
    'patches:',
    '  - path: ops.yaml',
    '    target: {kind: Widget}',
    '',
  ].join('\n');
  const fs = fakeFs({ 'a/conf.yaml': 'file', 'a/ops.yaml': 'file' });
  const r = validateTree(
    [
      { path: 'a/kustomization.yaml', content: k },
      { path: 'a/conf.yaml', content: 'not: a kubernetes object\n' },
      { path: 'a/ops.yaml', content: '- op: replace\n  path: /spec/size\n  value: 2\n' },
    ],
    catalog(),
    { fs },
  );
  assert.deepEqual(r.issues, []);
});

// ------------------------------------------------------------ setup steps

test('setup steps: done/run, cached, failure stops the run', async () => {
  const lines: string[] = [];
  let ran = 0;
  let done = false;
  const steps: Step[] = [
    { name: 'a:one', done: () => done, run: async () => { ran++; done = true; return 'made'; } },
    { name: 'a:two', done: () => true, run: async () => { throw new Error('never'); } },
  ];
  const first = await runSteps(steps, { log: (l) => lines.push(l) });
  assert.deepEqual(first.map((r) => [r.name, r.ok, r.cached, r.note]), [
    ['a:one', true, false, 'made'],
    ['a:two', true, true, 'cached'],
  ]);
  assert.match(lines[0]!, /^✓ a:one {2}made \(\d+\.\ds\)$/);
  assert.match(lines[1]!, /^✓ a:two {2}cached \(\d+\.\ds\)$/);
  await runSteps(steps, { log: (l) => lines.push(l) });
  assert.equal(ran, 1, 'a second run does nothing');

  const failing: Step[] = [
    { name: 'b:bad', done: () => false, run: async () => { throw new Error('no go'); } },
    { name: 'b:after', done: () => false, run: async () => { throw new Error('must not run'); } },
  ];
  const out: string[] = [];
  await assert.rejects(runSteps(failing, { log: (l) => out.push(l) }), (e: unknown) => {
    assert.ok(e instanceof PhaseError);
    assert.equal(e.message, 'phase "b:bad" failed: no go');
    assert.deepEqual(e.reports.map((r) => [r.name, r.ok, r.note]), [['b:bad', false, 'no go']]);
    return true;
  });
  assert.equal(out.length, 1);
  assert.match(out[0]!, /^✗ b:bad/);
});
