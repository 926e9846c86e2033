/**
 * spec.gitops for a private repository (lib/cluster/gitops.ts): secretRef
 * names the Secret in flux-system that the GitRepository references; its
 * content never enters git. Credentials in the URL are refused at their
 * line, without being printed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatProblem } from '../../lib/cluster/problems.js';
import { credentialsInUrl, maskUserinfo } from '../../lib/cluster/gitops.js';
import { loadCluster } from '../../lib/platforms/load.js';
import { fluxSync } from '../../lib/render/flux.js';

/** An Equinix Metal spec whose gitops section is `gitops` (lines 14 on: "  gitops:" then its fields). */
function spec(gitops: string): string {
  return [
    'apiVersion: native6.dev/v1alpha1',
    'kind: Cluster',
    'metadata:',
    '  name: ord',
    'spec:',
    '  platform: equinix-metal',
    '  metro: da',
    '  kubernetesVersion: v1.35.4',
    '  controlPlane:',
    '    count: 3',
    '    plan: c3.small.x86',
    '  network:',
    '    blockSize: 56',
    '  gitops:',
    gitops,
    '',
  ].join('\n');
}

function problems(gitops: string): string[] {
  const r = loadCluster('infra/ord.yaml', spec(gitops));
  return r.ok ? [] : r.problems.map(formatProblem);
}

test('a private repository: the GitRepository references the Secret by name, and nothing of its content is rendered', () => {
  for (const [gitops, url] of [
    ['    url: https://github.com/acme/private\n    secretRef: flux-system', 'https://github.com/acme/private'],
    ['    url: ssh://git@github.com/acme/private\n    secretRef: github.deploy-key', 'ssh://git@github.com/acme/private'],
  ] as const) {
    const r = loadCluster('infra/ord.yaml', spec(gitops));
    assert.ok(r.ok, r.ok ? '' : r.problems.map(formatProblem).join('\n'));
    if (!r.ok) continue;
    const [repo] = fluxSync(r.spec);
    assert.deepEqual(repo!.spec, { interval: '1m', ref: { branch: 'main' }, secretRef: { name: r.spec.gitops.secretRef }, url });
  }
  // A public one: no secretRef at all.
  const pub = loadCluster('infra/ord.yaml', spec('    url: https://github.com/acme/public'));
  assert.ok(pub.ok);
  if (pub.ok) assert.deepEqual(fluxSync(pub.spec)[0]!.spec, { interval: '1m', ref: { branch: 'main' }, url: 'https://github.com/acme/public' });
});

test('cleartext http:// is refused on Equinix Metal, at its line (the lab, whose git host is on this machine, takes it)', () => {
  assert.deepEqual(problems('    url: http://git.example.com/acme/clusters.git'), [
    'infra/ord.yaml:15:10: spec.gitops.url: is http://, cleartext over the internet: anyone on the way between the cluster and the git host could change what Flux applies, as cluster-admin. Fix: use the https:// URL of the repository (or ssh:// with spec.gitops.secretRef)',
  ]);
  assert.deepEqual(problems('    url: https://git.example.com/acme/clusters.git'), []);
});

test('credentials in the URL are refused at its line, masked, with where they go instead', () => {
  const fix = 'Fix: remove them from the URL (and revoke them), create a Secret in flux-system with them and name it in spec.gitops.secretRef (docs/gitops.md#a-private-repository)';
  assert.deepEqual(problems('    url: https://acme:ghp_s3cret@github.com/acme/private'), [`infra/ord.yaml:15:10: spec.gitops.url: "https://***@github.com/acme/private" holds credentials: they would be in git. ${fix}`]);
  // A token alone, written as the user, and on http.
  assert.deepEqual(problems('    url: http://ghp_s3cret@git.example.com/acme/private.git\n    secretRef: flux-system'), [`infra/ord.yaml:15:10: spec.gitops.url: "http://***@git.example.com/acme/private.git" holds credentials: they would be in git. ${fix}`]);
  // ssh: a password is refused; the user (git) is not a secret.
  assert.deepEqual(problems('    url: ssh://git:s3cret@github.com/acme/private\n    secretRef: flux-system'), [`infra/ord.yaml:15:10: spec.gitops.url: "ssh://***@github.com/acme/private" holds a password: they would be in git. ${fix}`]);
  for (const p of [...problems('    url: https://acme:ghp_s3cret@github.com/acme/private'), ...problems('    url: ssh://git:s3cret@github.com/acme/private')]) {
    assert.ok(!p.includes('s3cret'), p);
  }
  // Not a URL Flux can clone, with a credential in it: refused, still masked.
  assert.deepEqual(problems('    url: https://acme:s3cret@github.com/acme/a b'), [
    'infra/ord.yaml:15:10: spec.gitops.url: "https://***@github.com/acme/a b" is not a repository URL Flux can clone. Fix: use an https:// or ssh:// URL, e.g. https://github.com/<owner>/<repo>',
  ]);
});

test('an ssh:// URL without a key, and secretRefs that are not Secret names, are refused with the fix', () => {
  assert.deepEqual(problems('    url: ssh://git@github.com/acme/private'), [
    'infra/ord.yaml:15:10: spec.gitops.url: an ssh:// URL needs a key, and spec.gitops.secretRef names none. Fix: add "secretRef: <name>" naming the Secret in flux-system with identity and known_hosts (docs/gitops.md#a-private-repository), or use an https:// URL',
  ]);
  assert.deepEqual(problems('    url: https://github.com/acme/private\n    secretRef: Flux_System'), [
    'infra/ord.yaml:16:16: spec.gitops.secretRef: "Flux_System" is not a Secret name. Fix: use lower-case letters, digits, "-" and ".", e.g. flux-system',
  ]);
  // Flux's own shape ({name: …}) is not the spec's: the name alone.
  assert.deepEqual(problems('    url: https://github.com/acme/private\n    secretRef:\n      name: flux-system'), [
    'infra/ord.yaml:17:7: spec.gitops.secretRef: must be a string, found a mapping. Fix: write the name of the Secret in flux-system, e.g. secretRef: flux-system',
  ]);
  assert.deepEqual(problems(`    url: https://github.com/acme/private\n    secretRef: ${'a'.repeat(254)}`).length, 1);
  assert.deepEqual(problems('    url: https://github.com/acme/private\n    secrets: flux-system').map((p) => p.split('. Fix')[0]), ['infra/ord.yaml:16:5: spec.gitops.secrets: unknown field "secrets"']);
});

test('credentialsInUrl and maskUserinfo', () => {
  assert.equal(credentialsInUrl('https://github.com/acme/x'), undefined);
  assert.equal(credentialsInUrl('ssh://git@github.com/acme/x'), undefined);
  assert.equal(credentialsInUrl('https://x-access-token:t@github.com/acme/x'), '"https://***@github.com/acme/x" holds credentials');
  assert.equal(credentialsInUrl('not a url'), undefined);
  assert.equal(maskUserinfo('https://a:b@h/p@q'), 'https://***@h/p@q');
  assert.equal(maskUserinfo('https://h/p@q'), 'https://h/p@q');
});

test('signed commits: verify names the Secret of trusted keys, rendered as the GitRepository\'s HEAD verification; a bad or missing name is refused at its line', () => {
  const r = loadCluster('infra/ord.yaml', spec('    url: https://github.com/acme/clusters\n    verify:\n      secretRef: git-signers'));
  assert.ok(r.ok, r.ok ? '' : r.problems.map(formatProblem).join('\n'));
  if (!r.ok) return;
  assert.deepEqual(r.spec.gitops.verify, { secretRef: 'git-signers' });
  const [repo] = fluxSync(r.spec);
  assert.deepEqual(repo!.spec, { interval: '1m', ref: { branch: 'main' }, url: 'https://github.com/acme/clusters', verify: { mode: 'HEAD', secretRef: { name: 'git-signers' } } });
  // Without verify, no verification is rendered.
  const plain = loadCluster('infra/ord.yaml', spec('    url: https://github.com/acme/clusters'));
  assert.ok(plain.ok && !('verify' in (fluxSync(plain.spec)[0]!.spec as object)));

  assert.deepEqual(problems('    url: https://github.com/acme/clusters\n    verify:\n      secretRef: Git_Signers'), [
    'infra/ord.yaml:17:18: spec.gitops.verify.secretRef: "Git_Signers" is not a Secret name. Fix: use lower-case letters, digits, "-" and ".", e.g. git-signers',
  ]);
  const missing = problems('    url: https://github.com/acme/clusters\n    verify:\n      mode: HEAD');
  assert.equal(missing.length, 2, missing.join('\n'));
  assert.match(missing[0]!, /spec\.gitops\.verify\.mode: unknown field "mode"/);
  assert.match(missing[1]!, /^infra\/ord\.yaml:17:7: spec\.gitops\.verify\.secretRef: is required\. Fix: name the Secret in flux-system that holds the trusted keys .*docs\/gitops\.md#signed-commits/);
});
