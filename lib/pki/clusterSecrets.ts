/**
 * The cluster's secrets, made once and kept in the Pulumi stack's state
 * (encrypted by its secrets provider), never in git: the kubeadm bootstrap
 * token and certificate key shared by every join, the BGP MD5 password, the
 * cluster CA (so joins pin its hash and apply gets an admin kubeconfig
 * without logging in to a machine), the keys every control plane shares
 * (front-proxy CA, etcd CA, service-account key: the first control plane
 * starts with them, and apply hands them to control planes that join
 * later, lib/kube/kubeadmCerts.ts), and the public half of a sealed SSH
 * key (below). The admin
 * client certificate is its own resource (AdminCredential): signed by that
 * CA, valid for ADMIN_DAYS, replaced by the first apply within
 * ADMIN_RENEW_DAYS of its end.
 *
 * `generateClusterSecrets` and `signAdmin` are plain code; `ClusterSecrets`
 * and `AdminCredential` are the Pulumi dynamic resources that call them on
 * create, so a second apply changes nothing (until the renewal is due).
 *
 * The sealed SSH key (review security-2026-12 L6): a machine provider that
 * installs every project member's key on a machine given none (Equinix
 * Metal does, organization members' included) must be given one; when the
 * spec names no operator keys (spec.sshKeys), it is given this one, whose
 * private half is dropped the moment it is made: it is in no state, and
 * nobody can log in with it. A stack made before kept a private half in
 * its state: the first apply after this change removes it (an update of
 * the secrets resource that changes nothing else).
 */
import { createHash, randomBytes, randomInt } from 'node:crypto';
import * as pulumi from '@pulumi/pulumi';
import { caCertHash, generateKey, selfSignedCA, signCertificate } from './x509.js';
import { generateSshKey } from './sshKey.js';
import type { SharedControlPlaneKeys } from '../kube/kubeadmCerts.js';

/** The cluster CA and the other keys every control plane shares, with the rest of the stack's secrets. */
export interface ClusterSecretValues extends SharedControlPlaneKeys {
  readonly bootstrapToken: string;
  readonly certificateKey: string;
  /** Equinix Metal's project BGP password (also the lab routers'); at most 20 characters of [A-Za-z0-9]. */
  readonly bgpPassword: string;
  readonly caCertHash: string;
  /** The sealed key's public half (its private half was never kept). */
  readonly sshPublicKey: string;
  /** The key the API servers seal Secrets with in etcd (lib/render/encryption.ts): 32 bytes, base64. */
  readonly secretsKey: string;
}

export const SECRET_FIELDS: ReadonlyArray<keyof ClusterSecretValues> = [
  'bootstrapToken',
  'certificateKey',
  'bgpPassword',
  'caKeyPem',
  'frontProxyCaKeyPem',
  'etcdCaKeyPem',
  'saKeyPem',
  'secretsKey',
];
const OUTPUT_FIELDS: ReadonlyArray<keyof ClusterSecretValues> = [
  'bootstrapToken',
  'certificateKey',
  'bgpPassword',
  'caCertPem',
  'caKeyPem',
  'caCertHash',
  'frontProxyCaCertPem',
  'frontProxyCaKeyPem',
  'etcdCaCertPem',
  'etcdCaKeyPem',
  'saKeyPem',
  'saPubPem',
  'sshPublicKey',
  'secretsKey',
];

/** What stacks made before kept in the secrets' state and apply now removes: the private half of the devices' SSH key. */
export const DROPPED_FIELDS: readonly string[] = ['sshPrivateKeyPem'];

/** kubeadm binds this group to cluster-admin (kubeadm >= 1.29's admin.conf). */
export const ADMIN_GROUP = 'kubeadm:cluster-admins';
export const ADMIN_USER = 'native6-admin';
const CA_YEARS = 10;
/** The admin certificate's life, and how long before its end apply renews it. */
export const ADMIN_DAYS = 365;
export const ADMIN_RENEW_DAYS = 30;

function chars(alphabet: string, n: number): string {
  let out = '';
  for (let i = 0; i < n; i++) out += alphabet[randomInt(alphabet.length)];
  return out;
}

export function generateClusterSecrets(cluster: string, now: Date = new Date()): ClusterSecretValues {
  const lower = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const ca = generateKey();
  const notBefore = new Date(Math.floor(now.getTime() / 1000) * 1000 - 5 * 60_000);
  const caNotAfter = new Date(notBefore.getTime());
  caNotAfter.setUTCFullYear(caNotAfter.getUTCFullYear() + CA_YEARS);
  const caCertPem = selfSignedCA({ key: ca, commonName: 'kubernetes', notBefore, notAfter: caNotAfter, serial: serialOf(cluster, 'ca') });
  // The names kubeadm gives them.
  const frontProxy = generateKey();
  const etcd = generateKey();
  const sa = generateKey();
  // Sealed: only the public half is kept.
  const sealed = generateSshKey(`native6-${cluster}-sealed`).publicKeyOpenSsh;
  return {
    bootstrapToken: `${chars(lower, 6)}.${chars(lower, 16)}`,
    certificateKey: randomBytes(32).toString('hex'),
    bgpPassword: chars('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789', 20),
    caCertPem,
    caKeyPem: ca.privateKeyPem,
    caCertHash: caCertHash(caCertPem),
    frontProxyCaCertPem: selfSignedCA({ key: frontProxy, commonName: 'front-proxy-ca', notBefore, notAfter: caNotAfter, serial: serialOf(cluster, 'front-proxy-ca') }),
    frontProxyCaKeyPem: frontProxy.privateKeyPem,
    etcdCaCertPem: selfSignedCA({ key: etcd, commonName: 'etcd-ca', notBefore, notAfter: caNotAfter, serial: serialOf(cluster, 'etcd-ca') }),
    etcdCaKeyPem: etcd.privateKeyPem,
    saKeyPem: sa.privateKeyPem,
    saPubPem: sa.publicKeyPem,
    sshPublicKey: sealed,
    secretsKey: randomBytes(32).toString('base64'),
  };
}

function serialOf(cluster: string, what: string): bigint {
  return BigInt(`0x${createHash('sha256').update(`${cluster}/${what}/${randomBytes(8).toString('hex')}`).digest('hex').slice(0, 30)}`);
}

/**
 * The dynamic provider runs in Pulumi's provider process, which loads this
 * module again from the repository (NATIVE6_ROOT, set by the Automation
 * API; the CLI's working directory infra/ otherwise): it holds no closure
 * over our modules.
 */
/** This module, loaded again in the provider process (serialized with the providers: dynamic imports only). */
const loadSecrets = async (): Promise<{
  generateClusterSecrets: (c: string) => ClusterSecretValues;
  signAdmin: (c: string, cert: string, key: string) => AdminCredentialValues;
  adminRenewal: (o: { caCertPem?: string; notAfter?: string }, n: { caCertPem?: string }) => string[];
  secretsDiff: typeof secretsDiff;
  withoutDropped: typeof withoutDropped;
}> => {
  const path = await import('node:path');
  const url = await import('node:url');
  const root = process.env.NATIVE6_ROOT ?? path.resolve(process.cwd(), '..');
  return import(url.pathToFileURL(path.join(root, 'lib', 'pki', 'clusterSecrets.ts')).href);
};

const provider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: { cluster: string }) {
    const mod = await loadSecrets();
    return { id: `${inputs.cluster}-secrets`, outs: { cluster: inputs.cluster, ...mod.generateClusterSecrets(inputs.cluster) } };
  },
  async diff(_id: string, olds: Record<string, unknown> & { cluster: string }, news: { cluster: string }) {
    const mod = await loadSecrets();
    return mod.secretsDiff(olds, news);
  },
  // Only a dropped field goes: the other secrets are kept as they are, the CA first of all.
  async update(_id: string, olds: Record<string, unknown>) {
    const mod = await loadSecrets();
    return { outs: mod.withoutDropped(olds) };
  },
};

/** A replacement when the cluster changes; an update that only removes what is dropped (DROPPED_FIELDS) when a stack made before still holds it. */
export function secretsDiff(olds: Record<string, unknown> & { cluster: string }, news: { cluster: string }): { changes: boolean; replaces: string[]; deleteBeforeReplace: boolean } {
  const replaces = olds.cluster !== news.cluster ? ['cluster'] : [];
  const stale = DROPPED_FIELDS.some((f) => olds[f] !== undefined);
  return { changes: replaces.length > 0 || stale, replaces, deleteBeforeReplace: false };
}

/** The secrets' state without what is dropped. */
export function withoutDropped(olds: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(olds).filter(([k]) => !DROPPED_FIELDS.includes(k)));
}

export class ClusterSecrets extends pulumi.dynamic.Resource {
  declare readonly bootstrapToken: pulumi.Output<string>;
  declare readonly certificateKey: pulumi.Output<string>;
  declare readonly bgpPassword: pulumi.Output<string>;
  declare readonly caCertPem: pulumi.Output<string>;
  declare readonly caKeyPem: pulumi.Output<string>;
  declare readonly caCertHash: pulumi.Output<string>;
  /** Absent (undefined) in a stack made before they were: its first control plane made its own. */
  declare readonly frontProxyCaCertPem: pulumi.Output<string | undefined>;
  declare readonly frontProxyCaKeyPem: pulumi.Output<string | undefined>;
  declare readonly etcdCaCertPem: pulumi.Output<string | undefined>;
  declare readonly etcdCaKeyPem: pulumi.Output<string | undefined>;
  declare readonly saKeyPem: pulumi.Output<string | undefined>;
  declare readonly saPubPem: pulumi.Output<string | undefined>;
  declare readonly sshPublicKey: pulumi.Output<string>;
  /** Absent (undefined) in a stack made before it was: its clusters keep Secrets as they were made. */
  declare readonly secretsKey: pulumi.Output<string | undefined>;

  constructor(name: string, args: { cluster: string }, opts?: pulumi.CustomResourceOptions) {
    const outs: Record<string, undefined> = {};
    for (const k of OUTPUT_FIELDS) outs[k] = undefined;
    super(provider, name, { cluster: args.cluster, ...outs }, { ...opts, additionalSecretOutputs: [...SECRET_FIELDS] }, 'native6-secrets');
  }
}

// ------------------------------------------------------------- the admin

export interface AdminCredentialValues {
  readonly certPem: string;
  readonly keyPem: string;
  /** ISO time the certificate ends. */
  readonly notAfter: string;
}

/** A client certificate for the cluster's admins (kubeadm:cluster-admins), signed by the cluster CA. */
export function signAdmin(cluster: string, caCertPem: string, caKeyPem: string, now: Date = new Date()): AdminCredentialValues {
  const key = generateKey();
  const notBefore = new Date(Math.floor(now.getTime() / 1000) * 1000 - 5 * 60_000);
  const notAfter = new Date(notBefore.getTime() + ADMIN_DAYS * 86_400_000);
  const certPem = signCertificate({ caKey: caKeyPem, caCertPem, key: key.publicKeyPem, commonName: ADMIN_USER, organizations: [ADMIN_GROUP], notBefore, notAfter, serial: serialOf(cluster, 'admin'), usage: 'client' });
  return { certPem, keyPem: key.privateKeyPem, notAfter: notAfter.toISOString() };
}

/** Replace when the CA changed, or when the certificate ends within ADMIN_RENEW_DAYS of `now`. */
export function adminRenewal(olds: { caCertPem?: string; notAfter?: string }, news: { caCertPem?: string }, now: Date = new Date()): string[] {
  const replaces: string[] = [];
  if (olds.caCertPem !== news.caCertPem) replaces.push('caCertPem');
  const end = olds.notAfter ? Date.parse(olds.notAfter) : Number.NaN;
  if (!(end - now.getTime() > ADMIN_RENEW_DAYS * 86_400_000)) replaces.push('notAfter');
  return replaces;
}

const adminProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: { cluster: string; caCertPem: string; caKeyPem: string }) {
    const mod = await loadSecrets();
    return { id: `${inputs.cluster}-admin`, outs: { ...inputs, ...mod.signAdmin(inputs.cluster, inputs.caCertPem, inputs.caKeyPem) } };
  },
  async diff(_id: string, olds: { caCertPem?: string; notAfter?: string }, news: { caCertPem?: string }) {
    const mod = await loadSecrets();
    const replaces = mod.adminRenewal(olds, news);
    return { changes: replaces.length > 0, replaces, deleteBeforeReplace: false };
  },
};

export class AdminCredential extends pulumi.dynamic.Resource {
  declare readonly certPem: pulumi.Output<string>;
  declare readonly keyPem: pulumi.Output<string>;
  declare readonly notAfter: pulumi.Output<string>;

  constructor(name: string, args: { cluster: string; caCertPem: pulumi.Input<string>; caKeyPem: pulumi.Input<string> }, opts?: pulumi.CustomResourceOptions) {
    super(adminProvider, name, { ...args, certPem: undefined, keyPem: undefined, notAfter: undefined }, { ...opts, additionalSecretOutputs: ['keyPem', 'caKeyPem'] }, 'native6-admin');
  }
}
