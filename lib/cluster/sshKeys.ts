/**
 * spec.sshKeys: the operators' SSH public keys, installed for root on every
 * machine the platform provisions (Equinix Metal: project SSH keys). Each
 * is one authorized_keys line without options: type, base64 key, optional
 * comment. The key's data is read, not only matched: its type inside must
 * be the one written before it, an RSA key must have at least 2048 bits,
 * and the same key twice is refused. A private key pasted by mistake is
 * refused without a word of it echoed: it must be treated as leaked.
 */
import { createHash } from 'node:crypto';
import type { Node } from 'yaml';
import { isNull, type Field, type Path, type Reader } from './reader.js';
import { refuse, type SpecRules } from './rules.js';

/** The key types accepted: what OpenSSH 9 takes by default (DSA is gone; RSA with SHA-2 signatures). */
export const SSH_KEY_TYPES = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com',
  'ssh-rsa',
] as const;

export const SSH_KEYS_MAX = 32;
const RSA_MIN_BITS = 2048;

const FIX = 'write each key as one line of its .pub file: "<type> <base64> [comment]", e.g. the output of "cat ~/.ssh/id_ed25519.pub"';

/** The SSH wire strings of a key blob (RFC 4251 §5), or undefined when it does not split into them. */
function wireStrings(blob: Buffer): Buffer[] | undefined {
  const out: Buffer[] = [];
  for (let at = 0; at < blob.length; ) {
    if (at + 4 > blob.length) return undefined;
    const n = blob.readUInt32BE(at);
    if (at + 4 + n > blob.length) return undefined;
    out.push(blob.subarray(at + 4, at + 4 + n));
    at += 4 + n;
  }
  return out;
}

/** What is wrong with a key's data for its type (undefined: nothing). */
function blobProblem(type: string, blob: Buffer): string | undefined {
  const parts = wireStrings(blob);
  if (!parts || parts.length === 0) return 'its base64 data is not an SSH public key';
  if (parts[0]!.toString('latin1') !== type) return `its data is a "${parts[0]!.toString('latin1').slice(0, 40)}" key, not the "${type}" written before it`;
  const fields = parts.length - 1;
  switch (type) {
    case 'ssh-ed25519':
      return fields === 1 && parts[1]!.length === 32 ? undefined : 'its data is not a 32-byte Ed25519 key';
    case 'sk-ssh-ed25519@openssh.com':
      return fields === 2 && parts[1]!.length === 32 ? undefined : 'its data is not a security-key Ed25519 key';
    case 'ssh-rsa': {
      if (fields !== 2) return 'its data is not an RSA key (exponent and modulus)';
      const modulus = parts[2]!.toString('hex');
      const bits = modulus === '' ? 0 : BigInt(`0x${modulus}`).toString(2).length;
      return bits >= RSA_MIN_BITS ? undefined : `it is a ${bits}-bit RSA key, under ${RSA_MIN_BITS} bits`;
    }
    default: {
      // ECDSA, plain or on a security key: the curve's name, then the point (and the application).
      const curve = type.replace(/^sk-/, '').replace(/@openssh\.com$/, '').replace('ecdsa-sha2-', '');
      const want = type.startsWith('sk-') ? 3 : 2;
      return fields === want && parts[1]!.toString('latin1') === curve && parts[2]!.length > 0 ? undefined : `its data is not an ${type} key on ${curve}`;
    }
  }
}

/** The key's SHA-256 fingerprint, as ssh-keygen -l prints it (SHA256:<base64 without padding>). */
export function sshFingerprint(line: string): string {
  const blob = Buffer.from(line.split(' ')[1] ?? '', 'base64');
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** spec.sshKeys: undefined when absent, null when wrong (reported), else the keys as "type base64[ comment]" lines. */
export function decodeSshKeys(r: Reader, field: Field | undefined, rules: SpecRules): readonly string[] | undefined | null {
  const path: Path = ['spec', 'sshKeys'];
  if (!field || isNull(field.value)) return undefined;
  if (refuse(r, path, field.key, rules.sshKeys)) return null;
  const items = r.sequence(field.value, path, 'write the keys as a list: "- ssh-ed25519 AAAA... alice@laptop"');
  if (!items) return null;
  if (items.length === 0) {
    r.report(path, field.value, 'is an empty list', 'remove the field (machines then get no key anyone holds) or list the operators\' public keys');
    return null;
  }
  if (items.length > SSH_KEYS_MAX) {
    r.report(path, field.value, `lists ${items.length} keys, more than ${SSH_KEYS_MAX}`, `keep at most ${SSH_KEYS_MAX}: the operators who need root on the machines`);
    return null;
  }
  const keys: string[] = [];
  const seen = new Map<string, number>();
  let ok = true;
  items.forEach((item: Node, i) => {
    const p: Path = [...path, i];
    const bad = (message: string, fix = FIX) => {
      r.report(p, item, message, fix);
      ok = false;
    };
    const text = r.string(item, p, FIX);
    if (text === undefined) return void (ok = false);
    const line = text.trim();
    if (/PRIVATE KEY/.test(line) || /^-----BEGIN /.test(line)) {
      return bad('is a private key, not a public one: it must never be in git', 'give the public half (the .pub file, or "ssh-keygen -y -f <key>"), and treat this key as leaked: replace it');
    }
    if (/[\r\n]/.test(line)) return bad('is more than one line', FIX);
    const m = /^(\S+) ([A-Za-z0-9+/]+={0,2})(?: (.*))?$/.exec(line);
    if (!m) {
      const type = line.split(/\s/)[0] ?? '';
      if (!(SSH_KEY_TYPES as readonly string[]).includes(type) && SSH_KEY_TYPES.some((t) => line.includes(` ${t} `))) {
        return bad('starts with authorized_keys options', 'give the key alone, without options such as from= or command=: the platform installs it as given');
      }
      return bad('is not "<type> <base64> [comment]"', FIX);
    }
    const [, type, data, comment] = m as unknown as [string, string, string, string | undefined];
    if (!(SSH_KEY_TYPES as readonly string[]).includes(type)) {
      return bad(`"${type.slice(0, 40)}" is not a key type accepted here`, `use one of: ${SSH_KEY_TYPES.join(', ')}`);
    }
    if (comment !== undefined && /[\u0000-\u001f\u007f]/.test(comment)) return bad('has control characters in its comment', FIX);
    const problem = blobProblem(type, Buffer.from(data, 'base64'));
    if (problem) return bad(problem, FIX);
    const id = `${type} ${data}`;
    const first = seen.get(id);
    if (first !== undefined) return bad(`is the same key as sshKeys[${first}]`, 'list every key once');
    seen.set(id, i);
    keys.push(comment ? `${id} ${comment}` : id);
  });
  return ok ? keys : null;
}
