/**
 * GitHub's answers for the faked GitHub of the tests, schema-true (typed by
 * @octokit/openapi-types): users, issue comments, and the errors GitHub
 * documents (a secondary rate limit, a primary one, a server error).
 */
import type { components } from '@octokit/openapi-types';

export type IssueComment = components['schemas']['issue-comment'];
export type User = NonNullable<components['schemas']['nullable-simple-user']>;
export type BasicError = components['schemas']['basic-error'];

export const API = 'https://api.github.com';
export const pr = { owner: 'acme', repo: 'native6', number: 7 };

export function user(login: string, id: number, type: 'Bot' | 'User', api = API): User {
  const url = `${api}/users/${encodeURIComponent(login)}`;
  return {
    login,
    id,
    node_id: `U_kgDO${id}`,
    avatar_url: `https://avatars.githubusercontent.com/u/${id}?v=4`,
    gravatar_id: '',
    url,
    html_url: `https://github.com/${login}`,
    followers_url: `${url}/followers`,
    following_url: `${url}/following{/other_user}`,
    gists_url: `${url}/gists{/gist_id}`,
    starred_url: `${url}/starred{/owner}{/repo}`,
    subscriptions_url: `${url}/subscriptions`,
    organizations_url: `${url}/orgs`,
    repos_url: `${url}/repos`,
    events_url: `${url}/events{/privacy}`,
    received_events_url: `${url}/received_events`,
    type,
    site_admin: false,
    user_view_type: 'public',
  };
}
export const actionsBot = user('github-actions[bot]', 41898282, 'Bot');
export const otherBot = user('pulumi[bot]', 30351955, 'Bot');
export const human = user('octocat', 583231, 'User');

/** A comment as GitHub returns it; ids grow with time, as on GitHub. `api` and `web` are the server's (GitHub Enterprise Server has its own). */
export function issueComment(id: number, text: string, by: User = human, api = API, web = 'https://github.com'): IssueComment {
  const created = new Date(Date.UTC(2025, 0, 1) + id * 60_000).toISOString().replace('.000', '');
  return {
    id,
    node_id: `IC_kwDOAbCdEf${id}`,
    url: `${api}/repos/${pr.owner}/${pr.repo}/issues/comments/${id}`,
    html_url: `${web}/${pr.owner}/${pr.repo}/pull/${pr.number}#issuecomment-${id}`,
    body: text,
    user: by,
    created_at: created,
    updated_at: created,
    issue_url: `${api}/repos/${pr.owner}/${pr.repo}/issues/${pr.number}`,
    author_association: by.type === 'Bot' ? 'NONE' : 'MEMBER',
    performed_via_github_app: null,
    reactions: {
      url: `${api}/repos/${pr.owner}/${pr.repo}/issues/comments/${id}/reactions`,
      total_count: 0,
      '+1': 0,
      '-1': 0,
      laugh: 0,
      confused: 0,
      heart: 0,
      hooray: 0,
      eyes: 0,
      rocket: 0,
    },
  };
}

/**
 * A secondary rate limit as GitHub answers it (403, or 429): the documented
 * message and a retry-after header in seconds.
 * https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api#exceeding-the-rate-limit
 */
export function secondaryRateLimit(retryAfterSeconds: number, status: 403 | 429 = 403): { body: BasicError; init: ResponseInit } {
  return {
    body: {
      message:
        'You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID 0C01:3A9F:1B2C3D:1C2D3E:67890ABC.',
      documentation_url: 'https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits',
      status: String(status),
    },
    init: {
      status,
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'retry-after': String(retryAfterSeconds),
        'x-ratelimit-limit': '5000',
        'x-ratelimit-remaining': '4987',
        'x-ratelimit-reset': '1735689600',
        'x-ratelimit-used': '13',
        'x-ratelimit-resource': 'core',
        'x-github-request-id': '0C01:3A9F:1B2C3D:1C2D3E:67890ABC',
      },
    },
  };
}

/** The primary rate limit spent (403, x-ratelimit-remaining 0), resetting at `reset` (epoch seconds). */
export function primaryRateLimit(reset: number): { body: BasicError; init: ResponseInit } {
  return {
    body: {
      message: 'API rate limit exceeded for installation ID 12345678. If you reach out to GitHub Support for help, please include the request ID 0C02:1A2B:3C4D5E:6F7A8B:9C0D1E2F.',
      documentation_url: 'https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-primary-rate-limits',
      status: '403',
    },
    init: {
      status: 403,
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'x-ratelimit-limit': '5000',
        'x-ratelimit-remaining': '0',
        'x-ratelimit-reset': String(reset),
        'x-ratelimit-used': '5000',
        'x-ratelimit-resource': 'core',
        'x-github-request-id': '0C02:1A2B:3C4D5E:6F7A8B:9C0D1E2F',
      },
    },
  };
}

/** A server error as GitHub answers it now and then (502 from its front end, JSON body). */
export function serverError(status: 500 | 502 | 503 = 502): { body: BasicError; init: ResponseInit } {
  return { body: { message: 'Server Error' }, init: { status, headers: { 'content-type': 'application/json; charset=utf-8' } } };
}
