/**
 * Writing a kubeconfig: an admin kubeconfig with the CA, the client
 * certificate and its key inline, its one context current. Every input is
 * checked first (an https server, the client certificate signed by the CA,
 * the key the certificate's), so a kubeconfig that cannot work is never
 * written. Reading one is client.ts's credentialsFromKubeconfig().
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { parse, stringify } from 'yaml';
import { toYaml } from '../yaml/write.js';

export interface KubeconfigOptions {
  readonly clusterName: string;
  /** The API server URL, e.g. https://[2001:db8::1]:443. */
  readonly server: string;
  readonly caCertPem: string;
  readonly user: string;
  readonly clientCertPem: string;
  readonly clientKeyPem: string;
}

export class KubeconfigError extends Error {
  override name = 'KubeconfigError';
}

function certificate(pem: string, field: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (e) {
    throw new KubeconfigError(`${field} is not a PEM certificate: ${(e as Error).message}`);
  }
}

/** An admin kubeconfig with the CA, client certificate and key inline, its one context current. */
export function kubeconfig(opts: KubeconfigOptions): string {
  let url: URL;
  try {
    url = new URL(opts.server);
  } catch {
    throw new KubeconfigError(`server "${opts.server}" is not a URL`);
  }
  if (url.protocol !== 'https:') throw new KubeconfigError(`server "${opts.server}" is not an https URL`);
  for (const [field, value] of [['clusterName', opts.clusterName], ['user', opts.user]] as const) {
    if (value.trim() === '') throw new KubeconfigError(`${field} is empty`);
  }
  const ca = certificate(opts.caCertPem, 'caCertPem');
  const client = certificate(opts.clientCertPem, 'clientCertPem');
  if (!client.verify(ca.publicKey)) throw new KubeconfigError('clientCertPem is not signed by caCertPem');
  let clientKey: KeyObject;
  try {
    clientKey = createPrivateKey(opts.clientKeyPem);
  } catch (e) {
    throw new KubeconfigError(`clientKeyPem is not a private key: ${(e as Error).message}`);
  }
  if (!client.checkPrivateKey(clientKey)) throw new KubeconfigError('clientKeyPem is not the key of clientCertPem');

  const b64 = (pem: string): string => Buffer.from(pem, 'utf8').toString('base64');
  const context = `${opts.user}@${opts.clusterName}`;
  return toYaml({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: opts.clusterName, cluster: { 'certificate-authority-data': b64(opts.caCertPem), server: opts.server } }],
    contexts: [{ name: context, context: { cluster: opts.clusterName, user: opts.user } }],
    'current-context': context,
    preferences: {},
    users: [{ name: opts.user, user: { 'client-certificate-data': b64(opts.clientCertPem), 'client-key-data': b64(opts.clientKeyPem) } }],
  });
}

/**
 * The kubeconfig's current cluster pointed at another server: `server` replaced, and
 * `tls-server-name` set when given (the name the server's certificate is checked against, for a
 * server reached at an address its certificate does not name). Everything else as it was.
 */
export function withServer(kubeconfigText: string, server: string | undefined, tlsServerName?: string): string {
  type Doc = { 'current-context'?: string; contexts?: Array<{ name: string; context: { cluster: string } }>; clusters?: Array<{ name: string; cluster: { server: string; 'tls-server-name'?: string } }> };
  const doc = parse(kubeconfigText) as Doc | null;
  const context = doc?.contexts?.find((c) => c.name === doc['current-context']) ?? doc?.contexts?.[0];
  const cluster = doc?.clusters?.find((c) => c.name === context?.context.cluster) ?? doc?.clusters?.[0];
  if (!doc || !cluster) throw new KubeconfigError('kubeconfig has no cluster');
  if (server) cluster.cluster.server = server;
  if (tlsServerName) cluster.cluster['tls-server-name'] = tlsServerName;
  return stringify(doc);
}
