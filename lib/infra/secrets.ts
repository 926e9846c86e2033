/**
 * The cluster's secrets, made once and kept in the Pulumi stack's state
 * (encrypted by its secrets provider), never in git: the kubeadm bootstrap
 * token and certificate key shared by every join, the BGP MD5 password, the
 * cluster CA (so joins pin its hash and apply gets an admin kubeconfig
 * without logging in to a machine), an admin client certificate, and the
 * devices' SSH key.
 *
 * `generateClusterSecrets` is plain code; `ClusterSecrets` is the Pulumi
 * dynamic resource that calls it on create and never again, so a second
 * apply changes nothing.
 */
import { createHash, randomBytes, randomInt } from 'node:crypto';
import * as pulumi from '@pulumi/pulumi';
import { caCertHash, generateKey, selfSignedCA, signCertificate } from '../pki/x509.js';
import { generateSshKey } from '../pki/sshKey.js';

export interface ClusterSecretValues {
  readonly bootstrapToken: string;
  readonly certificateKey: string;
  /** Equinix Metal's project BGP password (also the lab routers'); at most 20 characters of [A-Za-z0-9]. */
  readonly bgpPassword: string;
  readonly caCertPem: string;
  readonly caKeyPem: string;
  readonly caCertHash: string;
  readonly adminCertPem: string;
  readonly adminKeyPem: string;
  readonly sshPrivateKeyPem: string;
  readonly sshPublicKey: string;
}

export const SECRET_FIELDS: ReadonlyArray<keyof ClusterSecretValues> = [
  'bootstrapToken',
  'certificateKey',
  'bgpPassword',
  'caKeyPem',
  'adminKeyPem',
  'sshPrivateKeyPem',
];

/** kubeadm binds this group to cluster-admin (kubeadm >= 1.29's admin.conf). */
export const ADMIN_GROUP = 'kubeadm:cluster-admins';
export const ADMIN_USER = 'native6-admin';
const CA_YEARS = 10;
const ADMIN_DAYS = 365;

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
  const admin = generateKey();
  const adminCertPem = signCertificate({
    caKey: ca,
    caCertPem,
    key: admin.publicKeyPem,
    commonName: ADMIN_USER,
    organizations: [ADMIN_GROUP],
    notBefore,
    notAfter: new Date(notBefore.getTime() + ADMIN_DAYS * 86_400_000),
    serial: serialOf(cluster, 'admin'),
    usage: 'client',
  });
  const ssh = generateSshKey();
  return {
    bootstrapToken: `${chars(lower, 6)}.${chars(lower, 16)}`,
    certificateKey: randomBytes(32).toString('hex'),
    bgpPassword: chars('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789', 20),
    caCertPem,
    caKeyPem: ca.privateKeyPem,
    caCertHash: caCertHash(caCertPem),
    adminCertPem,
    adminKeyPem: admin.privateKeyPem,
    sshPrivateKeyPem: ssh.privateKeyPem,
    sshPublicKey: ssh.publicKeyOpenSsh,
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
const provider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: { cluster: string }) {
    const path = await import('node:path');
    const root = process.env.NATIVE6_ROOT ?? path.resolve(process.cwd(), '..');
    const url = (await import('node:url')).pathToFileURL(path.join(root, 'lib', 'infra', 'secrets.ts')).href;
    const mod = (await import(url)) as { generateClusterSecrets: (c: string) => Record<string, string> };
    return { id: `${inputs.cluster}-secrets`, outs: { cluster: inputs.cluster, ...mod.generateClusterSecrets(inputs.cluster) } };
  },
  async diff(_id: string, olds: { cluster: string }, news: { cluster: string }) {
    return { changes: olds.cluster !== news.cluster, replaces: olds.cluster !== news.cluster ? ['cluster'] : [], deleteBeforeReplace: false };
  },
};

export class ClusterSecrets extends pulumi.dynamic.Resource {
  declare readonly bootstrapToken: pulumi.Output<string>;
  declare readonly certificateKey: pulumi.Output<string>;
  declare readonly bgpPassword: pulumi.Output<string>;
  declare readonly caCertPem: pulumi.Output<string>;
  declare readonly caKeyPem: pulumi.Output<string>;
  declare readonly caCertHash: pulumi.Output<string>;
  declare readonly adminCertPem: pulumi.Output<string>;
  declare readonly adminKeyPem: pulumi.Output<string>;
  declare readonly sshPrivateKeyPem: pulumi.Output<string>;
  declare readonly sshPublicKey: pulumi.Output<string>;

  constructor(name: string, args: { cluster: string }, opts?: pulumi.CustomResourceOptions) {
    const outs: Record<string, undefined> = {};
    for (const k of ['bootstrapToken', 'certificateKey', 'bgpPassword', 'caCertPem', 'caKeyPem', 'caCertHash', 'adminCertPem', 'adminKeyPem', 'sshPrivateKeyPem', 'sshPublicKey']) outs[k] = undefined;
    super(provider, name, { cluster: args.cluster, ...outs }, { ...opts, additionalSecretOutputs: [...SECRET_FIELDS] }, 'native6-secrets');
  }
}
