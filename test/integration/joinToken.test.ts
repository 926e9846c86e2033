// The join token apply renews (lib/kube/bootstrapToken.ts), read by a real
// kube-apiserver's bootstrap token authenticator (--enable-bootstrap-token-auth,
// as kubeadm runs it): written over a Secret another manager made (kubeadm's
// at init) with an expiration in the past, the token authenticates as
// system:bootstrap:<id> in kubeadm's groups until the new expiration; renewed
// with a clock a day and an hour back, it is expired and refused (401).
// Everything is removed in `finally`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KubeError, tokenKubeClient } from '../../lib/kube/client.js';
import { bootstrapTokenSecret, KUBEADM_TOKEN_GROUP, renewBootstrapToken } from '../../lib/kube/bootstrapToken.js';
import { startApiServer } from '../../lib/toolchain/apiServer.js';
import { DEFAULT_CACHE_DIR } from '../../lib/toolchain/repo.js';
import { waitFor, waitUntil } from '../../lib/phases/wait.js';
import { needApiServer } from '../apiserver.js';

const TOKEN = 'n6tokn.0123456789abcdef';

test('a renewed join token authenticates with the real authenticator; an expired one is refused', async () => {
  needApiServer();
  const api = await startApiServer({ cacheDir: DEFAULT_CACHE_DIR, extraArgs: ['--enable-bootstrap-token-auth=true'] });
  try {
    const admin = tokenKubeClient(api.server, api.ca, api.token);
    const whoami = (token: string) => tokenKubeClient(api.server, api.ca, token).request<{ status: { userInfo: { username: string; groups: string[] } } }>('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' });
    const path = '/api/v1/namespaces/kube-system/secrets/bootstrap-token-n6tokn';
    // As kubeadm init left it: its own field manager, and long expired.
    await admin.apply(path, bootstrapTokenSecret(TOKEN, new Date(Date.now() - 3 * 3600_000), 'kubeadm init'), 'kubeadm');
    await assert.rejects(whoami(TOKEN), (e: unknown) => e instanceof KubeError && e.status === 401);

    const until = await renewBootstrapToken(admin, TOKEN, 'native6-apply');
    assert.ok(until.getTime() > Date.now() + 23 * 3600_000);
    // The authenticator reads Secrets through an informer (a write is seen a moment later), and the API server
    // keeps a successful authentication for 10 s: hence the waits.
    const me = (await waitFor('the renewed token authenticating', async () => (await whoami(TOKEN)).status.userInfo, { timeoutMs: 60_000, intervalMs: 200 }));
    assert.equal(me.username, 'system:bootstrap:n6tokn');
    assert.ok(me.groups.includes('system:bootstrappers') && me.groups.includes(KUBEADM_TOKEN_GROUP), me.groups.join(', '));
    const stored = await admin.get<{ data: Record<string, string>; metadata: { managedFields: Array<{ manager: string }> } }>(path);
    assert.equal(Buffer.from(stored.data.expiration!, 'base64').toString(), `${until.toISOString().slice(0, 19)}Z`);
    assert.ok(stored.metadata.managedFields.some((f) => f.manager === 'native6-apply'));

    // A clock a day and an hour back: the expiration an hour ago, and the token refused.
    await renewBootstrapToken(admin, TOKEN, 'native6-apply', new Date(Date.now() - 25 * 3600_000));
    await waitUntil('the expired token refused', async () => whoami(TOKEN).then(() => false, (e: unknown) => e instanceof KubeError && e.status === 401), { timeoutMs: 60_000, intervalMs: 200 });
  } finally {
    await api.stop();
  }
});
