/**
 * The lab's state folder (.lab/<cluster>/, ignored by git): daemons'
 * configuration, pid files and logs, verify reports, and the lab's secrets
 * (the per-machine BGP MD5 passwords the emulated provider hands out),
 * readable by root only and never printed.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

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

export interface ClusterSecrets {
  readonly bootstrapToken: string;
  readonly certificateKey: string;
}

const TOKEN_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789';
function tokenPart(n: number): string {
  return [...randomBytes(n)].map((b) => TOKEN_CHARS[b % TOKEN_CHARS.length]).join('');
}

/** The kubeadm bootstrap token and certificate key of the lab cluster, made once and kept. */
export function ensureClusterSecrets(paths: LabPaths): ClusterSecrets {
  mkdirSync(paths.root, { recursive: true, mode: 0o700 });
  const all = existsSync(paths.secrets) ? (JSON.parse(readFileSync(paths.secrets, 'utf8')) as Record<string, unknown>) : { bgpMd5: {} };
  if (!all.kubeadm) {
    all.kubeadm = { bootstrapToken: `${tokenPart(6)}.${tokenPart(16)}`, certificateKey: randomBytes(32).toString('hex') };
    writeFileSync(paths.secrets, `${JSON.stringify(all, null, 2)}\n`, { mode: 0o600 });
  }
  return all.kubeadm as ClusterSecrets;
}
