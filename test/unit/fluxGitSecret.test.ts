/**
 * A private repository's Secret (lib/flux/gitSecret.ts): from the apply
 * action's inputs (GitHub secrets) into flux-system before Flux, or found
 * there (created by hand); refused, naming what to set, when neither.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { credentialValues, ensureFluxGitSecret, fluxGitSecret, gitCredentials } from '../../lib/flux/gitSecret.js';
import type { KubeClient } from '../../lib/kube/client.js';
import { createLineLog } from '../../lib/workflows/log.js';

/** A client that records server-side applies and answers find() from `present`. */
function fakeClient(present: ReadonlySet<string> = new Set()) {
  const applied: Array<{ path: string; object: any; manager: string }> = [];
  const client = {
    server: 'https://[::1]:6443',
    pathOf: async (o: { kind: string; metadata: { name: string; namespace?: string } }) => (o.kind === 'Namespace' ? `/api/v1/namespaces/${o.metadata.name}` : `/api/v1/namespaces/${o.metadata.namespace}/secrets/${o.metadata.name}`),
    apply: async (path: string, object: unknown, manager: string) => void applied.push({ path, object, manager }),
    find: async (path: string) => (present.has(path) ? {} : undefined),
  } as unknown as KubeClient;
  return { client, applied };
}

const spec = (url: string, secretRef?: string) => ({ name: 'ord', gitops: { url, branch: 'main', interval: '5m', ...(secretRef ? { secretRef } : {}) } });
const b64 = (s: string) => Buffer.from(s).toString('base64');

test('the credentials from the inputs: none, https, ssh; half a pair or both kinds refused naming the inputs', () => {
  assert.equal(gitCredentials({ username: '', password: '', identity: '', knownHosts: '' }), undefined);
  assert.deepEqual(gitCredentials({ username: 'git', password: ' ghp_x \n' }), { kind: 'https', username: 'git', password: 'ghp_x' });
  assert.deepEqual(gitCredentials({ identity: '-----BEGIN OPENSSH PRIVATE KEY-----\nk\n-----END OPENSSH PRIVATE KEY-----', knownHosts: 'github.com ssh-ed25519 AAAA' }), {
    kind: 'ssh',
    identity: '-----BEGIN OPENSSH PRIVATE KEY-----\nk\n-----END OPENSSH PRIVATE KEY-----\n',
    knownHosts: 'github.com ssh-ed25519 AAAA\n',
  });
  assert.throws(() => gitCredentials({ username: 'git' }), { message: 'git credentials: flux-git-password is empty: give both for an https repository (a token as the password; GitHub takes any username, e.g. git)' });
  assert.throws(() => gitCredentials({ knownHosts: 'h k' }), /flux-git-identity is empty: give both for an ssh repository/);
  assert.throws(() => gitCredentials({ username: 'u', password: 'p', identity: 'k' }), /give either flux-git-username and flux-git-password \(https\) or flux-git-identity and flux-git-known-hosts \(ssh\), not both/);
  assert.deepEqual(credentialValues({ kind: 'https', username: 'git', password: 'ghp_x' }), ['ghp_x']);
});

test('the Secret has source-controller\'s keys, base64 in data, in flux-system', () => {
  assert.deepEqual(fluxGitSecret('repo', { kind: 'https', username: 'git', password: 'ghp_x' }), {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'repo', namespace: 'flux-system', labels: { 'app.kubernetes.io/managed-by': 'native6-apply' } },
    type: 'Opaque',
    data: { username: b64('git'), password: b64('ghp_x') },
  });
  assert.deepEqual(fluxGitSecret('repo', { kind: 'ssh', identity: 'k\n', knownHosts: 'h\n' }).data, { identity: b64('k\n'), known_hosts: b64('h\n') });
});

test('apply creates the Secret (and the namespace) from given credentials, finds one made by hand, and refuses when neither', async () => {
  const given = { kind: 'https' as const, username: 'git', password: 'ghp_x' };
  const a = fakeClient();
  assert.equal(await ensureFluxGitSecret(a.client, spec('https://github.com/acme/p', 'repo'), given, 'native6-apply'), 'Secret flux-system/repo applied from the action\'s https credentials');
  assert.deepEqual(a.applied.map((x) => [x.path, x.manager]), [['/api/v1/namespaces/flux-system', 'native6-apply'], ['/api/v1/namespaces/flux-system/secrets/repo', 'native6-apply']]);
  // By hand (kubectl): found, nothing applied.
  const b = fakeClient(new Set(['/api/v1/namespaces/flux-system/secrets/repo']));
  assert.equal(await ensureFluxGitSecret(b.client, spec('https://github.com/acme/p', 'repo'), undefined, 'm'), 'Secret flux-system/repo is in the cluster');
  assert.equal(b.applied.length, 0);
  // Neither: refused before Flux is installed, saying what to set.
  await assert.rejects(ensureFluxGitSecret(fakeClient().client, spec('https://github.com/acme/p', 'repo'), undefined, 'm'), {
    message:
      'infra/ord.yaml: spec.gitops.secretRef names the Secret flux-system/repo, which is not in the cluster, and the apply action was given no git credentials: set the repository secrets the apply workflow passes (FLUX_GIT_USERNAME and FLUX_GIT_PASSWORD, or FLUX_GIT_IDENTITY and FLUX_GIT_KNOWN_HOSTS), or create it with kubectl (docs/gitops.md#a-private-repository)',
  });
  // https credentials for an ssh URL.
  await assert.rejects(ensureFluxGitSecret(fakeClient().client, spec('ssh://git@github.com/acme/p', 'repo'), given, 'm'), /spec.gitops.url is an ssh URL, but the apply action was given https credentials: give flux-git-identity and flux-git-known-hosts instead/);
  // A public repository: nothing to do, nothing said; credentials given anyway are said to be unused.
  assert.equal(await ensureFluxGitSecret(fakeClient().client, spec('https://github.com/acme/p'), undefined, 'm'), undefined);
  assert.match((await ensureFluxGitSecret(fakeClient().client, spec('https://github.com/acme/p'), given, 'm'))!, /names no spec.gitops.secretRef: not used/);
});

test('the action masks the credentials before anything could print them', () => {
  const lines: string[] = [];
  const log = createLineLog((l) => lines.push(l));
  for (const v of credentialValues({ kind: 'ssh', identity: '-----BEGIN KEY-----\nsecretline\n-----END KEY-----\n', knownHosts: 'h k' })) log.secret(v);
  log.info('clone failed: secretline');
  assert.deepEqual(lines, ['clone failed: ***']);
});
