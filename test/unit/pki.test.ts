/**
 * The PKI (lib/pki): certificates parsed back by node:crypto and checked byte
 * for byte where DER is fixed. The same PKI read by openssl, kubectl and
 * ssh-keygen is in test/integration/pki.test.ts.
 */
import assert from 'node:assert/strict';
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { test } from 'node:test';
import { parse } from 'yaml';
import { kubeconfig } from '../../lib/kube/kubeconfig.js';
import { caCertHash, generateKey, selfSignedCA, signCertificate } from '../../lib/pki/x509.js';
import type { KeyPair } from '../../lib/pki/x509.js';
import { generateSshKey, sshPublicKeyFromPrivate } from '../../lib/pki/sshKey.js';
import { ca, IN_10_YEARS, IN_1_YEAR, leaf, NOW } from '../pki-fixture.js';


function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex');
}

function der(pem: string): Buffer {
  return new X509Certificate(pem).raw;
}

function includes(pem: string, bytes: Buffer): boolean {
  return der(pem).includes(bytes);
}

/** Reads a DER TLV header: [content start, end]. */
function tlvAt(buf: Buffer, at: number): [number, number] {
  const first = buf[at + 1]!;
  if (first < 0x80) return [at + 2, at + 2 + first];
  const n = first & 0x7f;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + buf[at + 2 + i]!;
  return [at + 2 + n, at + 2 + n + len];
}

/** The TBSCertificate bytes (everything that is signed). */
function tbs(pem: string): Buffer {
  const d = der(pem);
  const [contentStart] = tlvAt(d, 0);
  const [, end] = tlvAt(d, contentStart);
  return d.subarray(contentStart, end);
}

/** The bytes after the [0] version field: the serial's TLV first. */
function afterVersion(pem: string): Buffer {
  const t = tbs(pem);
  const [start] = tlvAt(t, 0);
  assert.deepEqual([...t.subarray(start, start + 5)], [0xa0, 0x03, 0x02, 0x01, 0x02], 'version v3');
  return t.subarray(start + 5);
}

function sha1OfPoint(key: KeyPair): Buffer {
  const spki = createPublicKey(key.publicKeyPem).export({ type: 'spki', format: 'der' });
  return createHash('sha1').update(spki.subarray(spki.length - 65)).digest(); // P-256: the last 65 octets are 04||X||Y
}


test('generateKey: SEC1 EC private key and SPKI public key of one P-256 key', () => {
  const k = generateKey();
  assert.match(k.privateKeyPem, /^-----BEGIN EC PRIVATE KEY-----\n/);
  assert.match(k.publicKeyPem, /^-----BEGIN PUBLIC KEY-----\n/);
  const priv = createPrivateKey(k.privateKeyPem);
  assert.equal(priv.asymmetricKeyType, 'ec');
  assert.equal(priv.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  assert.equal(createPublicKey(priv).export({ type: 'spki', format: 'pem' }), k.publicKeyPem);
  assert.notEqual(generateKey().privateKeyPem, k.privateKeyPem);
});

test('selfSignedCA: subject = issuer, CA:TRUE with pathLen 0, validity, self-signed, a CA\'s key usages only', () => {
  const key = generateKey();
  const pem = ca(key);
  assert.match(pem, /^-----BEGIN CERTIFICATE-----\n([A-Za-z0-9+/=]{64}\n)*[A-Za-z0-9+/=]{1,64}\n-----END CERTIFICATE-----\n$/);
  const cert = new X509Certificate(pem);
  assert.equal(cert.subject, 'CN=kubernetes');
  assert.equal(cert.issuer, 'CN=kubernetes');
  assert.equal(cert.ca, true);
  assert.equal(new Date(cert.validFrom).toISOString(), NOW.toISOString());
  assert.equal(new Date(cert.validTo).toISOString(), IN_10_YEARS.toISOString());
  assert.equal(cert.verify(createPublicKey(key.publicKeyPem)), true);
  assert.equal(cert.verify(new X509Certificate(ca()).publicKey), false, 'does not verify against another CA');
  assert.equal(cert.checkIssued(cert), true);
  assert.equal(cert.checkPrivateKey(createPrivateKey(key.privateKeyPem)), true);
  // DER is fixed, so the extensions are checked byte for byte.
  assert.ok(includes(pem, hex('30 12 06 03 55 1d 13 01 01 ff 04 08 30 06 01 01 ff 02 01 00')), 'basicConstraints critical CA:TRUE, pathLenConstraint 0');
  // Bits 0, 5 and 6 (0x86, one unused bit): no keyEncipherment (bit 2), which an ECDSA key cannot do.
  assert.ok(includes(pem, hex('30 0e 06 03 55 1d 0f 01 01 ff 04 04 03 02 01 86')), 'keyUsage critical digitalSignature keyCertSign cRLSign');
  assert.ok(includes(pem, Buffer.concat([hex('30 1d 06 03 55 1d 0e 04 16 04 14'), sha1OfPoint(key)])), 'subjectKeyIdentifier = SHA-1 of the public key bits');
  assert.ok(includes(pem, hex('30 0a 06 08 2a 86 48 ce 3d 04 03 02')), 'ecdsa-with-SHA256, parameters absent');
});

test('the signed part is a pure function of the inputs (only the ECDSA signature varies)', () => {
  const key = generateKey();
  const a = ca(key, 'kubernetes', 42n);
  const b = ca(key, 'kubernetes', 42n);
  assert.deepEqual(tbs(a), tbs(b));
  assert.notDeepEqual(tbs(a), tbs(ca(key, 'kubernetes', 43n)));
  // Without a serial, one is derived from the key, name and validity: the same for the same inputs, different for another key.
  assert.deepEqual(tbs(ca(key)), tbs(ca(key)));
  const derived = BigInt(`0x${new X509Certificate(ca(key)).serialNumber}`);
  assert.ok(derived > 0n && derived < 1n << 128n);
  assert.notEqual(new X509Certificate(ca()).serialNumber, new X509Certificate(ca(key)).serialNumber);
});

test('serial numbers: positive INTEGERs, a leading zero octet when the high bit is set, at most 20 octets', () => {
  const key = generateKey();
  const cases: Array<[bigint, string, string]> = [
    [1n, '02 01 01', '01'],
    [0x7fn, '02 01 7f', '7F'],
    [0x80n, '02 02 00 80', '80'],
    [0xffn, '02 02 00 ff', 'FF'],
    [0x100n, '02 02 01 00', '0100'],
    [0xff00n, '02 03 00 ff 00', 'FF00'],
    [0x8000_0000_0000_0000n, '02 09 00 80 00 00 00 00 00 00 00', '8000000000000000'],
  ];
  for (const [serial, encoding, nodeHex] of cases) {
    const pem = ca(key, 'kubernetes', serial);
    const expected = hex(encoding);
    assert.deepEqual(afterVersion(pem).subarray(0, expected.length), expected, `serial 0x${serial.toString(16)}`);
    assert.equal(new X509Certificate(pem).serialNumber.replace(/^0+(?=.)/, ''), nodeHex.replace(/^0+(?=.)/, ''));
  }
  const max = (1n << 159n) - 1n; // 20 octets, high bit clear
  assert.equal(afterVersion(ca(key, 'kubernetes', max))[1], 20);
  assert.throws(() => ca(key, 'kubernetes', 1n << 159n), /longer than 20 octets/); // needs a leading zero: 21 octets
  assert.throws(() => ca(key, 'kubernetes', 0n), /must be positive/);
  assert.throws(() => ca(key, 'kubernetes', -5n), /must be positive/);
});

test('validity: UTCTime through 2049, GeneralizedTime from 2050, whole seconds, notAfter after notBefore', () => {
  const key = generateKey();
  const mk = (notBefore: Date, notAfter: Date): string => selfSignedCA({ key, commonName: 'kubernetes', notBefore, notAfter, serial: 1n });
  const pem = mk(new Date('2049-12-31T23:59:59.999Z'), new Date('2050-01-01T00:00:00Z'));
  assert.ok(includes(pem, Buffer.concat([hex('30 20 17 0d'), Buffer.from('491231235959Z'), hex('18 0f'), Buffer.from('20500101000000Z')])));
  const cert = new X509Certificate(pem);
  assert.equal(new Date(cert.validFrom).toISOString(), '2049-12-31T23:59:59.000Z');
  assert.equal(new Date(cert.validTo).toISOString(), '2050-01-01T00:00:00.000Z');
  const early = mk(new Date('1950-01-01T00:00:00Z'), new Date('2100-02-03T04:05:06Z'));
  assert.ok(includes(early, Buffer.concat([hex('17 0d'), Buffer.from('500101000000Z'), hex('18 0f'), Buffer.from('21000203040506Z')])));
  assert.throws(() => mk(NOW, NOW), /not after notBefore/);
  assert.throws(() => mk(IN_1_YEAR, NOW), /not after notBefore/);
  assert.throws(() => mk(new Date('nonsense'), NOW), /notBefore is not a valid date/);
});

test('signCertificate: a server leaf with DNS, IPv6 and IPv4 SANs, signed by the CA and by no other', () => {
  const caKey = generateKey();
  const caPem = ca(caKey);
  const pem = leaf(caKey, caPem, 'server');
  const cert = new X509Certificate(pem);
  const caCert = new X509Certificate(caPem);
  assert.equal(cert.subject, 'CN=kube-apiserver');
  assert.equal(cert.issuer, 'CN=kubernetes');
  assert.equal(cert.ca, false);
  assert.equal(new Date(cert.validFrom).toISOString(), NOW.toISOString());
  assert.equal(new Date(cert.validTo).toISOString(), IN_1_YEAR.toISOString());
  assert.equal(
    cert.subjectAltName,
    'DNS:kubernetes, DNS:kubernetes.default.svc.cluster.local, IP Address:2001:DB8:2A00:1:0:0:0:1, IP Address:2001:DB8:0:0:0:0:0:0, IP Address:192.0.2.7',
  );
  assert.ok(includes(pem, hex('87 10 20 01 0d b8 2a 00 00 01 00 00 00 00 00 00 00 01')), 'IPv6 SAN is 16 octets');
  assert.ok(includes(pem, hex('87 04 c0 00 02 07')), 'IPv4 SAN is 4 octets');
  assert.ok(cert.checkHost('kubernetes'));
  assert.ok(cert.checkIP('2001:db8:2a00:1::1'));
  assert.equal(cert.checkIP('2001:db8:2a00:1::2'), undefined);
  assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.1'], 'extKeyUsage serverAuth');
  assert.equal(cert.verify(caCert.publicKey), true);
  assert.equal(cert.checkIssued(caCert), true);
  assert.equal(cert.verify(new X509Certificate(ca()).publicKey), false, 'another CA of the same name does not verify it');
  assert.equal(caCert.verify(caCert.publicKey), true);
  assert.ok(includes(pem, hex('30 0c 06 03 55 1d 13 01 01 ff 04 02 30 00')), 'basicConstraints critical CA:FALSE');
  // Bit 0 alone (0x80, seven unused bits): an ECDSA leaf only signs.
  assert.ok(includes(pem, hex('30 0e 06 03 55 1d 0f 01 01 ff 04 04 03 02 07 80')), 'keyUsage critical digitalSignature only');
  assert.ok(includes(pem, Buffer.concat([hex('30 1f 06 03 55 1d 23 04 18 30 16 80 14'), sha1OfPoint(caKey)])), 'authorityKeyIdentifier = the CA key identifier');
});

test('signCertificate: a client leaf carries its organizations and clientAuth, no SAN', () => {
  const caKey = generateKey();
  const caPem = ca(caKey);
  const key = generateKey();
  const pem = signCertificate({ caKey, caCertPem: caPem, key, commonName: 'kubernetes-admin', organizations: ['system:masters', 'kubeadm:cluster-admins'], notBefore: NOW, notAfter: IN_1_YEAR, serial: 0x80n, usage: 'client' });
  const cert = new X509Certificate(pem);
  assert.equal(cert.subject, 'O=system:masters\nO=kubeadm:cluster-admins\nCN=kubernetes-admin');
  assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.2'], 'extKeyUsage clientAuth');
  assert.equal(cert.subjectAltName, undefined);
  assert.equal(cert.checkPrivateKey(createPrivateKey(key.privateKeyPem)), true, 'the subject key is the one given');
  assert.equal(cert.verify(new X509Certificate(caPem).publicKey), true);
  // The issuer is copied from the CA's subject, byte for byte.
  const caSubject = hex('30 15 31 13 30 11 06 03 55 04 03 13 0a').toString('hex') + Buffer.from('kubernetes').toString('hex');
  assert.ok(tbs(pem).toString('hex').includes(caSubject));
});

test('signCertificate refuses a key that is not the CA\'s, a non-CA issuer, a leaf outliving its CA and bad SANs', () => {
  const caKey = generateKey();
  const caPem = ca(caKey);
  const base = { caKey, caCertPem: caPem, key: generateKey(), commonName: 'x', organizations: [], notBefore: NOW, notAfter: IN_1_YEAR, serial: 9n, usage: 'server' as const };
  assert.throws(() => signCertificate({ ...base, caKey: generateKey() }), /caKey is not the key of caCertPem/);
  assert.throws(() => signCertificate({ ...base, caCertPem: leaf(caKey, caPem, 'server') }), /not a CA certificate/);
  assert.throws(() => signCertificate({ ...base, notAfter: new Date('2036-01-01T00:00:00Z') }), /after the CA's notAfter/);
  assert.throws(() => signCertificate({ ...base, ipAddresses: ['[2001:db8::1]'] }), /not an IPv6 or IPv4 address/);
  assert.throws(() => signCertificate({ ...base, ipAddresses: ['fe80::1%eth0'] }), /zone index/);
  assert.throws(() => signCertificate({ ...base, dnsNames: ['bad name'] }), /not a host name/);
  assert.throws(() => signCertificate({ ...base, commonName: ' ' }), /commonName is empty/);
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  assert.throws(() => selfSignedCA({ key: rsa, commonName: 'x', notBefore: NOW, notAfter: IN_1_YEAR }), /ECDSA P-256/);
  // A PKCS#8 private key PEM is as good as the KeyPair.
  const pkcs8 = createPrivateKey(caKey.privateKeyPem).export({ type: 'pkcs8', format: 'pem' }).toString();
  assert.equal(new X509Certificate(signCertificate({ ...base, caKey: pkcs8 })).verify(new X509Certificate(caPem).publicKey), true);
});

test('caCertHash: sha256 of the CA certificate\'s DER SubjectPublicKeyInfo', () => {
  const key = generateKey();
  const pem = ca(key);
  const hash = caCertHash(pem);
  assert.match(hash, /^sha256:[0-9a-f]{64}$/);
  const spki = new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' });
  assert.equal(hash, `sha256:${createHash('sha256').update(spki).digest('hex')}`);
  assert.equal(caCertHash(ca(key)), hash, 'depends on the key only');
  assert.notEqual(caCertHash(ca()), hash);
  assert.throws(() => caCertHash('not a certificate'), /not a PEM certificate/);
});

function adminKubeconfig(): { text: string; caPem: string; caKey: KeyPair; certPem: string; key: KeyPair } {
  const caKey = generateKey();
  const caPem = ca(caKey);
  const key = generateKey();
  const certPem = leaf(caKey, caPem, 'client', key);
  const text = kubeconfig({ clusterName: 'dfw', server: 'https://[2001:db8:2a00:1::1]:443', caCertPem: caPem, user: 'kubernetes-admin', clientCertPem: certPem, clientKeyPem: key.privateKeyPem });
  return { text, caPem, caKey, certPem, key };
}

test('kubeconfig: round trip through the yaml parser', () => {
  const { text, caPem, certPem, key } = adminKubeconfig();
  const doc = parse(text) as Record<string, unknown>;
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  assert.deepEqual(doc, {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'dfw', cluster: { 'certificate-authority-data': b64(caPem), server: 'https://[2001:db8:2a00:1::1]:443' } }],
    contexts: [{ name: 'kubernetes-admin@dfw', context: { cluster: 'dfw', user: 'kubernetes-admin' } }],
    'current-context': 'kubernetes-admin@dfw',
    preferences: {},
    users: [{ name: 'kubernetes-admin', user: { 'client-certificate-data': b64(certPem), 'client-key-data': b64(key.privateKeyPem) } }],
  });
  const users = doc['users'] as Array<{ user: Record<string, string> }>;
  const clientCert = new X509Certificate(Buffer.from(users[0]!.user['client-certificate-data']!, 'base64'));
  assert.equal(clientCert.subject, 'O=system:masters\nCN=kubernetes-admin');
});

test('kubeconfig refuses a client certificate from another CA, the wrong key and a non-https server', () => {
  const caKey = generateKey();
  const caPem = ca(caKey);
  const key = generateKey();
  const base = { clusterName: 'dfw', server: 'https://[2001:db8::1]:443', caCertPem: caPem, user: 'admin', clientCertPem: leaf(caKey, caPem, 'client', key), clientKeyPem: key.privateKeyPem };
  assert.doesNotThrow(() => kubeconfig(base));
  const otherKey = generateKey();
  assert.throws(() => kubeconfig({ ...base, clientCertPem: leaf(otherKey, ca(otherKey), 'client', key) }), /not signed by caCertPem/);
  assert.throws(() => kubeconfig({ ...base, clientKeyPem: generateKey().privateKeyPem }), /not the key of clientCertPem/);
  assert.throws(() => kubeconfig({ ...base, server: 'http://[2001:db8::1]:443' }), /not an https URL/);
  assert.throws(() => kubeconfig({ ...base, server: '2001:db8::1' }), /not a URL|not an https URL/);
});

test('generateSshKey: SEC1 PEM private key and an ecdsa-sha2-nistp256 authorized_keys line of the same key', () => {
  const { privateKeyPem, publicKeyOpenSsh } = generateSshKey('native6-device');
  assert.match(privateKeyPem, /^-----BEGIN EC PRIVATE KEY-----\n/);
  const m = /^ecdsa-sha2-nistp256 ([A-Za-z0-9+/]+=*) native6-device$/.exec(publicKeyOpenSsh);
  assert.ok(m, publicKeyOpenSsh);
  const blob = Buffer.from(m[1]!, 'base64');
  const strings: Buffer[] = [];
  for (let at = 0; at < blob.length; ) {
    const len = blob.readUInt32BE(at);
    strings.push(blob.subarray(at + 4, at + 4 + len));
    at += 4 + len;
  }
  assert.equal(strings.length, 3);
  assert.equal(strings[0]!.toString(), 'ecdsa-sha2-nistp256');
  assert.equal(strings[1]!.toString(), 'nistp256');
  const jwk = createPublicKey(privateKeyPem).export({ format: 'jwk' });
  const q = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
  assert.equal(q.length, 65);
  assert.deepEqual(strings[2], q);

  assert.equal(sshPublicKeyFromPrivate(privateKeyPem, 'native6-device'), publicKeyOpenSsh);
  const pkcs8 = createPrivateKey(privateKeyPem).export({ type: 'pkcs8', format: 'pem' }).toString();
  assert.equal(sshPublicKeyFromPrivate(pkcs8, 'native6-device'), publicKeyOpenSsh);
  assert.equal(sshPublicKeyFromPrivate(privateKeyPem, ''), publicKeyOpenSsh.replace(/ native6-device$/, ''));
  assert.notEqual(generateSshKey().publicKeyOpenSsh.split(' ')[1], m[1]);
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  assert.throws(() => sshPublicKeyFromPrivate(rsa), /ECDSA P-256/);
  assert.throws(() => sshPublicKeyFromPrivate(privateKeyPem, 'two\nlines'), /one line/);
});
