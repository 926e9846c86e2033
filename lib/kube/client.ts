/**
 * The product's Kubernetes client: a small interface (KubeClient) that every
 * caller and test uses, carried by @kubernetes/client-node.
 *
 * The library does what a user's kubeconfig needs: client certificates,
 * tokens, exec credential plugins, OIDC, proxies (proxy-url), TLS server
 * names; its HTTP layer carries every request, its Watch every watch, its
 * discovery finds an object's API path (no plural table of ours).
 *
 * Bodies go over the wire as the product wrote them, and answers come back
 * as the API server sent them: the library's typed serializer is not used,
 * because it drops every field its models do not know (a newer API's field,
 * any CRD status), which server-side apply would then remove.
 */
import {
  HttpMethod,
  IsomorphicFetchHttpLibrary,
  KubeConfig,
  KubernetesObjectApi,
  RequestContext,
  Watch,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import { withServer } from './kubeconfig.js';

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

/** What identifies an object to the API: its group/version, kind, namespace and name. */
export interface ObjectRef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string };
}

export interface DeleteOptions {
  readonly gracePeriodSeconds?: number;
  readonly preconditions?: { readonly uid?: string; readonly resourceVersion?: string };
  readonly propagationPolicy?: 'Orphan' | 'Background' | 'Foreground';
}

/** Everything the product asks of a Kubernetes API. Paths are the API's own (/api/v1/…, /apis/…). */
export interface KubeClient {
  /** The API server's URL this client talks to. */
  readonly server: string;
  /** A request; resolves with the parsed body (or the text, when not JSON), rejects with KubeError on a non-2xx status. */
  request<T = unknown>(method: string, path: string, body?: unknown, contentType?: string): Promise<T>;
  get<T = unknown>(path: string): Promise<T>;
  /** GET that answers undefined on 404. */
  find<T = unknown>(path: string): Promise<T | undefined>;
  /** Server-side apply at a path, forced, as `fieldManager` (dryRun: the server checks and answers, nothing is stored). */
  apply<T = unknown>(path: string, object: unknown, fieldManager: string, options?: { readonly dryRun?: boolean }): Promise<T>;
  mergePatch<T = unknown>(path: string, patch: unknown): Promise<T>;
  /** DELETE with DeleteOptions; `missingOk` answers false instead of failing on 404. */
  delete(path: string, options?: DeleteOptions & { readonly missingOk?: boolean }): Promise<boolean>;
  /** An object's API path, found by discovery (a CRD's kinds included once it is Established). */
  pathOf(o: ObjectRef): Promise<string>;
  /** Streams watch events until `signal` aborts or the server ends the watch. */
  watch<T>(path: string, onEvent: (e: WatchEvent<T>) => void, signal?: AbortSignal): Promise<void>;
}

export interface KubeClientOptions {
  /** Talk to this server instead of the kubeconfig's (e.g. a node's own API server). */
  readonly server?: string;
  /**
   * The name the server's certificate is checked against (and sent as SNI) instead of the
   * server's host: a control plane reached at an address its certificate does not name (its
   * IPv4, the API's door for IPv4-only clients) is checked as kubernetes.default.svc, which
   * kubeadm puts in every API server's certificate. The kubeconfig's tls-server-name.
   */
  readonly tlsServerName?: string;
  /** How long one request may take before it fails (watches excepted). */
  readonly timeoutMs?: number;
}

/** Discovery from the library, exposed: the API path of an object. */
class Discovery extends KubernetesObjectApi {
  path(o: ObjectRef): Promise<string> {
    const spec: KubernetesObject = { apiVersion: o.apiVersion, kind: o.kind, metadata: { name: o.metadata.name, ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}) } };
    return this.specUriPath(spec, 'read');
  }
}

class LibraryKubeClient implements KubeClient {
  private readonly http = new IsomorphicFetchHttpLibrary();
  private readonly discovery: Discovery;
  readonly server: string;

  constructor(
    private readonly config: KubeConfig,
    private readonly timeoutMs: number,
  ) {
    const cluster = config.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    this.server = cluster.server.replace(/\/+$/, '');
    this.discovery = config.makeApiClient(Discovery);
  }

  async request<T = unknown>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    const context = new RequestContext(`${this.server}${path}`, method.toUpperCase() as HttpMethod);
    context.setHeaderParam('Accept', 'application/json');
    if (body !== undefined) {
      context.setHeaderParam('Content-Type', contentType);
      context.setBody(typeof body === 'string' ? body : JSON.stringify(body));
    }
    await this.config.applySecurityAuthentication(context);
    context.setSignal(AbortSignal.timeout(this.timeoutMs));
    let text: string;
    let status: number;
    try {
      const response = await this.http.send(context).toPromise();
      status = response.httpStatusCode;
      text = await response.body.text();
    } catch (e) {
      const err = e as Error;
      if (err.name === 'AbortError' || err.name === 'TimeoutError') throw new Error(`${method} ${path}: no answer in ${this.timeoutMs} ms`);
      throw new Error(`${method} ${path}: ${err.message}`, { cause: e });
    }
    if (status < 200 || status >= 300) throw new KubeError(method, path, status, text);
    try {
      return (text ? JSON.parse(text) : {}) as T;
    } catch {
      return text as T;
    }
  }

  get<T = unknown>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  async find<T = unknown>(path: string): Promise<T | undefined> {
    try {
      return await this.get<T>(path);
    } catch (e) {
      if (e instanceof KubeError && e.status === 404) return undefined;
      throw e;
    }
  }

  apply<T = unknown>(path: string, object: unknown, fieldManager: string, options: { readonly dryRun?: boolean } = {}): Promise<T> {
    const query = `fieldManager=${encodeURIComponent(fieldManager)}&force=true${options.dryRun ? '&dryRun=All' : ''}`;
    return this.request<T>('PATCH', `${path}?${query}`, object, 'application/apply-patch+yaml');
  }

  mergePatch<T = unknown>(path: string, patch: unknown): Promise<T> {
    return this.request<T>('PATCH', path, patch, 'application/merge-patch+json');
  }

  async delete(path: string, options: DeleteOptions & { readonly missingOk?: boolean } = {}): Promise<boolean> {
    const { missingOk, ...deleteOptions } = options;
    try {
      await this.request('DELETE', path, { apiVersion: 'v1', kind: 'DeleteOptions', ...deleteOptions });
      return true;
    } catch (e) {
      if (missingOk && e instanceof KubeError && e.status === 404) return false;
      throw e;
    }
  }

  pathOf(o: ObjectRef): Promise<string> {
    return this.discovery.path(o).catch((e: unknown) => {
      throw new Error(`no API path for ${o.apiVersion} ${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}: ${(e as Error).message}`);
    });
  }

  async watch<T>(path: string, onEvent: (e: WatchEvent<T>) => void, signal?: AbortSignal): Promise<void> {
    const [pathname, search] = path.split('?', 2) as [string, string | undefined];
    const query: Record<string, string> = { allowWatchBookmarks: 'true' };
    for (const [k, v] of new URLSearchParams(search ?? '')) query[k] = v;
    if (signal?.aborted) return;
    let failure: unknown;
    let aborter: AbortController | undefined;
    const ended = new Promise<void>((resolve) => {
      void new Watch(this.config)
        .watch(pathname, query, (type, object) => onEvent({ type: type as WatchEvent<T>['type'], object: object as T }), (err: unknown) => {
          failure = err;
          resolve();
        })
        .then((c) => {
          aborter = c;
          if (signal?.aborted) c.abort();
        });
    });
    const onAbort = (): void => aborter?.abort();
    signal?.addEventListener('abort', onAbort);
    try {
      await ended;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    if (failure && !signal?.aborted) {
      const status = (failure as { statusCode?: number }).statusCode;
      if (status !== undefined) throw new KubeError('WATCH', path, status, (failure as Error).message);
      throw new Error(`WATCH ${path}: ${(failure as Error).message ?? String(failure)}`, { cause: failure });
    }
  }
}

/** A client from a kubeconfig's text, its current context (any kind of user the library supports). */
export function kubeClient(kubeconfigText: string, options: KubeClientOptions = {}): KubeClient {
  const config = new KubeConfig();
  let text = kubeconfigText;
  if (options.server || options.tlsServerName) text = withServer(kubeconfigText, options.server, options.tlsServerName);
  try {
    config.loadFromString(text);
  } catch (e) {
    throw new Error(`kubeconfig: ${(e as Error).message}`);
  }
  return new LibraryKubeClient(config, options.timeoutMs ?? 15_000);
}

/** A client that presents a bearer token (a test API server's token file, a service account's token). */
export function tokenKubeClient(server: string, caPem: string, token: string, options: Omit<KubeClientOptions, 'server'> = {}): KubeClient {
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [{ name: 'cluster', server, caData: Buffer.from(caPem).toString('base64') }],
    users: [{ name: 'user', token }],
    contexts: [{ name: 'context', cluster: 'cluster', user: 'user' }],
    currentContext: 'context',
  });
  return new LibraryKubeClient(config, options.timeoutMs ?? 15_000);
}

/** The current context's API server and its CA (PEM), as the library reads the kubeconfig. */
export function kubeconfigCluster(kubeconfigText: string): { readonly server: string; readonly caPem: string } {
  const config = new KubeConfig();
  config.loadFromString(kubeconfigText);
  const cluster = config.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  const caPem = cluster.caData ? Buffer.from(cluster.caData, 'base64').toString('utf8') : cluster.caFile ? readFileSync(cluster.caFile, 'utf8') : undefined;
  if (!caPem) throw new Error(`kubeconfig: cluster ${cluster.name} has no certificate authority`);
  return { server: cluster.server, caPem };
}
