/**
 * Bounded exponential backoff, declared where it is used (the kubeconfig
 * fetch, git pushes): every attempt is logged, and the last failure ends in
 * an error that says what was tried, how often, for how long, and why.
 */

export interface RetryOptions {
  /** What is being tried, for the log and the error ("the API server of dfw"). */
  readonly what: string;
  readonly attempts: number;
  readonly initialMs: number;
  readonly maxMs: number;
  /** Growth per attempt (2 doubles). */
  readonly factor?: number;
  readonly log?: (line: string) => void;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
  /** Errors worth no retry (a wrong password does not get better): rethrown at once. */
  readonly fatal?: (e: unknown) => boolean;
}

export class RetryError extends Error {
  constructor(
    message: string,
    readonly attempts: number,
    readonly lastError: unknown,
  ) {
    super(message);
  }
}

/** The wait before attempt n+1 (n from 1): initial × factor^(n-1), at most max. */
export function backoffDelay(n: number, o: Pick<RetryOptions, 'initialMs' | 'maxMs' | 'factor'>): number {
  return Math.min(o.maxMs, o.initialMs * (o.factor ?? 2) ** (n - 1));
}

function reason(e: unknown): string {
  return e instanceof Error ? e.message.split('\n')[0]! : String(e);
}

export async function retry<T>(fn: (attempt: number) => Promise<T>, o: RetryOptions): Promise<T> {
  if (!Number.isInteger(o.attempts) || o.attempts < 1) throw new Error(`retry: attempts must be a positive integer, got ${o.attempts}`);
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = o.now ?? Date.now;
  const log = o.log ?? (() => {});
  const start = now();
  let last: unknown;
  let made = 0;
  for (let n = 1; n <= o.attempts; n++) {
    made = n;
    try {
      const value = await fn(n);
      if (n > 1) log(`${o.what}: attempt ${n}/${o.attempts} succeeded after ${((now() - start) / 1000).toFixed(1)}s`);
      return value;
    } catch (e) {
      last = e;
      if (o.fatal?.(e)) throw e;
      if (n === o.attempts) {
        log(`${o.what}: attempt ${n}/${o.attempts} failed: ${reason(e)}`);
        break;
      }
      const wait = backoffDelay(n, o);
      log(`${o.what}: attempt ${n}/${o.attempts} failed: ${reason(e)}; next in ${(wait / 1000).toFixed(1)}s`);
      await sleep(wait);
    }
  }
  // The attempts actually made, not the ones allowed: the error says what happened.
  throw new RetryError(`${o.what}: gave up after ${made} attempt${made === 1 ? '' : 's'} over ${((now() - start) / 1000).toFixed(1)}s; last error: ${reason(last)}`, made, last);
}
