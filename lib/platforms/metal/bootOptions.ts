/**
 * How a metal machine's bootstrap differs from the default, per machine:
 * the stack's config `native6:bootOptions`, JSON of machine name ->
 * options (lib/render/bootstrap.ts BootOptions). For machines whose image
 * already carries containerd, kubeadm, the kubelet and kubectl (a golden
 * image, an air-gapped site: `"packages": "image"`), and for the lab's
 * machines (no container runtime: kubeadm's socket and phases). Absent:
 * every machine installs from the distribution and pkgs.k8s.io.
 *
 *   pulumi config set native6:bootOptions '{"colo-a1": {"packages": "image"}}'
 *
 * Decoded strictly: an unknown machine or field is refused with what to write.
 */
import type { BootOptions } from '../../render/bootstrap.js';
import type { KubeadmOptions } from '../../render/kubeadm.js';

/** The config key (project native6). */
export const BOOT_OPTIONS_CONFIG = 'bootOptions';

const KEY = `native6:${BOOT_OPTIONS_CONFIG}`;

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function only(where: string, v: Json, allowed: readonly string[]): void {
  const extra = Object.keys(v).filter((k) => !allowed.includes(k));
  if (extra.length > 0) throw new Error(`${KEY}: ${where} has ${extra.map((k) => `"${k}"`).join(', ')}, which is not one of ${allowed.join(', ')}`);
}

function text(where: string, v: unknown): string {
  if (typeof v !== 'string' || v === '') throw new Error(`${KEY}: ${where} must be a non-empty string`);
  return v;
}

function kubeadmOptions(where: string, v: unknown): KubeadmOptions {
  if (!isObject(v)) throw new Error(`${KEY}: ${where} must be an object`);
  only(where, v, ['criSocket', 'skipPhases', 'sharedKernel', 'discoveryTimeout']);
  const skip = v.skipPhases;
  if (skip !== undefined && (!Array.isArray(skip) || !skip.every((p) => typeof p === 'string' && /^[a-z0-9/-]+$/.test(p)))) {
    throw new Error(`${KEY}: ${where}.skipPhases must be a list of kubeadm phase names (e.g. "preflight")`);
  }
  if (v.sharedKernel !== undefined && typeof v.sharedKernel !== 'boolean') throw new Error(`${KEY}: ${where}.sharedKernel must be true or false`);
  return {
    ...(v.criSocket !== undefined ? { criSocket: text(`${where}.criSocket`, v.criSocket) } : {}),
    ...(skip !== undefined ? { skipPhases: skip as string[] } : {}),
    ...(v.sharedKernel !== undefined ? { sharedKernel: v.sharedKernel } : {}),
    ...(v.discoveryTimeout !== undefined ? { discoveryTimeout: text(`${where}.discoveryTimeout`, v.discoveryTimeout) } : {}),
  };
}

function machineOptions(name: string, v: unknown): BootOptions {
  const where = `"${name}"`;
  if (!isObject(v)) throw new Error(`${KEY}: ${where} must be an object of options`);
  only(where, v, ['packages', 'kubeadm', 'joinTokenRenewal', 'nat64Pool']);
  if (v.packages !== undefined && v.packages !== 'apt' && v.packages !== 'image') throw new Error(`${KEY}: ${where}.packages must be "apt" or "image"`);
  let kubeadm: BootOptions['kubeadm'];
  if (v.kubeadm !== undefined) {
    if (!isObject(v.kubeadm)) throw new Error(`${KEY}: ${where}.kubeadm must be an object with init and/or join`);
    only(`${where}.kubeadm`, v.kubeadm, ['init', 'join']);
    kubeadm = {
      ...(v.kubeadm.init !== undefined ? { init: kubeadmOptions(`${where}.kubeadm.init`, v.kubeadm.init) } : {}),
      ...(v.kubeadm.join !== undefined ? { join: kubeadmOptions(`${where}.kubeadm.join`, v.kubeadm.join) } : {}),
    };
  }
  let renewal: BootOptions['joinTokenRenewal'];
  if (v.joinTokenRenewal !== undefined) {
    const r = v.joinTokenRenewal;
    if (!isObject(r)) throw new Error(`${KEY}: ${where}.joinTokenRenewal must be {"afterBoot": "2min", "every": "6h"} (systemd time spans)`);
    only(`${where}.joinTokenRenewal`, r, ['afterBoot', 'every']);
    const span = (k: 'afterBoot' | 'every') => {
      const s = text(`${where}.joinTokenRenewal.${k}`, r[k]);
      if (!/^\d+(ms|s|min|h|d)$/.test(s)) throw new Error(`${KEY}: ${where}.joinTokenRenewal.${k} "${s}" is not a systemd time span such as 30s, 2min or 6h`);
      return s;
    };
    renewal = { afterBoot: span('afterBoot'), every: span('every') };
  }
  return {
    ...(v.packages !== undefined ? { packages: v.packages } : {}),
    ...(kubeadm ? { kubeadm } : {}),
    ...(renewal ? { joinTokenRenewal: renewal } : {}),
    ...(v.nat64Pool !== undefined ? { nat64Pool: text(`${where}.nat64Pool`, v.nat64Pool) } : {}),
  };
}

/** The per-machine options of the config's JSON (undefined: none), every name one of `machines`. */
export function decodeBootOptions(json: string | undefined, machines: readonly string[]): ReadonlyMap<string, BootOptions> {
  if (json === undefined || json.trim() === '') return new Map();
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (e) {
    throw new Error(`${KEY} is not JSON (${(e as Error).message}): write an object of machine name -> options`);
  }
  if (!isObject(value)) throw new Error(`${KEY} must be an object of machine name -> options`);
  const out = new Map<string, BootOptions>();
  for (const [name, v] of Object.entries(value)) {
    if (!machines.includes(name)) throw new Error(`${KEY}: "${name}" is not a machine of the spec (${machines.join(', ')})`);
    out.set(name, machineOptions(name, v));
  }
  return out;
}
