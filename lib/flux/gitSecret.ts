/**
 * The Secret a private repository's GitRepository references
 * (spec.gitops.secretRef): never rendered, never in user-data. Either the
 * user creates it in flux-system (kubectl, docs/gitops.md#a-private-repository)
 * or the apply action does, from the workflow's GitHub secrets, before Flux
 * is installed; apply refuses to install Flux when neither has.
 *
 * Its keys are source-controller's: username and password for https (a
 * token as the password), identity and known_hosts for ssh.
 */
import type { ClusterSpec } from '../cluster/cluster.js';
import type { KubeClient } from '../kube/client.js';
import { applyObjects, type KubeObject } from '../kube/objects.js';
import { FLUX_NAMESPACE } from '../render/flux.js';

export type GitCredentials = { readonly kind: 'https'; readonly username: string; readonly password: string } | { readonly kind: 'ssh'; readonly identity: string; readonly knownHosts: string };

/** The apply action's inputs, as given (empty strings for those not set). */
export interface GitCredentialInputs {
  readonly username?: string;
  readonly password?: string;
  readonly identity?: string;
  readonly knownHosts?: string;
}

/** The credentials the inputs give, none when all are empty; half a pair, or both kinds, refused naming the inputs. */
export function gitCredentials(i: GitCredentialInputs): GitCredentials | undefined {
  const set = (v?: string) => (v ?? '').trim() !== '';
  const https = set(i.username) || set(i.password);
  const ssh = set(i.identity) || set(i.knownHosts);
  if (https && ssh) throw new Error('git credentials: give either flux-git-username and flux-git-password (https) or flux-git-identity and flux-git-known-hosts (ssh), not both');
  if (https) {
    if (!set(i.username) || !set(i.password)) throw new Error(`git credentials: flux-git-${set(i.username) ? 'password' : 'username'} is empty: give both for an https repository (a token as the password; GitHub takes any username, e.g. git)`);
    return { kind: 'https', username: i.username!.trim(), password: i.password!.trim() };
  }
  if (ssh) {
    if (!set(i.identity) || !set(i.knownHosts)) throw new Error(`git credentials: flux-git-${set(i.identity) ? 'known-hosts' : 'identity'} is empty: give both for an ssh repository (the private key, and the host's key as ssh-keyscan prints it)`);
    return { kind: 'ssh', identity: `${i.identity!.trim()}\n`, knownHosts: `${i.knownHosts!.trim()}\n` };
  }
  return undefined;
}

/** Every value of the credentials, to be masked before anything could print them. */
export function credentialValues(c: GitCredentials): string[] {
  return c.kind === 'https' ? [c.password] : [c.identity];
}

/** The Secret itself (source-controller's keys), for a server-side apply. */
export function fluxGitSecret(name: string, c: GitCredentials): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: FLUX_NAMESPACE, labels: { 'app.kubernetes.io/managed-by': 'native6-apply' } },
    type: 'Opaque',
    // data, not stringData: what server-side apply compares and owns key by key.
    data: Object.fromEntries(Object.entries(c.kind === 'https' ? { username: c.username, password: c.password } : { identity: c.identity, known_hosts: c.knownHosts }).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  };
}

/**
 * Before Flux is installed or waited for: the Secret spec.gitops.secretRef
 * names, applied from `given` (with the flux-system namespace, which Flux's
 * install then labels), or found in the cluster. What it did, for the log
 * (nothing for a public repository and no credentials).
 */
export async function ensureFluxGitSecret(client: KubeClient, spec: Pick<ClusterSpec, 'name' | 'gitops'>, given: GitCredentials | undefined, fieldManager: string): Promise<string | undefined> {
  const name = spec.gitops.secretRef;
  if (!name) return given ? `git credentials given, but infra/${spec.name}.yaml names no spec.gitops.secretRef: not used` : undefined;
  if (given) {
    const ssh = spec.gitops.url.startsWith('ssh://');
    if (ssh !== (given.kind === 'ssh')) {
      throw new Error(`infra/${spec.name}.yaml: spec.gitops.url is ${ssh ? 'an ssh' : 'an https'} URL, but the apply action was given ${given.kind} credentials: give ${ssh ? 'flux-git-identity and flux-git-known-hosts' : 'flux-git-username and flux-git-password'} instead`);
    }
    await applyObjects(client, [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: FLUX_NAMESPACE } }, fluxGitSecret(name, given)], fieldManager);
    return `Secret ${FLUX_NAMESPACE}/${name} applied from the action's ${given.kind} credentials`;
  }
  if (await client.find(`/api/v1/namespaces/${FLUX_NAMESPACE}/secrets/${name}`)) return `Secret ${FLUX_NAMESPACE}/${name} is in the cluster`;
  throw new Error(
    `infra/${spec.name}.yaml: spec.gitops.secretRef names the Secret ${FLUX_NAMESPACE}/${name}, which is not in the cluster, and the apply action was given no git credentials: ` +
      `set the repository secrets the apply workflow passes (FLUX_GIT_USERNAME and FLUX_GIT_PASSWORD, or FLUX_GIT_IDENTITY and FLUX_GIT_KNOWN_HOSTS), or create it with kubectl (docs/gitops.md#a-private-repository)`,
  );
}
