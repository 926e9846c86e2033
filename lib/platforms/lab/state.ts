/**
 * The lab's state folder (.lab/<cluster>/, ignored by git): daemons'
 * configuration, pid files and logs, verify reports, and the lab's secrets
 * (the per-machine BGP MD5 passwords the emulated provider hands out),
 * readable by root only and never printed.
 */
import type { LabTopology } from './topology.js';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKey, selfSignedCA } from '../../pki/x509.js';

/** Where the routers' configuration, pid files and logs live: readable by the frr user. */
export const FRR_RUN = '/run/n6-frr';

export interface LabPaths {
  readonly root: string;
  readonly secrets: string;
  readonly logs: string;
  readonly reports: string;
  router(ns: string): string;
  machine(name: string): string;
}

export function labPaths(repoRoot: string, cluster: string): LabPaths {
  const root = join(repoRoot, '.lab', cluster);
  return {
    root,
    secrets: join(root, 'secrets.json'),
    logs: join(root, 'logs'),
    reports: join(root, 'reports'),
    // FRR drops to its own user, which may not traverse the repository's path (a home folder is often 0700).
    router: (ns) => join(FRR_RUN, ns),
    machine: (name) => join(root, 'machines', name),
  };
}

interface Secrets {
  bgpMd5: Record<string, string>;
  kubeadm?: ClusterSecrets;
}

/**
 * The BGP password of every machine: kept when it exists, made for new
 * machines (24 random bytes, base64url: 32 characters, within Calico's 80).
 */
export function ensureBgpPasswords(paths: LabPaths, machines: readonly string[]): Map<string, string> {
  mkdirSync(paths.root, { recursive: true, mode: 0o700 });
  const secrets: Secrets = existsSync(paths.secrets) ? (JSON.parse(readFileSync(paths.secrets, 'utf8')) as Secrets) : { bgpMd5: {} };
  secrets.bgpMd5 ??= {};
  let changed = false;
  for (const m of machines) {
    if (!secrets.bgpMd5[m]) {
      secrets.bgpMd5[m] = randomBytes(24).toString('base64url');
      changed = true;
    }
  }
  if (changed || !existsSync(paths.secrets)) writeFileSync(paths.secrets, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
  return new Map(machines.map((m) => [m, secrets.bgpMd5[m]!]));
}

/**
 * The BGP password of each machine: the lab's own, one per machine (as its
 * provider's metadata gives each device its own); a rack lab's, one for the
 * cluster (the metal platform's, which the routers' rendered configuration
 * takes), kept under the cluster's name.
 */
export function machineBgpPasswords(paths: LabPaths, t: Pick<LabTopology, 'cluster' | 'machines' | 'rack'>): Map<string, string> {
  const names = t.machines.map((m) => m.machine.name);
  if (!t.rack) return ensureBgpPasswords(paths, names);
  const password = ensureBgpPasswords(paths, [t.cluster]).get(t.cluster)!;
  return new Map(names.map((n) => [n, password]));
}

export interface ClusterSecrets {
  readonly bootstrapToken: string;
  readonly certificateKey: string;
  /** The cluster CA, made by the lab (as the stack makes it on Equinix Metal) and given to the first control plane's bootstrap. */
  readonly caCertPem: string;
  readonly caKeyPem: string;
  /** The key the API servers seal Secrets with (lib/render/encryption.ts). */
  readonly secretsKey: string;
}

function clusterCA(): Pick<ClusterSecrets, 'caCertPem' | 'caKeyPem'> {
  const key = generateKey();
  const notBefore = new Date(Math.floor(Date.now() / 1000) * 1000 - 5 * 60_000);
  const notAfter = new Date(notBefore.getTime() + 10 * 365 * 24 * 3600_000);
  return { caCertPem: selfSignedCA({ key, commonName: 'kubernetes', notBefore, notAfter }), caKeyPem: key.privateKeyPem };
}

const TOKEN_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789';
function tokenPart(n: number): string {
  return [...randomBytes(n)].map((b) => TOKEN_CHARS[b % TOKEN_CHARS.length]).join('');
}

/** The kubeadm bootstrap token, certificate key, cluster CA and Secrets encryption key of the lab cluster, made once and kept (one missing from a lab made before is added). */
export function ensureClusterSecrets(paths: LabPaths): ClusterSecrets {
  mkdirSync(paths.root, { recursive: true, mode: 0o700 });
  const all = existsSync(paths.secrets) ? (JSON.parse(readFileSync(paths.secrets, 'utf8')) as Record<string, unknown>) : { bgpMd5: {} };
  const old = all.kubeadm as Partial<ClusterSecrets> | undefined;
  if (!old?.bootstrapToken || !old.caCertPem || !old.secretsKey) {
    all.kubeadm = { bootstrapToken: `${tokenPart(6)}.${tokenPart(16)}`, certificateKey: randomBytes(32).toString('hex'), secretsKey: randomBytes(32).toString('base64'), ...old, ...(old?.caCertPem ? {} : clusterCA()) };
    writeFileSync(paths.secrets, `${JSON.stringify(all, null, 2)}\n`, { mode: 0o600 });
  }
  return all.kubeadm as ClusterSecrets;
}
