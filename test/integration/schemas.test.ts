// The validator against the real upstream schemas, fetched by the setup
// (`go mod download` of the pinned modules) into the repo's .cache/.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  compilePattern,
  formatFileIssue,
  loadCatalog,
  realFs,
  runYamlcheck,
  SetupNeededError,
  validateObject,
  validateTree,
  type Catalog,
  type Schema,
} from '../../lib/validate/index.js';
import { DEFAULT_CACHE_DIR } from '../../lib/toolchain/repo.js';
import { SCHEMA_PINS } from '../../lib/toolchain/pins.js';
import { ensureSchemas, schemaSteps } from '../../lib/toolchain/steps/schemas.js';
import { ensureYamlcheck } from '../../lib/toolchain/steps/confdTemplates.js';
import { runSteps } from '../../lib/toolchain/steps/step.js';

let catalog: Catalog;

before(async () => {
  const quiet = { log: () => {} };
  await ensureSchemas(DEFAULT_CACHE_DIR, quiet);
  await ensureYamlcheck(DEFAULT_CACHE_DIR, undefined, quiet);
  catalog = loadCatalog(DEFAULT_CACHE_DIR);
});

const service = (spec: Record<string, unknown>) => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'web', namespace: 'apps', labels: { 'app.kubernetes.io/name': 'web' } },
  spec,
});

test('core: a valid IPv6 Service passes; spec.prots fails at exactly that path', () => {
  const spec = {
    ipFamilies: ['IPv6'],
    ipFamilyPolicy: 'SingleStack',
    selector: { 'app.kubernetes.io/name': 'web' },
    ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }],
  };
  assert.deepEqual(validateObject(service(spec), catalog), []);
  const issues = validateObject(service({ ...spec, prots: [{ port: 80 }] }), catalog);
  assert.deepEqual(issues.map((i) => i.path), ['spec.prots']);
  assert.match(issues[0]!.message, /unknown field "prots" \(did you mean "ports"\?\)/);
});

test('core: Deployment, ConfigMap, Secret, NetworkPolicy, ClusterRole, Namespace, PDB, Lease, EndpointSlice', () => {
  const objs = realWorldObjects(1);
  for (const o of objs) assert.deepEqual(validateObject(o, catalog), [], `${o.kind} ${o.metadata.name}`);
});

test('core: typical mistakes are caught', () => {
  const dep = realWorldObjects(1).find((o) => o.kind === 'Deployment')!;
  const bad = structuredClone(dep) as any;
  bad.spec.template.spec.containers[0].resources.requests.memory = '64MB';
  bad.spec.template.spec.containers[0].imagePullPolicy = 'Sometimes'; // no enum in the published schema: not caught
  bad.spec.replicas = '2';
  delete bad.spec.selector;
  bad.metadata.labels['app.kubernetes.io/version'] = 'v1.0+build';
  assert.deepEqual(
    validateObject(bad, catalog).map((i) => i.path).sort(),
    [
      'metadata.labels["app.kubernetes.io/version"]',
      'spec.replicas',
      'spec.selector',
      'spec.template.spec.containers[0].resources.requests.memory',
    ].sort(),
  );
});

test('calico: IPPool with cidr and blockSize passes; an unknown field fails', () => {
  const pool = {
    apiVersion: 'crd.projectcalico.org/v1',
    kind: 'IPPool',
    metadata: { name: 'pods-v6' },
    spec: { cidr: '2001:db8:42::/56', blockSize: 122, natOutgoing: false, nodeSelector: 'all()', vxlanMode: 'Never', ipipMode: 'Never' },
  };
  assert.deepEqual(validateObject(pool, catalog), []);
  const bad = { ...pool, spec: { ...pool.spec, blocksize: 122 } };
  const issues = validateObject(bad, catalog);
  assert.deepEqual(issues.map((i) => i.path), ['spec.blocksize']);
  assert.match(issues[0]!.message, /did you mean "blockSize"/);
});

test('calico: BGPPeer with password.secretKeyRef, BGPConfiguration, GlobalNetworkPolicy, GlobalNetworkSet, FelixConfiguration', () => {
  const objs = [
    {
      apiVersion: 'crd.projectcalico.org/v1',
      kind: 'BGPPeer',
      metadata: { name: 'tor-a' },
      spec: {
        peerIP: '2001:db8::1',
        asNumber: 65000,
        nodeSelector: 'rack == "a"',
        password: { secretKeyRef: { name: 'bgp-secrets', key: 'tor-a' } },
      },
    },
    {
      apiVersion: 'crd.projectcalico.org/v1',
      kind: 'BGPConfiguration',
      metadata: { name: 'default' },
      spec: {
        asNumber: 64512,
        nodeToNodeMeshEnabled: false,
        serviceClusterIPs: [{ cidr: '2001:db8:43::/112' }],
        serviceLoadBalancerIPs: [{ cidr: '2001:db8:44::/120' }],
        logSeverityScreen: 'Info',
      },
    },
    {
      apiVersion: 'crd.projectcalico.org/v1',
      kind: 'GlobalNetworkPolicy',
      metadata: { name: 'default-deny' },
      spec: {
        order: 1000,
        selector: 'projectcalico.org/namespace not in {"kube-system"}',
        types: ['Ingress', 'Egress'],
        egress: [{ action: 'Allow', protocol: 'UDP', destination: { ports: [53] } }],
      },
    },
    {
      apiVersion: 'crd.projectcalico.org/v1',
      kind: 'GlobalNetworkSet',
      metadata: { name: 'upstream', labels: { role: 'upstream' } },
      spec: { nets: ['2001:db8:ffff::/48'] },
    },
    {
      apiVersion: 'crd.projectcalico.org/v1',
      kind: 'FelixConfiguration',
      metadata: { name: 'default' },
      spec: { ipv6Support: true, bpfEnabled: false, logSeverityScreen: 'info', routeRefreshInterval: '90s' },
    },
  ];
  for (const o of objs) assert.deepEqual(validateObject(o, catalog), [], o.kind);
});

test('flux: Kustomization passes; missing spec.sourceRef fails; GitRepository passes', () => {
  const ks = {
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
    kind: 'Kustomization',
    metadata: { name: 'apps', namespace: 'flux-system' },
    spec: {
      interval: '10m',
      path: './apps',
      prune: true,
      wait: true,
      timeout: '5m',
      sourceRef: { kind: 'GitRepository', name: 'flux-system' },
      dependsOn: [{ name: 'infra' }],
    },
  };
  assert.deepEqual(validateObject(ks, catalog), []);
  const { sourceRef: _drop, ...noSource } = ks.spec;
  assert.deepEqual(validateObject({ ...ks, spec: noSource }, catalog), [{ path: 'spec.sourceRef', message: 'required field is missing' }]);
  const repo = {
    apiVersion: 'source.toolkit.fluxcd.io/v1',
    kind: 'GitRepository',
    metadata: { name: 'flux-system', namespace: 'flux-system' },
    spec: { interval: '1m', url: 'ssh://git@example.org/native6.git', ref: { branch: 'main' }, secretRef: { name: 'flux-system' } },
  };
  assert.deepEqual(validateObject(repo, catalog), []);
});

test('unknown kinds fail with "no schema"', () => {
  const [issue, ...rest] = validateObject({ apiVersion: 'example.org/v1', kind: 'Frobnicator', metadata: { name: 'x' } }, catalog);
  assert.equal(rest.length, 0);
  assert.match(issue!.message, /^no schema for example\.org\/v1 Frobnicator/);
  const [old] = validateObject({ apiVersion: 'policy/v1beta1', kind: 'PodDisruptionBudget', metadata: { name: 'x' } }, catalog);
  assert.equal(old!.message, 'no schema for policy/v1beta1 PodDisruptionBudget (known: policy/v1 PodDisruptionBudget)');
  const [calicoV3] = validateObject({ apiVersion: 'projectcalico.org/v3', kind: 'IPPool', metadata: { name: 'x' } }, catalog);
  assert.match(calicoV3!.message, /^no schema for projectcalico\.org\/v3 IPPool \(known: crd\.projectcalico\.org\/v1 IPPool\)/);
});

test('every pattern in the real schemas compiles', () => {
  const seen = new Set<object>();
  const bad: string[] = [];
  const walk = (s: unknown): void => {
    if (typeof s !== 'object' || s === null || seen.has(s)) return;
    seen.add(s);
    const p = (s as Schema).pattern;
    if (typeof p === 'string' && compilePattern(p) === undefined) bad.push(p);
    for (const v of Object.values(s)) walk(v);
  };
  for (const e of catalog.kinds.values()) walk(e.schema);
  walk(catalog.defs);
  assert.deepEqual(bad, []);
});

test('the catalog knows the kinds this repo renders', () => {
  for (const key of [
    'v1 Service',
    'v1 ConfigMap',
    'v1 Namespace',
    'apps/v1 Deployment',
    'apps/v1 DaemonSet',
    'batch/v1 CronJob',
    'networking.k8s.io/v1 NetworkPolicy',
    'rbac.authorization.k8s.io/v1 ClusterRole',
    'apiextensions.k8s.io/v1 CustomResourceDefinition',
    'coordination.k8s.io/v1 Lease',
    'discovery.k8s.io/v1 EndpointSlice',
    'policy/v1 PodDisruptionBudget',
    'crd.projectcalico.org/v1 BGPConfiguration',
    'crd.projectcalico.org/v1 FelixConfiguration',
    'crd.projectcalico.org/v1 IPPool',
    'crd.projectcalico.org/v1 BGPPeer',
    'crd.projectcalico.org/v1 GlobalNetworkSet',
    'crd.projectcalico.org/v1 GlobalNetworkPolicy',
    'kustomize.toolkit.fluxcd.io/v1 Kustomization',
    'source.toolkit.fluxcd.io/v1 GitRepository',
    'source.toolkit.fluxcd.io/v1 OCIRepository',
  ]) {
    assert.ok(catalog.kinds.has(key), key);
  }
  assert.equal(catalog.kinds.get('v1 Service')!.namespaced, true);
  assert.equal(catalog.kinds.get('v1 Namespace')!.namespaced, false);
  assert.equal(catalog.kinds.get('crd.projectcalico.org/v1 IPPool')!.namespaced, false);
  assert.equal(catalog.label, 'Kubernetes v1.35.4, Calico v3.28.5, Flux v2.9.5');
});

test('setup: fetches into an empty cache, then reports cached; a missing or broken cache says npm run setup', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'native6-cache-'));
  try {
    const pin = SCHEMA_PINS.find((p) => p.name === 'flux-kustomize-controller')!;
    assert.throws(() => loadCatalog(dir, [pin]), (e: unknown) => e instanceof SetupNeededError && /run `npm run setup`/.test(e.message));
    const first = await runSteps(schemaSteps(dir, [pin]), { log: () => {} });
    assert.deepEqual(first.map((r) => [r.name, r.ok, r.cached]), [['schemas:flux-kustomize-controller', true, false]]);
    const lines: string[] = [];
    const second = await runSteps(schemaSteps(dir, [pin]), { log: (l) => lines.push(l) });
    assert.equal(second[0]!.cached, true);
    assert.match(lines[0]!, /^✓ schemas:flux-kustomize-controller {2}cached \(/);
    const small = loadCatalog(dir, [pin]);
    assert.ok(small.kinds.has('kustomize.toolkit.fluxcd.io/v1 Kustomization'));
    unlinkSync(join(dir, 'schemas', `flux-kustomize-controller-${pin.version}`, 'kustomize.toolkit.fluxcd.io_kustomizations.yaml'));
    assert.throws(() => loadCatalog(dir, [pin]), /incomplete.*run `npm run setup`/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('yamlcheck: kubectl/Flux read YAML 1.1; disagreements are reported', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'native6-yaml-'));
  try {
    mkdirSync(join(dir, 'apps'));
    const file = join(dir, 'apps', 'cm.yaml');
    writeFileSync(
      file,
      [
        '---',
        'apiVersion: v1',
        'kind: ConfigMap',
        'metadata:',
        '  name: flags',
        'data:',
        '  sexagesimal: 190:20:30', // YAML 1.1 sexagesimal; go-yaml v2 keeps it a string
        '  ipv6: 2001:db8::1',
        '  enabled: yes', // YAML 1.1: true (then not a string at all)
        '  mode: 0644', // YAML 1.1: octal 420; YAML 1.2: 644
        '  n: no',
        '---',
        '# nothing here',
        '',
      ].join('\n'),
    );
    const goDocs = await runYamlcheck(DEFAULT_CACHE_DIR, [file]);
    assert.equal(goDocs.length, 1);
    const r = validateTree([{ path: file, content: (await import('node:fs')).readFileSync(file, 'utf8') }], catalog, { fs: realFs, goDocs });
    const lines = r.issues.map(formatFileIssue).map((l) => l.slice(file.length));
    // 190:20:30 and the IPv6 literal read the same in both: go-yaml v2 has
    // no sexagesimal numbers.
    assert.deepEqual(lines, [
      ':9:3: data.enabled: parsers disagree: kubectl/Flux read true, we wrote "yes" (quote the value)',
      ':10:3: data.mode: must be a string, got integer 644',
      ':10:3: data.mode: parsers disagree: kubectl/Flux read 420, we wrote 644',
      ':11:3: data.n: parsers disagree: kubectl/Flux read key "false", we wrote "n" (quote the key)',
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// Its timings are printed as a diagnostic; the figures are `npm run bench -- validate`'s.
test('a freshly loaded catalog validates 50 real-world objects without an issue', (t) => {
  const t0 = performance.now();
  const fresh = loadCatalog(DEFAULT_CACHE_DIR);
  const t1 = performance.now();
  const objs = Array.from({ length: 5 }, (_, i) => realWorldObjects(i)).flat();
  assert.ok(objs.length >= 50, `${objs.length} objects`);
  let issues = 0;
  for (const o of objs) issues += validateObject(o, fresh).length;
  const t2 = performance.now();
  assert.equal(issues, 0);
  t.diagnostic(`load catalog ${(t1 - t0).toFixed(0)} ms; validate ${objs.length} objects ${(t2 - t1).toFixed(1)} ms`);
});

// ------------------------------------------------------------------ data

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function realWorldObjects(i: number): any[] {
  const app = `web${i}`;
  const labels = { 'app.kubernetes.io/name': app, 'app.kubernetes.io/part-of': 'native6' };
  const ns = 'apps';
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: `${ns}${i}`, labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } } },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: app, namespace: ns, labels },
      spec: {
        replicas: 2,
        revisionHistoryLimit: 3,
        selector: { matchLabels: labels },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: '25%' } },
        template: {
          metadata: { labels },
          spec: {
            securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
            topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: labels } }],
            containers: [
              {
                name: 'web',
                image: 'registry.example.org/web:1.2.3',
                args: ['--listen=[::]:8080'],
                ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
                env: [{ name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }],
                resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '128Mi' } },
                readinessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 5 },
                securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
                volumeMounts: [{ name: 'config', mountPath: '/etc/web', readOnly: true }],
              },
            ],
            volumes: [{ name: 'config', configMap: { name: app } }],
          },
        },
      },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: `${app}-agent`, namespace: ns },
      spec: {
        selector: { matchLabels: { app: `${app}-agent` } },
        template: {
          metadata: { labels: { app: `${app}-agent` } },
          spec: {
            hostNetwork: true,
            tolerations: [{ operator: 'Exists' }],
            containers: [{ name: 'agent', image: 'registry.example.org/agent:1', securityContext: { privileged: true } }],
          },
        },
      },
    },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: app, namespace: ns }, data: { 'web.conf': 'listen [::]:8080\n' } },
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: `${app}-tls`, namespace: ns }, type: 'kubernetes.io/tls', data: { 'tls.crt': 'Y2VydA==', 'tls.key': 'a2V5' } },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: app, namespace: ns, labels },
      spec: { ipFamilies: ['IPv6'], ipFamilyPolicy: 'SingleStack', type: 'LoadBalancer', externalTrafficPolicy: 'Local', selector: labels, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
    },
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: `${app}-ingress`, namespace: ns },
      spec: {
        podSelector: { matchLabels: labels },
        policyTypes: ['Ingress'],
        ingress: [{ from: [{ ipBlock: { cidr: '::/0', except: ['fd00::/8'] } }], ports: [{ protocol: 'TCP', port: 8080 }] }],
      },
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: `native6:${app}-reader` },
      rules: [{ apiGroups: [''], resources: ['pods', 'services'], verbs: ['get', 'list', 'watch'] }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: `native6:${app}-reader` },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: `native6:${app}-reader` },
      subjects: [{ kind: 'ServiceAccount', name: app, namespace: ns }],
    },
    { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: app, namespace: ns }, spec: { maxUnavailable: 1, selector: { matchLabels: labels } } },
    { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: `${app}-leader`, namespace: ns }, spec: { holderIdentity: 'x', leaseDurationSeconds: 15 } },
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `${app}-ext`, namespace: ns, labels: { 'kubernetes.io/service-name': app } },
      addressType: 'IPv6',
      endpoints: [{ addresses: ['2001:db8::10'], conditions: { ready: true } }],
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    },
  ];
}
