/**
 * GitHub for the actions: the Octokit as GitHub Actions builds it
 * (getOctokit from @actions/github: GITHUB_API_URL as the base URL, so GitHub
 * Enterprise Server works, and the runner's proxy settings), with the retry
 * and throttling plugins, every retry bounded and said in the log.
 *
 * The plan comment: one comment per stack on a pull request, found by its
 * marker (commentMarker in comment.ts) among ALL the PR's comments
 * (paginated, 100 a page) and edited in place, or created. The client is
 * injected, so tests reach GitHub through a fake.
 */
import { getOctokit } from '@actions/github';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import Bottleneck from 'bottleneck';
import type { ActionLog } from './log.js';

export interface PullRequestRef {
  readonly owner: string;
  readonly repo: string;
  readonly number: number;
}

export interface UpsertResult {
  readonly id: number;
  readonly action: 'created' | 'updated' | 'unchanged';
  /** The comment's page on GitHub (html_url). */
  readonly url: string;
  /**
   * Other comments that also start with the marker (left by an earlier run
   * that raced this one, say). The oldest marked comment is the one kept up
   * to date; these are left alone, and returned so a caller can warn.
   */
  readonly duplicates: readonly number[];
  /**
   * Comments that start with the marker but were written by someone else:
   * never edited (anyone may post the marker first, and edit their comment
   * again after the bot wrote into it), returned so a caller can warn.
   */
  readonly impostors: readonly number[];
}

/** Who writes the plan comment: the workflow's GITHUB_TOKEN posts as this user. */
export const ACTIONS_BOT = 'github-actions[bot]';

/** A GitHub call that failed, naming the repository and pull request. */
export class GitHubCommentError extends Error {
  override name = 'GitHubCommentError';
  constructor(
    message: string,
    /** The HTTP status, when GitHub answered. */
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** How many times a call is tried again after GitHub refused it for a while (a 5xx, a rate limit) or did not answer, at most. */
export const GITHUB_RETRIES = 3;
/** The longest wait a rate limit may ask for; a longer one is not waited out, and the call fails. */
export const GITHUB_MAX_WAIT_SECONDS = 300;
/**
 * Statuses the retry plugin does not retry: its own list, and 429, so that
 * rate limits (403 and 429) belong to the throttling plugin alone, which waits
 * as long as GitHub's retry-after says.
 */
const DO_NOT_RETRY = [400, 401, 403, 404, 410, 422, 429, 451];

/** The Octokit the actions use: REST methods, pagination, retry and throttling. */
export type GitHubClient = ReturnType<typeof getOctokit>;
/** An Octokit plugin, as getOctokit takes them. */
type Plugin = NonNullable<Parameters<typeof getOctokit>[2]>;

export interface GitHubClientOptions {
  /** Where retries and rate limits are said. */
  readonly log: ActionLog;
  /**
   * Replaces the fetch @actions/github builds (undici through the runner's
   * proxy, https_proxy and no_proxy): tests hand the global fetch, which
   * their fake GitHub intercepts.
   */
  readonly fetch?: typeof fetch;
  /**
   * How long one of GitHub's seconds lasts here, in milliseconds: the unit of
   * retry-after, of the retry plugin's backoff (1, 4, 9 s) and of the spacing
   * between writes (1 s, 3 s before a write that notifies). 1000 unless a
   * test shrinks time; the waits themselves stay the plugins' own.
   */
  readonly secondMs?: number;
}

type CallOptions = { readonly method?: string; readonly url?: string; readonly baseUrl?: string; readonly request?: { readonly retryCount?: number } } & Record<string, unknown>;

/** The call, the base URL and query left out and the route's parameters filled in: POST /repos/acme/native6/issues/7/comments. */
function callOf(options: CallOptions): string {
  let url = options.url ?? '';
  if (options.baseUrl && url.startsWith(options.baseUrl)) url = url.slice(options.baseUrl.length);
  url = url.replace(/\?.*$/, '').replace(/\{(\w+)\}/g, (whole, name: string) => {
    const value = options[name];
    return typeof value === 'string' || typeof value === 'number' ? encodeURIComponent(String(value)) : whole;
  });
  return `${options.method ?? 'GET'} ${url}`;
}

/** Did GitHub answer? Octokit reports a call that got no answer (refused, reset, DNS) as HTTP 500 without a response. */
function answered(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'response' in error && error.response !== undefined;
}

function statusOf(error: unknown): number | undefined {
  return typeof error === 'object' && error !== null && 'status' in error && typeof error.status === 'number' ? error.status : undefined;
}

/**
 * A plugin that says in the log when the retry plugin will try a failed call
 * again (the retry plugin says nothing). Given to getOctokit before the retry
 * plugin, so that its error hook is the innermost and sees every attempt.
 */
function logRetries(log: ActionLog): Plugin {
  return (octokit) => {
    octokit.hook.error('request', (error, options) => {
      const status = statusOf(error);
      if (status !== undefined && status >= 400 && !DO_NOT_RETRY.includes(status)) {
        const done = (options as CallOptions).request?.retryCount ?? 0;
        const call = callOf(options as CallOptions);
        const what = answered(error) ? `GitHub answered HTTP ${status} to ${call}` : `${call} got no answer from GitHub (${error instanceof Error ? error.message : String(error)})`;
        if (done < GITHUB_RETRIES) log.info(`${what}: retry ${done + 1} of ${GITHUB_RETRIES} in ${(done + 1) ** 2} s`);
        else log.warning(`${what}: no retry left (${GITHUB_RETRIES} done), the call fails`);
      }
      throw error;
    });
  };
}

/**
 * A plugin that gives each call its own `request` options. Octokit hands
 * every call the same object, and the retry and throttling plugins write
 * their retry count into it, so one call's retries carried into the next (a
 * longer backoff, a wrong count in the log; octokit/plugin-throttling#462
 * describes the shared object). Given to getOctokit last, so that its wrap is
 * the outermost and runs first.
 */
const ownRequestOptions: Plugin = (octokit) => {
  octokit.hook.wrap('request', (request, options) => {
    options.request = { ...options.request };
    return request(options);
  });
};

/** The throttling plugin's handler for one kind of limit: retry while retries are left and the wait is bounded. */
function onLimit(log: ActionLog, kind: string) {
  return (retryAfter: number, options: unknown, _octokit: unknown, retryCount: number): boolean => {
    const call = callOf(options as CallOptions);
    if (retryCount >= GITHUB_RETRIES) {
      log.warning(`GitHub: ${kind} on ${call}: no retry left (${GITHUB_RETRIES} done), the call fails`);
      return false;
    }
    if (retryAfter > GITHUB_MAX_WAIT_SECONDS) {
      log.warning(`GitHub: ${kind} on ${call}: GitHub asks to wait ${retryAfter} s, more than ${GITHUB_MAX_WAIT_SECONDS} s: not waited, the call fails`);
      return false;
    }
    log.info(`GitHub: ${kind} on ${call}: retry ${retryCount + 1} of ${GITHUB_RETRIES} in ${retryAfter} s`);
    return true;
  };
}

/**
 * The Octokit for the REST API with the given token, as GitHub Actions builds
 * it (getOctokit: base URL from GITHUB_API_URL, the runner's proxy), with
 * the retry plugin (a 5xx is tried again up to GITHUB_RETRIES times, after
 * 1, 4 and 9 s) and the throttling plugin (writes spaced as GitHub asks; a
 * rate limit is waited out as its retry-after says, up to GITHUB_RETRIES
 * times and GITHUB_MAX_WAIT_SECONDS each). Every retry is said in the log.
 */
export function createOctokit(token: string, options: GitHubClientOptions): GitHubClient {
  const { log, secondMs = 1000 } = options;
  // The throttling plugin's own write and notification groups, with its
  // spacings (1 s between writes, 3 s before a write that notifies), made
  // here so that the unit of time follows secondMs.
  const write = new Bottleneck.Group({ id: 'native6-write', maxConcurrent: 1, minTime: secondMs });
  const notifications = new Bottleneck.Group({ id: 'native6-notifications', maxConcurrent: 1, minTime: 3 * secondMs });
  return getOctokit(
    token,
    {
      userAgent: 'native6',
      log: {
        debug: () => undefined,
        info: (message: string) => log.info(`GitHub: ${message}`),
        warn: (message: string) => log.warning(`GitHub: ${message}`),
        error: (message: string) => log.error(`GitHub: ${message}`),
      },
      retry: { retries: GITHUB_RETRIES, doNotRetry: DO_NOT_RETRY, retryAfterBaseValue: secondMs },
      throttle: {
        onRateLimit: onLimit(log, 'rate limit'),
        onSecondaryRateLimit: onLimit(log, 'secondary rate limit'),
        retryAfterBaseValue: secondMs,
        write,
        notifications,
      },
      ...(options.fetch ? { request: { fetch: options.fetch } } : {}),
    },
    logRetries(log),
    retry,
    throttling,
    ownRequestOptions,
  );
}

/** Does this comment body belong to the marker? It must begin with it (after leading whitespace); merely mentioning it does not count. */
function isMarked(body: string | undefined | null, marker: string): boolean {
  return typeof body === 'string' && body.replace(/^[\uFEFF\s]+/, '').startsWith(marker);
}

function describe(error: unknown, doing: string, pr: PullRequestRef): GitHubCommentError {
  const where = `${pr.owner}/${pr.repo}#${pr.number}`;
  const status = answered(error) ? statusOf(error) : undefined;
  const detail = error instanceof Error ? error.message : String(error);
  const hint =
    status === 404
      ? ' (the repository or pull request does not exist, or the token cannot see it)'
      : (status === 403 || status === 429) && /rate limit/i.test(detail)
        ? ' (a GitHub rate limit, retried as the log says)'
        : status === 403 || status === 401
          ? ' (the token lacks permission: the workflow needs `pull-requests: write`)'
          : '';
  return new GitHubCommentError(`GitHub: ${doing} on ${where} failed${status !== undefined ? ` with HTTP ${status}` : ''}: ${detail}${hint}`, status, { cause: error });
}

/**
 * Make the PR carry exactly one up-to-date comment for `marker`: the oldest
 * comment by `author` starting with the marker is updated when its body
 * differs (unchanged otherwise), or a new comment is created. `body` should
 * start with the marker, or the next run will not find it. A marked comment
 * by anyone else is never edited.
 */
export async function upsertComment(octokit: GitHubClient, pr: PullRequestRef, marker: string, body: string, author: string = ACTIONS_BOT): Promise<UpsertResult> {
  const target = { owner: pr.owner, repo: pr.repo };
  const comments = await octokit.paginate(octokit.rest.issues.listComments, { ...target, issue_number: pr.number, per_page: 100 }).catch((error: unknown) => {
    throw describe(error, 'listing comments', pr);
  });
  const ours = (c: (typeof comments)[number]) => c.user?.login === author;
  const impostors = comments.filter((c) => isMarked(c.body, marker) && !ours(c)).map((c) => Number(c.id));
  const marked = comments
    .filter((c) => isMarked(c.body, marker) && ours(c))
    .sort((a, b) => (a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : Number(a.id) - Number(b.id)));
  const [existing, ...rest] = marked;
  const duplicates = rest.map((c) => Number(c.id));

  if (existing) {
    const id = Number(existing.id);
    if (existing.body === body) return { id, action: 'unchanged', url: existing.html_url, duplicates, impostors };
    try {
      const { data } = await octokit.rest.issues.updateComment({ ...target, comment_id: id, body });
      return { id: Number(data.id), action: 'updated', url: data.html_url, duplicates, impostors };
    } catch (error) {
      throw describe(error, `updating comment ${id}`, pr);
    }
  }
  try {
    const { data } = await octokit.rest.issues.createComment({ ...target, issue_number: pr.number, body });
    return { id: Number(data.id), action: 'created', url: data.html_url, duplicates, impostors };
  } catch (error) {
    throw describe(error, 'creating a comment', pr);
  }
}

// ---------------------------------------------------------------------------
// Environments (#15, H2): a destroy must wait for a second person.

export interface RepositoryRef {
  readonly owner: string;
  readonly repo: string;
}

/** An environment that does not make a second person approve: names what to configure. */
export class EnvironmentUnprotected extends Error {
  override name = 'EnvironmentUnprotected';
}

export interface EnvironmentReviewers {
  /** The users' logins and teams' slugs that may approve. */
  readonly reviewers: readonly string[];
  /** Whether the one who started the run is refused as its approver. */
  readonly preventSelfReview: boolean;
  /** The deployment branch policy: 'protected branches', 'selected branches', or 'any branch'. */
  readonly branches: 'protected branches' | 'selected branches' | 'any branch';
}

/** What to set, in GitHub's words (Settings > Environments > <name>). */
export function environmentFix(name: string): string {
  return (
    `Settings > Environments > ${name}: under Deployment protection rules tick "Required reviewers", add at least one person or team ` +
    `(not only the people who start it), tick "Prevent self-review", and save; keep the secrets it uses as ${name}'s environment secrets, ` +
    `and limit Deployment branches to main`
  );
}

/**
 * The environment's required reviewers (GET /repos/{owner}/{repo}/environments/{name}),
 * or EnvironmentUnprotected when it has none: when it does not exist
 * (GitHub creates an environment at its first use, with no protection), has
 * no required_reviewers rule, or that rule names nobody. Needs
 * `actions: read`.
 */
export async function requireReviewers(octokit: GitHubClient, repo: RepositoryRef, name: string): Promise<EnvironmentReviewers> {
  const where = `${repo.owner}/${repo.repo}`;
  let env: Awaited<ReturnType<GitHubClient['rest']['repos']['getEnvironment']>>['data'];
  try {
    env = (await octokit.rest.repos.getEnvironment({ owner: repo.owner, repo: repo.repo, environment_name: name })).data;
  } catch (error) {
    const status = answered(error) ? statusOf(error) : undefined;
    if (status === 404) {
      throw new EnvironmentUnprotected(`the environment "${name}" does not exist in ${where}: GitHub would create it at its first use with no protection, and nobody would approve. Fix: create it: ${environmentFix(name)}`);
    }
    const hint = status === 403 || status === 401 ? ' (the job needs `permissions: actions: read`)' : '';
    throw new EnvironmentUnprotected(`GitHub: reading the environment "${name}" of ${where} failed${status !== undefined ? ` with HTTP ${status}` : ''}: ${error instanceof Error ? error.message : String(error)}${hint}`);
  }
  const rule = (env.protection_rules ?? []).find((r) => r.type === 'required_reviewers');
  const listed = rule && 'reviewers' in rule ? (rule.reviewers ?? []) : [];
  const reviewers = listed
    .map((r) => (r.reviewer && 'login' in r.reviewer ? r.reviewer.login : r.reviewer && 'slug' in r.reviewer ? `team ${r.reviewer.slug}` : undefined))
    .filter((x): x is string => x !== undefined);
  if (!rule || reviewers.length === 0) {
    throw new EnvironmentUnprotected(
      `the environment "${name}" of ${where} has no required reviewers${rule ? ' (its rule names nobody)' : ''}: a run would start with its secrets at once, with nobody approving. Fix: ${environmentFix(name)}`,
    );
  }
  const policy = env.deployment_branch_policy;
  return {
    reviewers,
    preventSelfReview: rule !== undefined && 'prevent_self_review' in rule && rule.prevent_self_review === true,
    branches: !policy ? 'any branch' : policy.protected_branches ? 'protected branches' : 'selected branches',
  };
}

/** A workflow run that has not finished: queued, waiting for approval, or running. */
export interface ActiveRun {
  readonly id: number;
  readonly status: string;
  readonly url: string;
}

/**
 * The runs of a workflow (by file name, e.g. apply.yml) that have not
 * completed, among its 100 most recent (GET
 * /repos/{owner}/{repo}/actions/workflows/{file}/runs). Needs `actions: read`.
 */
export async function activeRuns(octokit: GitHubClient, repo: RepositoryRef, workflow: string): Promise<ActiveRun[]> {
  const { data } = await octokit.rest.actions.listWorkflowRuns({ owner: repo.owner, repo: repo.repo, workflow_id: workflow, per_page: 100 });
  return data.workflow_runs
    .filter((r) => r.status !== 'completed')
    .map((r) => ({ id: Number(r.id), status: r.status ?? 'unknown', url: r.html_url }))
    .sort((a, b) => a.id - b.id);
}
