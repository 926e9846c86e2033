/**
 * Waiting until something holds, within a deadline: the one loop the lab,
 * Flux's install and the bootstrap use for "poll until ready". (retry.ts is
 * for an action that may fail and is tried again with backoff; this is for a
 * state that is not reached yet and is looked at again.)
 *
 * The probe answers a value when the state is reached, or undefined/false
 * when it is not yet; a probe that throws counts as "not yet" (its message
 * is logged and kept for the timeout's error) unless `fatal` says the error
 * ends the wait. The timeout's error names what was waited for, for how
 * long, how many looks it took, and the last thing seen.
 */

export interface WaitOptions {
  readonly timeoutMs: number;
  /** Between looks (500 ms by default). */
  readonly intervalMs?: number;
  /** Gets a line for each look that threw. */
  readonly log?: (line: string) => void;
  /** Errors that end the wait at once (rethrown). */
  readonly fatal?: (e: unknown) => boolean;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
}

export class WaitTimeout extends Error {
  override name = 'WaitTimeout';
  constructor(
    readonly what: string,
    readonly timeoutMs: number,
    readonly looks: number,
    readonly last: string | undefined,
  ) {
    super(`${what}: not after ${timeoutMs / 1000} s (${looks} looks)${last ? `; last: ${last}` : ''}`);
  }
}

/** What the last look saw, for the timeout's error: a probe may say it with `seen`. */
export interface Look {
  seen(text: string): void;
}

export async function waitFor<T>(what: string, probe: (look: Look) => Promise<T | undefined | false>, o: WaitOptions): Promise<T> {
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = o.now ?? Date.now;
  const deadline = now() + o.timeoutMs;
  let looks = 0;
  let last: string | undefined;
  const look: Look = { seen: (text) => (last = text) };
  for (;;) {
    looks++;
    try {
      const value = await probe(look);
      if (value !== undefined && value !== false) return value;
    } catch (e) {
      if (o.fatal?.(e)) throw e;
      last = e instanceof Error ? e.message.split('\n')[0]! : String(e);
      o.log?.(`${what}: look ${looks}: ${last}`);
    }
    if (now() >= deadline) throw new WaitTimeout(what, o.timeoutMs, looks, last);
    await sleep(o.intervalMs ?? 500);
  }
}

/** waitFor for a yes/no probe. */
export async function waitUntil(what: string, probe: (look: Look) => Promise<boolean>, o: WaitOptions): Promise<void> {
  await waitFor(what, async (look) => (await probe(look)) || undefined, o);
}
