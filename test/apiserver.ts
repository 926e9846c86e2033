/**
 * A real API server for integration tests: the ephemeral etcd and
 * kube-apiserver of lib/toolchain/apiServer.ts (built by `npm run setup`) on
 * loopback, AlwaysAllow with a static token, a client for it and a stop that
 * ends both (call it in `finally`).
 */
import { tokenKubeClient, type KubeClient } from '../lib/kube/client.js';
import { DEFAULT_CACHE_DIR } from '../lib/toolchain/repo.js';
import { toolPaths } from '../lib/toolchain/pins.js';
import { startApiServer } from '../lib/toolchain/apiServer.js';
import { need } from './prerequisites.js';

/** Fails, naming the setup step, unless setup has built what apiServer() starts. */
export function needApiServer(): void {
  const paths = toolPaths(DEFAULT_CACHE_DIR);
  need(paths.etcd, 'npm run setup -- bin:etcd');
  need(paths['kube-apiserver'], 'npm run setup -- bin:kubernetes');
  need(paths.kubectl, 'npm run setup -- bin:kubernetes');
}

/** etcd and kube-apiserver on loopback (AlwaysAllow, a static token, more flags if given), their state in `dir`: a client for it, and a stop. */
export async function apiServer(dir: string, extraArgs: readonly string[] = []): Promise<{ client: KubeClient; stop: () => Promise<void> }> {
  needApiServer();
  const api = await startApiServer({ cacheDir: DEFAULT_CACHE_DIR, dir, extraArgs });
  return { client: tokenKubeClient(api.server, api.ca, api.token), stop: api.stop };
}
