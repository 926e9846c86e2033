/**
 * A minimal X.509 PKI on node:crypto alone: the Pulumi program pre-generates
 * the cluster CA so kubeadm joins can pin it (--discovery-token-ca-cert-hash,
 * caCertHash) and signs an admin client certificate for the kubeconfig it
 * emits as a secret output, without SSH to a control-plane node.
 *
 * Certificates look like kubeadm's own (ECDSA P-256, ecdsa-with-SHA256),
 * with tighter key usages (review security-2026-12 L5): a CA may sign
 * certificates and CRLs, and only leaves (pathLenConstraint 0); a leaf's
 * ECDSA key only signs (digitalSignature: an ECDSA key cannot encipher, so
 * keyEncipherment, which kubeadm also sets, is not set, RFC 5480 §3).
 * Everything except key generation is a pure function of its inputs, but an
 * ECDSA signature is randomised: the signed part (TBSCertificate) is the same
 * for the same inputs, the signature bytes are not.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, X509Certificate } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { parseAddress } from '../net/ipv6.js';

/** PEM text of an ECDSA P-256 key pair: SEC1 "EC PRIVATE KEY" (as kubeadm writes) and SPKI "PUBLIC KEY". */
export interface KeyPair {
  readonly privateKeyPem: string;
  readonly publicKeyPem: string;
}

/** A signing key: a KeyPair, or the PEM text of a private key. */
export type PrivateKeyInput = KeyPair | string;
/** A subject's key: a KeyPair, or PEM text of a public key (or of a private key, whose public half is used). */
export type PublicKeyInput = KeyPair | string;

export interface CAOptions {
  readonly key: PrivateKeyInput;
  readonly commonName: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Positive, at most 20 octets. Default: derived from the public key, name and validity (so still deterministic). */
  readonly serial?: bigint;
}

export interface CertificateOptions {
  readonly caKey: PrivateKeyInput;
  readonly caCertPem: string;
  /** The subject's public key. */
  readonly key: PublicKeyInput;
  readonly commonName: string;
  readonly organizations: readonly string[];
  readonly notBefore: Date;
  /** Not after the CA's own notAfter. */
  readonly notAfter: Date;
  /** Positive, at most 20 octets. */
  readonly serial: bigint;
  readonly usage: 'client' | 'server';
  readonly dnsNames?: readonly string[];
  /** IPv6 or IPv4 addresses, without brackets or zone. */
  readonly ipAddresses?: readonly string[];
}

export function generateKey(): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    privateKeyPem: privateKey.export({ type: 'sec1', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

export function selfSignedCA(opts: CAOptions): string {
  const signer = signingKey(opts.key, 'key');
  const spki = spkiDer(createPublicKey(signer));
  const name = encodeName([], opts.commonName);
  const ski = keyIdentifier(spki);
  const serial = opts.serial ?? defaultSerial(spki, name, opts.notBefore, opts.notAfter);
  const extensions = [
    // CA:TRUE, pathLenConstraint 0: it signs the cluster's leaves, never another CA.
    extension(OID.basicConstraints, true, seq(boolean(true), integer(0n))),
    extension(OID.keyUsage, true, keyUsage([KU.digitalSignature, KU.keyCertSign, KU.cRLSign])),
    extension(OID.subjectKeyIdentifier, false, octetString(ski)),
  ];
  return signTbs(tbsCertificate(serial, name, validity(opts.notBefore, opts.notAfter), name, spki, extensions), signer);
}

export function signCertificate(opts: CertificateOptions): string {
  const signer = signingKey(opts.caKey, 'caKey');
  const ca = parseCertificate(opts.caCertPem, 'caCertPem');
  if (!ca.x509.ca) throw new PkiError('caCertPem is not a CA certificate (basicConstraints CA:TRUE missing)');
  if (!spkiDer(createPublicKey(signer)).equals(ca.spki)) throw new PkiError('caKey is not the key of caCertPem');
  const caNotAfter = new Date(ca.x509.validTo);
  if (opts.notAfter.getTime() > caNotAfter.getTime()) {
    throw new PkiError(`notAfter ${opts.notAfter.toISOString()} is after the CA's notAfter ${caNotAfter.toISOString()}`);
  }
  const subjectSpki = spkiDer(publicKeyOf(opts.key));
  const usage = opts.usage === 'client' ? OID.clientAuth : OID.serverAuth;
  const extensions = [
    extension(OID.keyUsage, true, keyUsage([KU.digitalSignature])),
    extension(OID.extKeyUsage, false, seq(oid(usage))),
    extension(OID.basicConstraints, true, seq()),
    extension(OID.authorityKeyIdentifier, false, seq(tlv(0x80, ca.ski ?? keyIdentifier(ca.spki)))),
  ];
  const san = subjectAltNames(opts.dnsNames ?? [], opts.ipAddresses ?? []);
  if (san !== undefined) extensions.push(extension(OID.subjectAltName, false, san));
  const subject = encodeName(opts.organizations, opts.commonName);
  // The issuer is the CA's subject byte for byte, so name chaining cannot differ in encoding.
  const tbs = tbsCertificate(opts.serial, ca.subject, validity(opts.notBefore, opts.notAfter), subject, subjectSpki, extensions);
  return signTbs(tbs, signer);
}

/** "sha256:<hex>" of the CA certificate's DER SubjectPublicKeyInfo, as kubeadm's --discovery-token-ca-cert-hash. */
export function caCertHash(caCertPem: string): string {
  const { spki } = parseCertificate(caCertPem, 'caCertPem');
  return `sha256:${createHash('sha256').update(spki).digest('hex')}`;
}

export class PkiError extends Error {
  override name = 'PkiError';
}

// ---------------------------------------------------------------------------
// Keys

function signingKey(input: PrivateKeyInput, field: string): KeyObject {
  const pem = typeof input === 'string' ? input : input.privateKeyPem;
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (e) {
    throw new PkiError(`${field} is not a private key: ${(e as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new PkiError(`${field} must be an ECDSA P-256 key (certificates are signed ecdsa-with-SHA256)`);
  }
  return key;
}

function publicKeyOf(input: PublicKeyInput): KeyObject {
  const pem = typeof input === 'string' ? input : input.publicKeyPem;
  try {
    return createPublicKey(pem);
  } catch (e) {
    throw new PkiError(`key is not a public or private key: ${(e as Error).message}`);
  }
}

function spkiDer(key: KeyObject): Buffer {
  return key.export({ type: 'spki', format: 'der' });
}

/** RFC 5280 4.2.1.2 method (1), as Go's x509 uses: SHA-1 of the subjectPublicKey bits. */
function keyIdentifier(spki: Buffer): Buffer {
  const [, bits] = children(spki, readTlv(spki, 0));
  if (bits === undefined || bits.tag !== 0x03) throw new PkiError('SubjectPublicKeyInfo has no BIT STRING');
  return createHash('sha1').update(spki.subarray(bits.contentStart + 1, bits.end)).digest();
}

function defaultSerial(spki: Buffer, name: Buffer, notBefore: Date, notAfter: Date): bigint {
  const h = createHash('sha256').update(spki).update(name).update(`${notBefore.getTime()}/${notAfter.getTime()}`).digest();
  // 16 octets, top bit clear, never zero.
  return (BigInt(`0x${h.subarray(0, 16).toString('hex')}`) >> 1n) | 1n;
}

// ---------------------------------------------------------------------------
// Certificates

const OID = {
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

/** KeyUsage bit numbers (RFC 5280 4.2.1.3). */
const KU = { digitalSignature: 0, keyCertSign: 5, cRLSign: 6 } as const;

function tbsCertificate(serial: bigint, issuer: Buffer, validityDer: Buffer, subject: Buffer, spki: Buffer, extensions: Buffer[]): Buffer {
  return seq(
    tlv(0xa0, integer(2n)), // [0] EXPLICIT version v3
    serialNumber(serial),
    seq(oid(OID.ecdsaWithSHA256)),
    issuer,
    validityDer,
    subject,
    spki,
    tlv(0xa3, seq(...extensions)), // [3] EXPLICIT extensions
  );
}

function signTbs(tbs: Buffer, key: KeyObject): string {
  const signature = sign('sha256', tbs, key); // DER ECDSA-Sig-Value
  return pem('CERTIFICATE', seq(tbs, seq(oid(OID.ecdsaWithSHA256)), bitString(signature)));
}

function serialNumber(serial: bigint): Buffer {
  if (serial <= 0n) throw new PkiError(`serial ${serial} must be positive`);
  const der = integer(serial);
  if (readTlv(der, 0).length > 20) throw new PkiError(`serial ${serial} is longer than 20 octets`);
  return der;
}

/** Go's order (O before CN), one attribute per RDN. */
function encodeName(organizations: readonly string[], commonName: string): Buffer {
  if (commonName.trim() === '') throw new PkiError('commonName is empty');
  const rdn = (type: string, value: string): Buffer => set(seq(oid(type), directoryString(value)));
  return seq(...organizations.map((o) => rdn(OID.organization, o)), rdn(OID.commonName, commonName));
}

function validity(notBefore: Date, notAfter: Date): Buffer {
  for (const [field, d] of [['notBefore', notBefore], ['notAfter', notAfter]] as const) {
    if (Number.isNaN(d.getTime())) throw new PkiError(`${field} is not a valid date`);
  }
  if (notAfter.getTime() <= notBefore.getTime()) {
    throw new PkiError(`notAfter ${notAfter.toISOString()} is not after notBefore ${notBefore.toISOString()}`);
  }
  return seq(time(notBefore), time(notAfter));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? seq(oid(id), boolean(true), octetString(value)) : seq(oid(id), octetString(value));
}

/** A named-bit BIT STRING: DER drops trailing zero bits. */
function keyUsage(bits: readonly number[]): Buffer {
  const highest = Math.max(...bits);
  const bytes = Buffer.alloc(Math.floor(highest / 8) + 1);
  for (const b of bits) bytes[b >> 3] = (bytes[b >> 3] ?? 0) | (0x80 >> (b & 7));
  return tlv(0x03, Buffer.concat([Buffer.from([7 - (highest & 7)]), bytes]));
}

function subjectAltNames(dnsNames: readonly string[], ipAddresses: readonly string[]): Buffer | undefined {
  if (dnsNames.length === 0 && ipAddresses.length === 0) return undefined;
  const names: Buffer[] = [];
  for (const dns of dnsNames) {
    if (!/^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$/.test(dns)) {
      throw new PkiError(`DNS name "${dns}" is not a host name`);
    }
    names.push(tlv(0x82, Buffer.from(dns, 'ascii'))); // [2] IMPLICIT IA5String
  }
  for (const ip of ipAddresses) names.push(tlv(0x87, ipBytes(ip))); // [7] IMPLICIT OCTET STRING
  return seq(...names);
}

function ipBytes(text: string): Buffer {
  switch (isIP(text)) {
    case 4:
      return Buffer.from(text.split('.').map(Number));
    case 6: {
      let value: bigint;
      try {
        value = parseAddress(text);
      } catch (e) {
        throw new PkiError(`IP address "${text}": ${(e as Error).message}`);
      }
      return Buffer.from(value.toString(16).padStart(32, '0'), 'hex');
    }
    default:
      throw new PkiError(`"${text}" is not an IPv6 or IPv4 address`);
  }
}

interface ParsedCertificate {
  readonly x509: X509Certificate;
  /** The DER subject Name, as encoded in the certificate. */
  readonly subject: Buffer;
  /** The DER SubjectPublicKeyInfo, as encoded in the certificate. */
  readonly spki: Buffer;
  readonly ski: Buffer | undefined;
}

function parseCertificate(pemText: string, field: string): ParsedCertificate {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(pemText);
  } catch (e) {
    throw new PkiError(`${field} is not a PEM certificate: ${(e as Error).message}`);
  }
  const der = x509.raw;
  const [tbs] = children(der, readTlv(der, 0));
  if (tbs === undefined) throw new PkiError(`${field}: certificate has no TBSCertificate`);
  const fields = children(der, tbs);
  const rest = fields[0]?.tag === 0xa0 ? fields.slice(1) : fields;
  const [, , , , subject, spki, ...optional] = rest;
  if (subject === undefined || spki === undefined) throw new PkiError(`${field}: TBSCertificate is truncated`);
  const bytes = (t: Tlv): Buffer => der.subarray(t.start, t.end);

  let ski: Buffer | undefined;
  const extsWrapper = optional.find((t) => t.tag === 0xa3);
  const [exts] = extsWrapper === undefined ? [] : children(der, extsWrapper);
  for (const ext of exts === undefined ? [] : children(der, exts)) {
    const parts = children(der, ext);
    const id = parts[0];
    const value = parts[parts.length - 1];
    if (id === undefined || value === undefined || !bytes(id).equals(oid(OID.subjectKeyIdentifier))) continue;
    const inner = readTlv(der, value.contentStart);
    if (inner.tag === 0x04) ski = Buffer.from(der.subarray(inner.contentStart, inner.end));
  }
  return { x509, subject: Buffer.from(bytes(subject)), spki: Buffer.from(bytes(spki)), ski };
}

function pem(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

// ---------------------------------------------------------------------------
// DER

function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  let header: Buffer;
  if (n < 0x80) {
    header = Buffer.from([tag, n]);
  } else {
    const len: number[] = [];
    for (let v = n; v > 0; v >>>= 8) len.unshift(v & 0xff);
    header = Buffer.from([tag, 0x80 | len.length, ...len]);
  }
  return Buffer.concat([header, content]);
}

const seq = (...items: Buffer[]): Buffer => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]): Buffer => tlv(0x31, Buffer.concat(items));
const boolean = (v: boolean): Buffer => tlv(0x01, Buffer.from([v ? 0xff : 0x00]));
const octetString = (b: Buffer): Buffer => tlv(0x04, b);
const bitString = (b: Buffer): Buffer => tlv(0x03, Buffer.concat([Buffer.from([0]), b]));

/** A non-negative INTEGER, minimal octets, a leading 0x00 when the high bit would read as a sign. */
function integer(v: bigint): Buffer {
  if (v < 0n) throw new PkiError(`negative INTEGER ${v} is not supported`);
  let hex = v.toString(16);
  if (hex.length % 2 === 1) hex = `0${hex}`;
  let bytes = Buffer.from(hex, 'hex');
  if ((bytes[0] ?? 0) & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return tlv(0x02, bytes);
}

function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map((a) => BigInt(a));
  const [a, b, ...rest] = arcs;
  if (a === undefined || b === undefined) throw new PkiError(`OID ${dotted} has fewer than two arcs`);
  const out: number[] = [];
  for (const arc of [a * 40n + b, ...rest]) {
    const groups: number[] = [Number(arc & 0x7fn)];
    for (let v = arc >> 7n; v > 0n; v >>= 7n) groups.unshift(Number(v & 0x7fn) | 0x80);
    out.push(...groups);
  }
  return tlv(0x06, Buffer.from(out));
}

/** PrintableString when the text allows it (as Go writes names), otherwise UTF8String. */
function directoryString(s: string): Buffer {
  return /^[A-Za-z0-9 '()+,\-./:=?]*$/.test(s)
    ? tlv(0x13, Buffer.from(s, 'ascii'))
    : tlv(0x0c, Buffer.from(s, 'utf8'));
}

/** UTCTime through 2049, GeneralizedTime otherwise (RFC 5280 4.1.2.5); whole seconds. */
function time(d: Date): Buffer {
  const year = d.getUTCFullYear();
  if (year < 1 || year > 9999) throw new PkiError(`${d.toISOString()} is outside years 1..9999`);
  const two = (n: number): string => String(n).padStart(2, '0');
  const rest = `${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}${two(d.getUTCHours())}${two(d.getUTCMinutes())}${two(d.getUTCSeconds())}Z`;
  return year >= 1950 && year < 2050
    ? tlv(0x17, Buffer.from(`${two(year % 100)}${rest}`, 'ascii'))
    : tlv(0x18, Buffer.from(`${String(year).padStart(4, '0')}${rest}`, 'ascii'));
}

interface Tlv {
  readonly tag: number;
  readonly start: number;
  readonly contentStart: number;
  readonly length: number;
  readonly end: number;
}

/** Reads one TLV (low tag numbers, definite lengths: all DER here). */
function readTlv(buf: Buffer, start: number): Tlv {
  const tag = buf[start];
  const first = buf[start + 1];
  if (tag === undefined || first === undefined) throw new PkiError('DER truncated');
  if ((tag & 0x1f) === 0x1f) throw new PkiError('DER high tag numbers are not supported');
  let length = first;
  let contentStart = start + 2;
  if (first & 0x80) {
    const n = first & 0x7f;
    if (n === 0 || n > 4) throw new PkiError('DER length is indefinite or too long');
    length = 0;
    for (let i = 0; i < n; i++) {
      const b = buf[start + 2 + i];
      if (b === undefined) throw new PkiError('DER truncated');
      length = length * 256 + b;
    }
    contentStart += n;
  }
  const end = contentStart + length;
  if (end > buf.length) throw new PkiError('DER truncated');
  return { tag, start, contentStart, length, end };
}

function children(buf: Buffer, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = parent.contentStart; at < parent.end; ) {
    const t = readTlv(buf, at);
    out.push(t);
    at = t.end;
  }
  return out;
}
