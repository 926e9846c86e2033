/**
 * A small Kubernetes API client over node:https: kubeconfig with client
 * certificates (what kubeadm writes), JSON requests, server-side apply, and
 * watches. Enough for the lab's kubelet and the lab's checks, with no
 * dependency; every error names the request and the API's message.
 */
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

export interface Credentials {
  readonly server: string;
  readonly ca: string;
  readonly cert?: string;
  readonly key?: string;
  readonly token?: string;
}

interface KubeconfigFile {
  clusters?: Array<{ name: string; cluster: { server: string; 'certificate-authority-data'?: string; 'certificate-authority'?: string } }>;
  users?: Array<{ name: string; user: { 'client-certificate-data'?: string; 'client-key-data'?: string; 'client-certificate'?: string; 'client-key'?: string; token?: string } }>;
  contexts?: Array<{ name: string; context: { cluster: string; user: string } }>;
  'current-context'?: string;
}

const b64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');

/** The current context's server and credentials; `server` overrides the file's (e.g. a node's own API server). */
export function credentialsFromKubeconfig(text: string, server?: string): Credentials {
  const kc = parse(text) as KubeconfigFile;
  const ctx = kc.contexts?.find((c) => c.name === kc['current-context']) ?? kc.contexts?.[0];
  const cluster = kc.clusters?.find((c) => c.name === ctx?.context.cluster) ?? kc.clusters?.[0];
  const user = kc.users?.find((u) => u.name === ctx?.context.user) ?? kc.users?.[0];
  if (!cluster) throw new Error('kubeconfig has no cluster');
  const c = cluster.cluster;
  const u = user?.user ?? {};
  const ca = c['certificate-authority-data'] ? b64(c['certificate-authority-data']) : c['certificate-authority'] ? readFileSync(c['certificate-authority'], 'utf8') : undefined;
  if (!ca) throw new Error('kubeconfig has no certificate authority');
  const cert = u['client-certificate-data'] ? b64(u['client-certificate-data']) : u['client-certificate'] ? readFileSync(u['client-certificate'], 'utf8') : undefined;
  const key = u['client-key-data'] ? b64(u['client-key-data']) : u['client-key'] ? readFileSync(u['client-key'], 'utf8') : undefined;
  return { server: server ?? c.server, ca, ...(cert ? { cert } : {}), ...(key ? { key } : {}), ...(u.token ? { token: u.token } : {}) };
}

export class KubeError extends Error {
  override name = 'KubeError';
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly body: string,
  ) {
    let message = body;
    try {
      message = (JSON.parse(body) as { message?: string }).message ?? body;
    } catch {
      // not JSON
    }
    super(`${method} ${path}: ${status} ${message}`.trim());
  }
}

export interface WatchEvent<T> {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  readonly object: T;
}

export class KubeClient {
  constructor(
    readonly credentials: Credentials,
    private readonly timeoutMs = 15_000,
  ) {}

  private options(method: string, path: string, headers: Record<string, string>): RequestOptions {
    const url = new URL(path, this.credentials.server);
    return {
      method,
      hostname: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port || 443,
      path: `${url.pathname}${url.search}`,
      ca: this.credentials.ca,
      ...(this.credentials.cert ? { cert: this.credentials.cert, key: this.credentials.key } : {}),
      headers: { Accept: 'application/json', ...(this.credentials.token ? { Authorization: `Bearer ${this.credentials.token}` } : {}), ...headers },
    };
  }

  /** A request; resolves with the parsed body, rejects with KubeError on a non-2xx status. */
  request<T = unknown>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    return new Promise<T>((resolve, reject) => {
      // Content-Length, not chunked: the API server ignores a chunked DELETE body (its DeleteOptions).
      const req = httpsRequest(this.options(method, path, payload !== undefined ? { 'Content-Type': contentType, 'Content-Length': String(Buffer.byteLength(payload)) } : {}), (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if ((res.statusCode ?? 0) < 200 || (res.statusCode ?? 0) >= 300) return reject(new KubeError(method, path, res.statusCode ?? 0, text));
          try {
            resolve((text ? JSON.parse(text) : {}) as T);
          } catch {
            resolve(text as T);
          }
        });
      });
      req.setTimeout(this.timeoutMs, () => req.destroy(new Error(`${method} ${path}: no answer in ${this.timeoutMs} ms`)));
      req.on('error', (e) => reject(e));
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  get<T = unknown>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  /** GET that answers undefined on 404. */
  async find<T = unknown>(path: string): Promise<T | undefined> {
    try {
      return await this.get<T>(path);
    } catch (e) {
      if (e instanceof KubeError && e.status === 404) return undefined;
      throw e;
    }
  }

  /** Server-side apply of one object at its path. */
  apply<T = unknown>(path: string, object: unknown, fieldManager: string): Promise<T> {
    return this.request<T>('PATCH', `${path}?fieldManager=${encodeURIComponent(fieldManager)}&force=true`, object, 'application/apply-patch+yaml');
  }

  mergePatch<T = unknown>(path: string, patch: unknown): Promise<T> {
    return this.request<T>('PATCH', path, patch, 'application/merge-patch+json');
  }

  /** Streams watch events until `signal` aborts or the server ends the watch. */
  watch<T>(path: string, onEvent: (e: WatchEvent<T>) => void, signal?: AbortSignal): Promise<void> {
    const sep = path.includes('?') ? '&' : '?';
    return new Promise((resolve, reject) => {
      const req = httpsRequest(this.options('GET', `${path}${sep}watch=1&allowWatchBookmarks=true`, {}), (res) => {
        if ((res.statusCode ?? 0) !== 200) {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => reject(new KubeError('WATCH', path, res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'))));
          return;
        }
        let buffer = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffer += chunk;
          let nl: number;
          while ((nl = buffer.indexOf('\n')) >= 0) {
            const line = buffer.slice(0, nl).trim();
            buffer = buffer.slice(nl + 1);
            if (line) onEvent(JSON.parse(line) as WatchEvent<T>);
          }
        });
        res.on('end', () => resolve());
        res.on('error', reject);
      });
      req.on('error', (e) => (signal?.aborted ? resolve() : reject(e)));
      signal?.addEventListener('abort', () => req.destroy());
      req.end();
    });
  }
}
