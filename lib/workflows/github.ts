/**
 * The plan comment on GitHub: one comment per stack on a pull request, found
 * by its marker (commentMarker in comment.ts) among ALL the PR's comments
 * (paginated, 100 a page) and edited in place, or created. The Octokit is
 * injected, so tests reach GitHub through a fake.
 */
import { Octokit } from '@octokit/rest';

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
}

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

/** An Octokit for the REST API with the given token; `fetchImpl` replaces the global fetch (tests, proxies). */
export function createOctokit(token: string, fetchImpl?: typeof fetch): Octokit {
  return new Octokit({ auth: token, userAgent: 'native6', ...(fetchImpl ? { request: { fetch: fetchImpl } } : {}) });
}

/** Does this comment body belong to the marker? It must begin with it (after leading whitespace); merely mentioning it does not count. */
function isMarked(body: string | undefined | null, marker: string): boolean {
  return typeof body === 'string' && body.replace(/^[\uFEFF\s]+/, '').startsWith(marker);
}

function describe(error: unknown, doing: string, pr: PullRequestRef): GitHubCommentError {
  const where = `${pr.owner}/${pr.repo}#${pr.number}`;
  const status = typeof error === 'object' && error !== null && 'status' in error && typeof error.status === 'number' ? error.status : undefined;
  const detail = error instanceof Error ? error.message : String(error);
  const hint =
    status === 404
      ? ' (the repository or pull request does not exist, or the token cannot see it)'
      : status === 403 || status === 401
        ? ' (the token lacks permission: the workflow needs `pull-requests: write`)'
        : '';
  return new GitHubCommentError(`GitHub: ${doing} on ${where} failed${status !== undefined ? ` with HTTP ${status}` : ''}: ${detail}${hint}`, status, { cause: error });
}

/**
 * Make the PR carry exactly one up-to-date comment for `marker`: the oldest
 * comment starting with the marker is updated when its body differs
 * (unchanged otherwise), or a new comment is created. `body` should start
 * with the marker, or the next run will not find it.
 */
export async function upsertComment(octokit: Octokit, pr: PullRequestRef, marker: string, body: string): Promise<UpsertResult> {
  const target = { owner: pr.owner, repo: pr.repo };
  const comments = await octokit.paginate(octokit.rest.issues.listComments, { ...target, issue_number: pr.number, per_page: 100 }).catch((error: unknown) => {
    throw describe(error, 'listing comments', pr);
  });
  const marked = comments
    .filter((c) => isMarked(c.body, marker))
    .sort((a, b) => (a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : Number(a.id) - Number(b.id)));
  const [existing, ...rest] = marked;
  const duplicates = rest.map((c) => Number(c.id));

  if (existing) {
    const id = Number(existing.id);
    if (existing.body === body) return { id, action: 'unchanged', url: existing.html_url, duplicates };
    try {
      const { data } = await octokit.rest.issues.updateComment({ ...target, comment_id: id, body });
      return { id: Number(data.id), action: 'updated', url: data.html_url, duplicates };
    } catch (error) {
      throw describe(error, `updating comment ${id}`, pr);
    }
  }
  try {
    const { data } = await octokit.rest.issues.createComment({ ...target, issue_number: pr.number, body });
    return { id: Number(data.id), action: 'created', url: data.html_url, duplicates };
  } catch (error) {
    throw describe(error, 'creating a comment', pr);
  }
}
