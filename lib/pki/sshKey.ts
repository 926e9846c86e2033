/**
 * The device SSH key: an ECDSA P-256 key whose private half is a SEC1
 * "EC PRIVATE KEY" PEM (which OpenSSH reads) and whose public half is an
 * authorized_keys line, "ecdsa-sha2-nistp256 <base64> <comment>" (RFC 5656).
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

export interface SshKey {
  readonly privateKeyPem: string;
  readonly publicKeyOpenSsh: string;
}

export const SSH_KEY_TYPE = 'ecdsa-sha2-nistp256';
const CURVE_ID = 'nistp256';

export function generateSshKey(comment = 'native6'): SshKey {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const privateKeyPem = privateKey.export({ type: 'sec1', format: 'pem' }).toString();
  return { privateKeyPem, publicKeyOpenSsh: openSshLine(createPublicKey(privateKey), comment) };
}

/** The authorized_keys line of an ECDSA P-256 private key given as PEM (SEC1 or PKCS#8). */
export function sshPublicKeyFromPrivate(privateKeyPem: string, comment = 'native6'): string {
  let key: KeyObject;
  try {
    key = createPrivateKey(privateKeyPem);
  } catch (e) {
    throw new Error(`not a private key: ${(e as Error).message}`);
  }
  return openSshLine(createPublicKey(key), comment);
}

function openSshLine(publicKey: KeyObject, comment: string): string {
  if (publicKey.asymmetricKeyType !== 'ec' || publicKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new Error('the SSH key must be ECDSA P-256');
  }
  if (/[\r\n]/.test(comment)) throw new Error('the SSH key comment must be one line');
  const jwk = publicKey.export({ format: 'jwk' });
  if (jwk.x === undefined || jwk.y === undefined) throw new Error('EC public key has no coordinates');
  const coordinate = (b64url: string): Buffer => {
    const b = Buffer.from(b64url, 'base64url');
    if (b.length > 32) throw new Error('P-256 coordinate longer than 32 octets');
    return Buffer.concat([Buffer.alloc(32 - b.length), b]);
  };
  const q = Buffer.concat([Buffer.from([0x04]), coordinate(jwk.x), coordinate(jwk.y)]); // uncompressed point
  const blob = Buffer.concat([sshString(Buffer.from(SSH_KEY_TYPE)), sshString(Buffer.from(CURVE_ID)), sshString(q)]);
  const line = `${SSH_KEY_TYPE} ${blob.toString('base64')}`;
  return comment === '' ? line : `${line} ${comment}`;
}

/** SSH wire "string": uint32 big-endian length, then the bytes. */
function sshString(b: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
}
