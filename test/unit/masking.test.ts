/**
 * What the actions mask and redact (lib/workflows/log.ts; review
 * security-2026-12 L3, L4): a kubeconfig's credentials only (each `*-data`
 * value, a token, each line of the PEM a `*-data` value decodes to), never
 * its harmless lines; a PEM's body lines, never its BEGIN and END lines;
 * and a secret the log was given, placed in a preview's output or in its
 * failure, redacted in the PR comment posted to (a fake) GitHub and in the
 * job summary, before the comment's escaping could disguise it.
 */
import assert from 'node:assert/strict';
import { dirname, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { stringify } from 'yaml';
import { kubeconfig } from '../../lib/kube/kubeconfig.js';
import { generateClusterSecrets, signAdmin } from '../../lib/pki/clusterSecrets.js';
import { createOctokit } from '../../lib/workflows/github.js';
import { createLineLog, maskValues, redact } from '../../lib/workflows/log.js';
import { runPlan } from '../../lib/workflows/plan.js';
import type { PreviewOutcome } from '../../lib/pulumi/stack.js';
import { actionsBot, API, issueComment, pr, type IssueComment } from '../github-fixture.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const body64 = (pem: string) => pem.split('\n').filter((l) => l !== '' && !l.startsWith('-----'));

function adminKubeconfig() {
  const s = generateClusterSecrets('mask');
  const admin = signAdmin('mask', s.caCertPem, s.caKeyPem);
  const text = kubeconfig({ clusterName: 'mask', server: 'https://[2001:db8::1]:443', caCertPem: s.caCertPem, user: 'native6-admin', clientCertPem: admin.certPem, clientKeyPem: admin.keyPem });
  return { text, admin, caCertPem: s.caCertPem };
}

test('a kubeconfig: its *-data values and the lines of the PEMs they decode to are masked, nothing else', () => {
  const { text, admin, caCertPem } = adminKubeconfig();
  const b64 = (pem: string) => Buffer.from(pem).toString('base64');
  const expected = [b64(caCertPem), ...body64(caCertPem), b64(admin.certPem), ...body64(admin.certPem), b64(admin.keyPem), ...body64(admin.keyPem)].filter((l) => l.length >= 8);
  assert.deepEqual([...maskValues(text)].sort(), [...new Set(expected)].sort());
  // Not the whole file, nor any of its own lines that are not a credential.
  for (const line of text.split('\n').filter((l) => !/-data: /.test(l))) assert.ok(!maskValues(text).includes(line.trim()) || line.trim() === '', line);

  const lines: string[] = [];
  const log = createLineLog((l) => lines.push(l));
  log.secret(text);
  const keyLine = body64(admin.keyPem)[0]!;
  log.info('apiVersion: v1');
  log.info('kind: Config');
  log.info('-----BEGIN CERTIFICATE-----');
  log.info(`the key: ${keyLine}`);
  log.info(`client-key-data: ${b64(admin.keyPem)}`);
  log.info(`server: https://[2001:db8::1]:443, user native6-admin`);
  assert.deepEqual(lines, ['apiVersion: v1', 'kind: Config', '-----BEGIN CERTIFICATE-----', 'the key: ***', 'client-key-data: ***', 'server: https://[2001:db8::1]:443, user native6-admin']);
});

test('a token kubeconfig: the token is masked, its server and names are not', () => {
  const text = stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'lab', cluster: { server: 'https://[::1]:6443', 'certificate-authority-data': Buffer.from('not a pem at all').toString('base64') } }],
    users: [{ name: 'admin', user: { token: 'abcdef.0123456789abcdef' } }],
    contexts: [{ name: 'lab', context: { cluster: 'lab', user: 'admin' } }],
    'current-context': 'lab',
  });
  assert.deepEqual(maskValues(text).sort(), [Buffer.from('not a pem at all').toString('base64'), 'abcdef.0123456789abcdef'].sort());
});

test('a PEM: whole, and its body lines; never its BEGIN and END lines; any other value whole and by its lines of 8 characters or more', () => {
  const pem = '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVyc2SGEHcBX9dqNi\nAwEHoUQDQgAE\nQ==\n-----END EC PRIVATE KEY-----\n';
  assert.deepEqual(maskValues(pem), [pem.trim(), 'MHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVyc2SGEHcBX9dqNi', 'AwEHoUQDQgAE']);
  assert.deepEqual(maskValues('first-line-secret\nshort\n  second-line-secret  '), ['first-line-secret\nshort\n  second-line-secret', 'first-line-secret', 'second-line-secret']);
  assert.deepEqual(maskValues('p'), [], 'a one-letter value would mask every p');
});

/** A fake GitHub with no comments yet: what the plan posts is kept. */
const posted: IssueComment[] = [];
const server = setupServer(
  http.get(`${API}/repos/:owner/:repo/issues/:number/comments`, () => HttpResponse.json(posted)),
  http.post(`${API}/repos/:owner/:repo/issues/:number/comments`, async ({ request }) => {
    const c = issueComment(100 + posted.length, ((await request.json()) as { body: string }).body, actionsBot);
    posted.push(c);
    return HttpResponse.json(c, { status: 201 });
  }),
  http.patch(`${API}/repos/:owner/:repo/issues/comments/:id`, async ({ request, params }) => {
    const c = posted.find((x) => x.id === Number(params.id))!;
    c.body = ((await request.json()) as { body: string }).body;
    return HttpResponse.json(c);
  }),
);
before(() => server.listen({ onUnhandledRequest: 'error' }));
after(() => server.close());

test('a secret in the preview\'s output and in its failure is redacted in the PR comment and the job summary', async () => {
  // Markdown and Mermaid would escape _, * and ` : redacted before, the secret is gone in any spelling.
  const SECRET = 'Zq9_s3cr3tP4ss*w0rd`x';
  const FRAGMENT = 's3cr3tP4ss';
  /** The plan of infra/dfw.yaml with this preview, its log given the secret first (as the action masks its inputs) unless told not to. */
  const plan = async (preview: () => Promise<PreviewOutcome>, known = true) => {
    posted.length = 0;
    const lines: string[] = [];
    const log = createLineLog((l) => lines.push(l));
    if (known) log.secret(SECRET);
    return { log, lines, result: await runPlan({ repoRoot: ROOT, specs: ['infra/dfw.yaml'], commitSha: '0123456', pullRequest: pr }, { log, octokit: createOctokit('test-token', { log, fetch, secondMs: 1 }), preview }) };
  };
  const output = async (): Promise<PreviewOutcome> => ({ changes: [], summary: {}, output: `+ native6-secrets dfw-secrets create\n  bgpPassword: ${SECRET}\n` });

  // Before the secret is known, it reaches the comment as the preview printed it: what the test would see without redaction.
  const control = await plan(output, false);
  assert.equal(control.result.ok, true, control.lines.join('\n'));
  assert.ok(posted[0]!.body!.includes(FRAGMENT), 'control: the unregistered value is shown');

  const ok = await plan(output);
  assert.equal(posted.length, 1);
  const comment = posted[0]!.body!;
  assert.ok(!comment.includes(FRAGMENT), comment);
  assert.match(comment, /bgpPassword: \*\*\*/);
  assert.equal(ok.log.summaries.length, 1);
  assert.ok(!ok.log.summaries[0]!.includes(FRAGMENT));
  assert.match(ok.log.summaries[0]!, /bgpPassword: \*\*\*/);

  const failed = await plan(async () => {
    throw new Error(`error: decrypting secret value: ${SECRET} is not valid`);
  });
  assert.equal(failed.result.ok, false);
  const failure = posted[0]!.body!;
  assert.ok(!failure.includes(FRAGMENT), failure);
  assert.ok(failure.includes('decrypting secret value: '), failure);
  assert.ok(!failed.log.summaries[0]!.includes(FRAGMENT));
  assert.ok(failed.lines.every((l) => !l.includes(FRAGMENT)), failed.lines.join('\n'));
  assert.equal(redact(`x ${SECRET} y`), 'x *** y');
});
