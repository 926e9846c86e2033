/**
 * A reflector: a local copy of one kind of object, kept by a LIST and then a
 * WATCH from the list's resourceVersion, as client-go's informers keep
 * theirs (what calico-node's syncers and kube-proxy hold). A watch that ends
 * is resumed from the last version seen (bookmarks move it on); a watch the
 * server says is too old (410 Gone, or an ERROR event) or that fails is
 * followed by a new LIST after a back-off, so the copy is never left stale
 * for good. `onChange` is called after every change to the copy.
 *
 * The pure part (applying events to the copy) is `applyEvent`, tested on
 * its own; the LIST/WATCH loop runs against a real API server in the lab.
 */
import { KubeError, type KubeClient, type WatchEvent } from './client.js';

export interface Meta {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
}

export type Store<T> = Map<string, T>;

export function keyOf(o: Meta): string {
  return `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
}

/**
 * Applies one watch event to the copy. Returns the resourceVersion to resume
 * from, whether the copy changed, and `relist` when the watch must start over.
 */
export function applyEvent<T extends Meta>(store: Store<T>, e: WatchEvent<T>): { resourceVersion?: string; changed: boolean; relist: boolean } {
  const rv = e.object?.metadata?.resourceVersion;
  switch (e.type) {
    case 'ADDED':
    case 'MODIFIED':
      store.set(keyOf(e.object), e.object);
      return { ...(rv ? { resourceVersion: rv } : {}), changed: true, relist: false };
    case 'DELETED':
      return { ...(rv ? { resourceVersion: rv } : {}), changed: store.delete(keyOf(e.object)), relist: false };
    case 'BOOKMARK':
      return { ...(rv ? { resourceVersion: rv } : {}), changed: false, relist: false };
    default:
      // ERROR: a Status (410 Gone when the version is too old); the copy is rebuilt from a LIST.
      return { changed: false, relist: true };
  }
}

export interface ReflectorOptions {
  /** Back-off before a new LIST after a failure. */
  readonly retryMs?: number;
  /** The life of one watch (the server ends it, this client a little after); 8 to 15 s by default. */
  readonly watchSeconds?: number;
  readonly log?: (line: string) => void;
}

export class Reflector<T extends Meta> {
  private readonly store: Store<T> = new Map();
  private listed = false;

  constructor(
    private readonly client: KubeClient,
    /** A collection path, e.g. /api/v1/pods or /apis/crd.projectcalico.org/v1/ippools. */
    readonly path: string,
    private readonly onChange: () => void,
    private readonly options: ReflectorOptions = {},
  ) {}

  /** Whether the first LIST has been had. */
  get synced(): boolean {
    return this.listed;
  }

  /** The objects, in key order (namespace/name). */
  items(): T[] {
    return [...this.store.keys()].sort().map((k) => this.store.get(k)!);
  }

  /** LIST, then WATCH until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    let lastError = '';
    while (!signal.aborted) {
      try {
        const list = await this.client.get<{ metadata?: { resourceVersion?: string }; items: T[] }>(this.path);
        this.store.clear();
        for (const o of list.items) this.store.set(keyOf(o), o);
        this.listed = true;
        if (lastError) this.options.log?.(`${this.path}: listed again`);
        lastError = '';
        this.onChange();
        let rv = list.metadata?.resourceVersion ?? '';
        let relist = false;
        while (!signal.aborted && !relist) {
          // One watch; ended early when the server says the copy must be rebuilt.
          const watch = new AbortController();
          const stop = (): void => watch.abort();
          signal.addEventListener('abort', stop);
          // A watch of bounded life, as client-go's (timeoutSeconds, here 8 to 15 s), ended here too a little
          // after: a server that hangs (SIGSTOP), or a connection to one not yet serving, ends nothing, and
          // the copy would stay stale for as long. Resuming from the last version costs no LIST.
          const life = this.options.watchSeconds ?? 8 + Math.floor(Math.random() * 8);
          const deadline = setTimeout(stop, (life + 3) * 1000);
          const sep = this.path.includes('?') ? '&' : '?';
          try {
            await this.client.watch<T>(`${this.path}${sep}resourceVersion=${encodeURIComponent(rv)}&timeoutSeconds=${life}`, (e) => {
              if (relist) return;
              const r = applyEvent(this.store, e);
              if (r.resourceVersion) rv = r.resourceVersion;
              if (r.changed) this.onChange();
              if (r.relist) {
                relist = true;
                watch.abort();
              }
            }, watch.signal);
          } finally {
            clearTimeout(deadline);
            signal.removeEventListener('abort', stop);
          }
        }
      } catch (e) {
        if (signal.aborted) return;
        const msg = e instanceof KubeError && e.status === 410 ? 'resource version too old' : (e as Error).message;
        if (msg !== lastError) this.options.log?.(`${this.path}: ${msg}; listing again`);
        lastError = msg;
      }
      if (!signal.aborted) await new Promise((res) => setTimeout(res, this.options.retryMs ?? 1000));
    }
  }
}
