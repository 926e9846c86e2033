/**
 * spec.sshKeys (lib/cluster/sshKeys.ts; review security-2026-12 L6): the
 * operators' public keys, read strictly. Real keys of every accepted kind
 * (made here with node:crypto and written as their .pub lines) are taken
 * as given; each bad one is reported at its line with its field and the
 * fix: a private key (never echoed), authorized_keys options, an unknown or
 * retired type, data of another type, a short RSA key, a repeat, an empty
 * list; and the lab refuses the field.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import { formatProblem } from '../../lib/cluster/problems.js';
import { sshFingerprint } from '../../lib/cluster/sshKeys.js';
import { loadCluster } from '../../lib/platforms/load.js';
import { generateSshKey } from '../../lib/pki/sshKey.js';

const lines = (...l: string[]) => `${l.join('\n')}\n`;
const spec = (platform: 'equinix-metal' | 'lab', ...keys: string[]) =>
  lines(
    'apiVersion: native6.dev/v1alpha1',
    'kind: Cluster',
    'metadata:',
    '  name: ord',
    'spec:',
    `  platform: ${platform}`,
    ...(platform === 'lab' ? ['  kubernetesVersion: v1.35.4', '  network:', '    block: 2001:db8:100::/56'] : ['  metro: da', '  kubernetesVersion: v1.35.4', '  controlPlane: {count: 3, plan: c3.small.x86}', '  network:', '    blockSize: 56', '  gitops:', '    url: https://github.com/example/clusters']),
    ...keys,
  );
// The keys start at line 15 on equinix-metal (after "  sshKeys:" at 14).
const metal = (...items: string[]) => spec('equinix-metal', '  sshKeys:', ...items.map((k) => `    - ${JSON.stringify(k)}`));

const wire = (...parts: Buffer[]) => Buffer.concat(parts.flatMap((p) => [Buffer.from([0, 0, (p.length >> 8) & 0xff, p.length & 0xff]), p]));
const str = (s: string) => Buffer.from(s, 'latin1');
const mpint = (b64url: string) => {
  const b = Buffer.from(b64url, 'base64url');
  return b[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b;
};
function ed25519(comment = 'alice@laptop'): string {
  const x = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }).x!;
  return `ssh-ed25519 ${wire(str('ssh-ed25519'), Buffer.from(x, 'base64url')).toString('base64')} ${comment}`;
}
function rsa(bits: number): string {
  const jwk = generateKeyPairSync('rsa', { modulusLength: bits }).publicKey.export({ format: 'jwk' });
  return `ssh-rsa ${wire(str('ssh-rsa'), mpint(jwk.e!), mpint(jwk.n!)).toString('base64')} bob@desk`;
}

function decoded(text: string): readonly string[] | undefined {
  const r = loadCluster('infra/ord.yaml', text, { expectName: 'ord' });
  assert.ok(r.ok, r.ok ? '' : r.problems.map(formatProblem).join('\n'));
  return r.spec.sshKeys;
}
function problems(text: string): string[] {
  const r = loadCluster('infra/ord.yaml', text, { expectName: 'ord' });
  assert.equal(r.ok, false, 'the spec should be refused');
  return r.ok ? [] : r.problems.map(formatProblem);
}

test('absent: no keys (the platform then gives its machines the sealed key); present: every kind taken as written, trimmed', () => {
  assert.equal(decoded(spec('equinix-metal')), undefined);
  const ed = ed25519();
  const ecdsa = generateSshKey('carol').publicKeyOpenSsh;
  const r = rsa(3072);
  const bare = ed25519('x').replace(/ x$/, '');
  assert.deepEqual(decoded(metal(`  ${ed}  `, ecdsa, r, bare)), [ed, ecdsa, r, bare]);
  // The fingerprint is ssh-keygen's: SHA256 of the key's data, base64 without padding.
  assert.match(sshFingerprint(ed), /^SHA256:[A-Za-z0-9+/]{43}$/);
  assert.notEqual(sshFingerprint(ed), sshFingerprint(bare));
});

test('a private key is refused without a word of it in the problem, and said to be leaked', () => {
  const pem = generateSshKey().privateKeyPem;
  const found = problems(metal(pem));
  assert.deepEqual(found, [
    'infra/ord.yaml:15:7: spec.sshKeys[0]: is a private key, not a public one: it must never be in git. Fix: give the public half (the .pub file, or "ssh-keygen -y -f <key>"), and treat this key as leaked: replace it',
  ]);
  const body = pem.split('\n')[1]!;
  assert.ok(!found[0]!.includes(body.slice(0, 16)));
});

test('each bad key is reported at its line, with its index and the fix', () => {
  const ed = ed25519();
  const [, edData] = ed.split(' ');
  const fix = 'Fix: write each key as one line of its .pub file: "<type> <base64> [comment]", e.g. the output of "cat ~/.ssh/id_ed25519.pub"';
  assert.deepEqual(
    problems(metal(`from="2001:db8::/32" ${ed}`, `ssh-dss ${edData}`, `ssh-rsa ${edData} x`, 'ssh-ed25519 AAAA', rsa(1024), 'ssh-ed25519', ed, ed)),
    [
      'infra/ord.yaml:15:7: spec.sshKeys[0]: starts with authorized_keys options. Fix: give the key alone, without options such as from= or command=: the platform installs it as given',
      'infra/ord.yaml:16:7: spec.sshKeys[1]: "ssh-dss" is not a key type accepted here. Fix: use one of: ssh-ed25519, ecdsa-sha2-nistp256, ecdsa-sha2-nistp384, ecdsa-sha2-nistp521, sk-ssh-ed25519@openssh.com, sk-ecdsa-sha2-nistp256@openssh.com, ssh-rsa',
      `infra/ord.yaml:17:7: spec.sshKeys[2]: its data is a "ssh-ed25519" key, not the "ssh-rsa" written before it. ${fix}`,
      `infra/ord.yaml:18:7: spec.sshKeys[3]: its base64 data is not an SSH public key. ${fix}`,
      `infra/ord.yaml:19:7: spec.sshKeys[4]: it is a 1024-bit RSA key, under 2048 bits. ${fix}`,
      `infra/ord.yaml:20:7: spec.sshKeys[5]: is not "<type> <base64> [comment]". ${fix}`,
      'infra/ord.yaml:22:7: spec.sshKeys[7]: is the same key as sshKeys[6]. Fix: list every key once',
    ],
  );
});

test('the field itself: a list of strings, not empty; and only where the platform installs keys', () => {
  assert.deepEqual(problems(spec('equinix-metal', '  sshKeys: ssh-ed25519 AAAA')), [
    'infra/ord.yaml:14:12: spec.sshKeys: must be a list, found the string "ssh-ed25519 AAAA". Fix: write the keys as a list: "- ssh-ed25519 AAAA... alice@laptop"',
  ]);
  assert.deepEqual(problems(spec('equinix-metal', '  sshKeys: []')), [
    "infra/ord.yaml:14:12: spec.sshKeys: is an empty list. Fix: remove the field (machines then get no key anyone holds) or list the operators' public keys",
  ]);
  assert.deepEqual(problems(spec('equinix-metal', '  sshKeys:', '    - 42')), [
    'infra/ord.yaml:15:7: spec.sshKeys[0]: must be a string, found the number 42. Fix: write each key as one line of its .pub file: "<type> <base64> [comment]", e.g. the output of "cat ~/.ssh/id_ed25519.pub"',
  ]);
  assert.deepEqual(problems(spec('lab', '  sshKeys:', `    - ${ed25519()}`)), [
    "infra/ord.yaml:10:3: spec.sshKeys: is for Equinix Metal clusters: the lab's machines run no SSH server (they are reached with nsenter on this host). Fix: remove spec.sshKeys from the lab spec",
  ]);
  // A near miss of the name is suggested, as for every field.
  assert.match(problems(spec('equinix-metal', '  sshKey:', `    - ${ed25519()}`))[0]!, /unknown field "sshKey". Fix: did you mean "sshKeys"\?/);
});
