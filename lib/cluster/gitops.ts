/**
 * spec.gitops: the repository Flux reconciles from (url, branch, interval)
 * and, for a private one, the Secret Flux reads it with (secretRef). The
 * Secret's name goes into git (the GitRepository's spec.secretRef); its
 * content never does: the user creates it in the cluster
 * (docs/gitops.md#a-private-repository). Credentials written into the URL
 * are refused, without echoing them. With verify, Flux applies only a
 * commit signed by a key of the Secret it names.
 */
import { DEFAULTS, type GitOpsSpec } from './cluster.js';
import { isNull, type Field, type Path, type Reader } from './reader.js';
import { refuse, whenAbsent, type SpecRules } from './rules.js';
import type { Node } from 'yaml';

/** A Secret's name: a DNS-1123 subdomain, as the API server wants it. */
const SECRET_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

const PRIVATE_FIX = 'docs/gitops.md#a-private-repository';
const VERIFY_DOC = 'docs/gitops.md#signed-commits';

/** The URL with whatever stands before its host's @ masked: a credential is never printed. */
export function maskUserinfo(url: string): string {
  return url.replace(/^([a-z+]+:\/\/)[^/@]*@/, '$1***@');
}

/**
 * What is wrong with credentials in `url`: any user or password in an
 * http(s) URL (a token is often written as the user), a password in an
 * ssh URL (its user, such as git, is not a secret).
 */
export function credentialsInUrl(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  const masked = maskUserinfo(url);
  if (u.protocol === 'ssh:') return u.password ? `"${masked}" holds a password` : undefined;
  return u.username || u.password ? `"${masked}" holds credentials` : undefined;
}

export function decodeGitOps(r: Reader, field: Field | undefined, spec: Node, rules: SpecRules): GitOpsSpec | undefined {
  const path: Path = ['spec', 'gitops'];
  const dflt = { branch: DEFAULTS.branch, interval: DEFAULTS.interval };
  if (!field || isNull(field.value)) {
    if (refuse(r, path, field?.key ?? spec, rules.gitops.absent)) return undefined;
    const url = whenAbsent(r, rules.gitops.url, [...path, 'url'], field?.key ?? spec);
    return url === undefined ? undefined : { url, ...dflt };
  }
  const f = r.fields(field.value, path, ['url', 'branch', 'interval', 'secretRef', 'verify']);
  if (!f) return undefined;
  let ok = true;
  let url: string | undefined;
  const u = f.get('url');
  if (u && !isNull(u.value)) {
    url = r.string(u.value, [...path, 'url'], 'write the repository URL as a string');
    if (url !== undefined && !/^(https?|ssh):\/\/[^\s]+$/.test(url)) {
      r.report([...path, 'url'], u.value, `"${maskUserinfo(url)}" is not a repository URL Flux can clone`, 'use an https:// or ssh:// URL, e.g. https://github.com/<owner>/<repo>');
      url = undefined;
    } else if (url !== undefined) {
      const held = credentialsInUrl(url);
      if (held) {
        r.report(
          [...path, 'url'],
          u.value,
          `${held}: they would be in git`,
          `remove them from the URL (and revoke them), create a Secret in flux-system with them and name it in spec.gitops.secretRef (${PRIVATE_FIX})`,
        );
        url = undefined;
      } else if (url.startsWith('http://') && refuse(r, [...path, 'url'], u.value, rules.gitops.cleartext)) url = undefined;
    }
    if (url === undefined) ok = false;
  } else {
    url = whenAbsent(r, rules.gitops.url, [...path, 'url'], u?.key ?? field.value);
    if (url === undefined) ok = false;
  }
  let branch: string = dflt.branch;
  const b = f.get('branch');
  if (b && !isNull(b.value)) {
    const v = r.string(b.value, [...path, 'branch'], 'write the branch name as a string');
    if (v === undefined || !/^[A-Za-z0-9._/-]+$/.test(v) || v.startsWith('-')) {
      if (v !== undefined) r.report([...path, 'branch'], b.value, `"${v}" is not a branch name`, 'use a plain branch name such as main');
      ok = false;
    } else branch = v;
  }
  let interval: string = dflt.interval;
  const iv = f.get('interval');
  if (iv && !isNull(iv.value)) {
    const v = r.string(iv.value, [...path, 'interval'], 'write a duration such as 5m');
    if (v === undefined || !/^([0-9]+(s|m|h))+$/.test(v)) {
      if (v !== undefined) r.report([...path, 'interval'], iv.value, `"${v}" is not a duration`, 'write a duration such as 1m, 5m or 1h');
      ok = false;
    } else interval = v;
  }
  let secretRef: string | undefined;
  const s = f.get('secretRef');
  if (s && !isNull(s.value)) {
    const v = r.string(s.value, [...path, 'secretRef'], 'write the name of the Secret in flux-system, e.g. secretRef: flux-system');
    if (v === undefined || v.length > 253 || !SECRET_NAME.test(v)) {
      if (v !== undefined) r.report([...path, 'secretRef'], s.value, `"${v}" is not a Secret name`, 'use lower-case letters, digits, "-" and ".", e.g. flux-system');
      ok = false;
    } else secretRef = v;
  }
  let verify: { secretRef: string } | undefined;
  const vf = f.get('verify');
  if (vf && !isNull(vf.value)) {
    const vp: Path = [...path, 'verify'];
    const vfields = r.fields(vf.value, vp, ['secretRef']);
    const fix = `name the Secret in flux-system that holds the trusted keys (<name>.asc OpenPGP, <name>.sshpub SSH), e.g. "verify: {secretRef: git-signers}" (${VERIFY_DOC})`;
    const ref = vfields ? r.required(vfields, 'secretRef', vf.value, vp, fix) : undefined;
    const v = ref !== undefined ? r.string(ref, [...vp, 'secretRef'], fix) : undefined;
    if (v !== undefined && (v.length > 253 || !SECRET_NAME.test(v))) r.report([...vp, 'secretRef'], ref, `"${v}" is not a Secret name`, 'use lower-case letters, digits, "-" and ".", e.g. git-signers');
    else if (v !== undefined) verify = { secretRef: v };
    if (!verify) ok = false;
  }
  if (ok && url?.startsWith('ssh://') && secretRef === undefined) {
    r.report([...path, 'url'], u!.value, 'an ssh:// URL needs a key, and spec.gitops.secretRef names none', `add "secretRef: <name>" naming the Secret in flux-system with identity and known_hosts (${PRIVATE_FIX}), or use an https:// URL`);
    ok = false;
  }
  if (!ok || url === undefined) return undefined;
  return { url, branch, interval, ...(secretRef !== undefined ? { secretRef } : {}), ...(verify ? { verify } : {}) };
}
