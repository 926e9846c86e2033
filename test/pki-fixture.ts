/**
 * Certificates for the PKI tests (unit and integration): a CA and a client
 * or server leaf of it, at fixed validity dates.
 */
import { generateKey, selfSignedCA, signCertificate, type KeyPair } from '../lib/pki/x509.js';

export const NOW = new Date('2025-06-01T12:00:00Z');
export const IN_10_YEARS = new Date('2035-06-01T12:00:00Z');
export const IN_1_YEAR = new Date('2026-06-01T12:00:00Z');

export function ca(key: KeyPair = generateKey(), commonName = 'kubernetes', serial?: bigint): string {
  return selfSignedCA({ key, commonName, notBefore: NOW, notAfter: IN_10_YEARS, ...(serial === undefined ? {} : { serial }) });
}

export function leaf(caKey: KeyPair, caPem: string, usage: 'client' | 'server', key: KeyPair = generateKey()): string {
  return usage === 'client'
    ? signCertificate({ caKey, caCertPem: caPem, key: key.publicKeyPem, commonName: 'kubernetes-admin', organizations: ['system:masters'], notBefore: NOW, notAfter: IN_1_YEAR, serial: 2n, usage })
    : signCertificate({
        caKey,
        caCertPem: caPem,
        key: key.publicKeyPem,
        commonName: 'kube-apiserver',
        organizations: [],
        notBefore: NOW,
        notAfter: IN_1_YEAR,
        serial: 3n,
        usage,
        dnsNames: ['kubernetes', 'kubernetes.default.svc.cluster.local'],
        ipAddresses: ['2001:db8:2a00:1::1', '2001:db8::', '192.0.2.7'],
      });
}
