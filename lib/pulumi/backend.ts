/**
 * The Pulumi state backend the workflows are given (the PULUMI_BACKEND_URL
 * repository variable), checked before any stack is opened: the state holds
 * the cluster CA and every machine's identity, so a backend that loses it
 * makes the next apply create a new CA and duplicate machines.
 *
 * - `file://` on a GitHub-hosted runner is refused: the runner's disk is
 *   wiped after the job.
 * - On a GitHub-hosted runner no credential is ambient (no instance role, no
 *   ~/.aws, no gcloud login): the object store's credentials must be in the
 *   step's environment, and a missing one is named before anything runs.
 *   Elsewhere (a self-hosted runner, a person's machine) credentials may come
 *   from the machine itself, and nothing is required.
 *
 * The credentials' secret values are returned, to be masked in the logs.
 * docs/pulumi.md ("State backends") says what to set for each kind.
 */

export type BackendKind = 'file' | 's3' | 'gs' | 'azblob';

export interface BackendCheck {
  readonly kind: BackendKind;
  /** The credentials' secret values found in the environment (to mask). */
  readonly secrets: readonly string[];
}

export class BackendError extends Error {
  override name = 'BackendError';
}

type Env = Readonly<Record<string, string | undefined>>;

const DOC = 'docs/pulumi.md, "State backends"';
/** Secret values of the credentials each kind reads (masked wherever they are set). */
const SECRET_VARIABLES = ['AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AZURE_STORAGE_KEY', 'AZURE_STORAGE_SAS_TOKEN', 'AZURE_STORAGE_CONNECTION_STRING', 'GOOGLE_CREDENTIALS', 'GOOGLE_OAUTH_ACCESS_TOKEN'];

const set = (env: Env, name: string) => (env[name] ?? '').trim() !== '';

/** True on a runner GitHub hosts (RUNNER_ENVIRONMENT, set by the runner since 2.303). */
export function onGitHubHostedRunner(env: Env): boolean {
  return env.GITHUB_ACTIONS === 'true' && env.RUNNER_ENVIRONMENT === 'github-hosted';
}

export function backendKind(url: string): BackendKind {
  const m = /^(file|s3|gs|azblob):\/\/./.exec(url);
  if (!m) {
    throw new BackendError(
      `the Pulumi backend "${url}" is not a self-managed backend URL: set the repository variable PULUMI_BACKEND_URL to s3://<bucket>[/<prefix>], gs://<bucket>, azblob://<container> or, on a machine that keeps its disk, file://<folder> (${DOC})`,
    );
  }
  return m[1] as BackendKind;
}

/**
 * What a GitHub-hosted runner must be given for each kind, as the pinned CLI
 * reads it (go-cloud's openers, and Pulumi's own GOOGLE_CREDENTIALS and
 * GOOGLE_OAUTH_ACCESS_TOKEN for gs://): any one of the ways, every name of
 * that way set; `how` says it for the error.
 */
const HOSTED_NEEDS: Readonly<Record<Exclude<BackendKind, 'file'>, { ways: (env: Env, url: string) => boolean; missing: string; how: string }>> = {
  s3: {
    ways: (env) => (set(env, 'AWS_ACCESS_KEY_ID') && set(env, 'AWS_SECRET_ACCESS_KEY')) || (set(env, 'AWS_WEB_IDENTITY_TOKEN_FILE') && set(env, 'AWS_ROLE_ARN')),
    missing: 'AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY',
    how: 'AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY as repository secrets, or aws-actions/configure-aws-credentials (OIDC) in a step before it',
  },
  gs: {
    ways: (env) => ['GOOGLE_CREDENTIALS', 'GOOGLE_APPLICATION_CREDENTIALS', 'GOOGLE_OAUTH_ACCESS_TOKEN'].some((n) => set(env, n)),
    missing: 'GOOGLE_CREDENTIALS, GOOGLE_APPLICATION_CREDENTIALS or GOOGLE_OAUTH_ACCESS_TOKEN',
    how: 'a service account key in the GOOGLE_CREDENTIALS secret, or google-github-actions/auth (workload identity) in a step before it',
  },
  azblob: {
    ways: (env, url) =>
      (set(env, 'AZURE_STORAGE_ACCOUNT') || /[?&]storage_account=[^&]+/.test(url) || set(env, 'AZURE_STORAGE_CONNECTION_STRING')) &&
      ['AZURE_STORAGE_KEY', 'AZURE_STORAGE_SAS_TOKEN', 'AZURE_STORAGE_CONNECTION_STRING', 'AZURE_CLIENT_ID'].some((n) => set(env, n)),
    missing: 'the storage account (AZURE_STORAGE_ACCOUNT, or ?storage_account= in the URL) or its credential (AZURE_STORAGE_KEY, AZURE_STORAGE_SAS_TOKEN, AZURE_STORAGE_CONNECTION_STRING, or AZURE_CLIENT_ID of an Entra ID application)',
    how: 'the AZURE_STORAGE_ACCOUNT variable and the AZURE_STORAGE_KEY (or AZURE_STORAGE_SAS_TOKEN) secret, or azure/login (OIDC) in a step before it with AZURE_CLIENT_ID in this step\'s environment',
  },
};

export function checkBackend(url: string, env: Env): BackendCheck {
  const kind = backendKind(url);
  const secrets = SECRET_VARIABLES.filter((n) => set(env, n)).map((n) => env[n]!.trim());
  if (!onGitHubHostedRunner(env)) return { kind, secrets };
  if (kind === 'file') {
    throw new BackendError(
      `the Pulumi backend "${url}" is a folder on this GitHub-hosted runner, whose disk is wiped after the job: the next run would find no stack and create every machine, the cluster CA and its secrets anew. Set the repository variable PULUMI_BACKEND_URL to an object store (s3://, gs://, azblob://) with its credentials, or run the workflows on a self-hosted runner that keeps the folder (${DOC})`,
    );
  }
  const needs = HOSTED_NEEDS[kind];
  if (!needs.ways(env, url)) {
    throw new BackendError(
      `the Pulumi backend "${url}" needs credentials on a GitHub-hosted runner, and the step's environment lacks ${needs.missing}: give it ${needs.how} (${DOC})`,
    );
  }
  if (kind === 's3' && !set(env, 'AWS_REGION') && !set(env, 'AWS_DEFAULT_REGION') && !/[?&]region=[^&]+/.test(url)) {
    throw new BackendError(`the Pulumi backend "${url}" names no region: set AWS_REGION in the step's environment (a repository variable) or add ?region=<region> to PULUMI_BACKEND_URL (${DOC})`);
  }
  return { kind, secrets };
}
