/**
 * A kubeadm bootstrap token, kept valid by apply: the Secret
 * kube-system/bootstrap-token-<id> that the API server's bootstrap token
 * authenticator reads (and that kubeadm init made with a 2 h TTL), written
 * again with a new expiration. Every machine of a stack carries the stack's
 * token in its bootstrap, and its join is tried until it succeeds: a machine
 * added by a later apply joins once that apply has renewed the token.
 */
import type { KubeClient } from './client.js';
import type { KubeObject } from './objects.js';

/** How long a renewed token stays valid: a day after the apply that renewed it. */
export const JOIN_TOKEN_VALIDITY_MS = 24 * 3600 * 1000;
/** The group kubeadm gives its bootstrap tokens (its RBAC lets it join, and download the control-plane certificates). */
export const KUBEADM_TOKEN_GROUP = 'system:bootstrappers:kubeadm:default-node-token';
const TOKEN = /^([a-z0-9]{6})\.([a-z0-9]{16})$/;

/** The token's public part (its id), which may be logged; throws, without the token in the message, when it is not a token. */
export function tokenId(token: string): string {
  const m = TOKEN.exec(token);
  if (!m) throw new Error('the join token is not a kubeadm bootstrap token ([a-z0-9]{6}.[a-z0-9]{16})');
  return m[1]!;
}

/** Secret data (base64): stringData would not do for server-side apply, which owns data's keys by name. */
const b64 = (o: Record<string, string>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));

/** The token's Secret as kubeadm writes it, expiring at `expiresAt`. */
export function bootstrapTokenSecret(token: string, expiresAt: Date, description: string): KubeObject {
  const id = tokenId(token);
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'bootstrap.kubernetes.io/token',
    metadata: { name: `bootstrap-token-${id}`, namespace: 'kube-system' },
    data: b64({
      description,
      'token-id': id,
      'token-secret': token.slice(7),
      // RFC 3339, seconds, UTC: what the authenticator parses.
      expiration: `${expiresAt.toISOString().slice(0, 19)}Z`,
      'usage-bootstrap-authentication': 'true',
      'usage-bootstrap-signing': 'true',
      'auth-extra-groups': KUBEADM_TOKEN_GROUP,
    }),
  } as KubeObject;
}

/** Writes the token's Secret with an expiration `validForMs` from `now` (server-side apply, forced over kubeadm's); the expiration. */
export async function renewBootstrapToken(client: KubeClient, token: string, fieldManager: string, now = new Date(), validForMs = JOIN_TOKEN_VALIDITY_MS): Promise<Date> {
  const expiresAt = new Date(now.getTime() + validForMs);
  const secret = bootstrapTokenSecret(token, expiresAt, 'native6: the stack\'s join token, renewed by every apply');
  await client.apply(`/api/v1/namespaces/kube-system/secrets/${secret.metadata.name}`, secret, fieldManager);
  return expiresAt;
}
