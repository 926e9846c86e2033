/**
 * The Pulumi program on Equinix Metal, under Pulumi's mocks: every resource
 * it registers, the user-data of each machine, a BGP session per device,
 * IPv6 everywhere, secrets kept secret, and the outputs apply reads.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import * as pulumi from '@pulumi/pulumi';
import { parse } from 'yaml';
import { metalMocks, runDfwProgram, SECRET_SIG, valueOf, type Called, type Registered } from '../pulumi-mocks.js';
import { ADMIN_DAYS, ADMIN_RENEW_DAYS, adminRenewal, generateClusterSecrets, signAdmin } from '../../lib/pki/clusterSecrets.js';
import { decodeFacts } from '../../lib/plan/facts.js';
import { CA_CERT, JOIN_DISCOVERY_TIMEOUT, KUBEADM_INIT_CONFIG, KUBEADM_JOIN_CONFIG, NODE_ADDRESS_PLACEHOLDER } from '../../lib/render/bootstrap.js';
import { formatAddress } from '../../lib/net/ipv6.js';
import { loadSpecFile } from '../../lib/repo/workspace.js';
import { REPO_DIR } from '../../lib/toolchain/repo.js';

const root = REPO_DIR;
const registered: Registered[] = [];
const calls: Called[] = [];

/** Pulumi's wire form of a secret input: the value, after checking it is marked secret. */
function secretValue(v: unknown, what: string): string {
  return String(secretObject(v, what));
}
function secretObject(v: unknown, what: string): unknown {
  assert.ok(typeof v === 'object' && v !== null && SECRET_SIG in v, `${what} must be a secret`);
  return (v as unknown as { value: unknown }).value;
}

let outputs: Record<string, pulumi.Output<unknown>> = {};
const secretOf = (o: unknown) => pulumi.isSecret(o as pulumi.Output<unknown>);

describe('Pulumi program: Equinix Metal (mocks)', () => {
  before(async () => {
    outputs = await runDfwProgram(root, metalMocks({ root, registered, calls, block: '2001:db8:2a00::/56', deviceNet: '2001:db8:2a00:f::/64', privateIpv4: true, md5Password: 'secret-from-the-provider' }));
  });
  after(() => {
    registered.length = 0;
  });

  const spec = loadSpecFile(root, 'infra/dfw.yaml', { ignoreFacts: true }).cluster!;
  const devices = () => registered.filter((r) => r.type === 'equinix-metal:index/device:Device');

  it('registers the project with local BGP, the SSH key, a device and an IPv6 BGP session per machine, the API record, nothing else', () => {
    const types = registered.map((r) => r.type).sort();
    const count = (t: string) => types.filter((x) => x === t).length;
    const machines = spec.plan.machines.length;
    assert.equal(machines, 6);
    assert.equal(count('equinix-metal:index/project:Project'), 1);
    assert.equal(count('equinix-metal:index/projectSshKey:ProjectSshKey'), 1);
    assert.equal(count('equinix-metal:index/device:Device'), machines);
    assert.equal(count('equinix-metal:index/bgpSession:BgpSession'), machines);
    assert.equal(count('native6:equinix-metal:Cluster'), 1);
    assert.equal(count('pulumi-nodejs:dynamic/native6-secrets:Resource'), 1);
    assert.equal(count('digitalocean:index/dnsRecord:DnsRecord'), 1);
    assert.equal(count('pulumi-nodejs:dynamic/native6-admin:Resource'), 1);
    assert.equal(types.length, 6 + 2 * machines);
    // The admin credential is signed by the cluster's CA, whose key reaches it as a secret.
    const admin = registered.find((r) => r.type === 'pulumi-nodejs:dynamic/native6-admin:Resource')!;
    secretValue(admin.inputs.caKeyPem, 'the admin credential\'s CA key');
    // infra/dfw.yaml names a zone: the API endpoint's AAAA record points at the API ClusterIP.
    const record = registered.find((r) => r.type === 'digitalocean:index/dnsRecord:DnsRecord')!;
    assert.deepEqual({ ...record.inputs }, { domain: 'example.com', type: 'AAAA', name: 'api.dfw', value: formatAddress(spec.plan.apiServer), ttl: 300 });
    const project = registered.find((r) => r.type === 'equinix-metal:index/project:Project')!;
    // The password makes the whole BGP config secret.
    const bgp = secretObject(project.inputs.bgpConfig, 'bgpConfig') as Record<string, unknown>;
    assert.equal(bgp.asn, 65000);
    assert.equal(bgp.deploymentType, 'local');
    assert.match(String(bgp.md5), /^[A-Za-z0-9]{20}$/);
    const key = registered.find((r) => r.type === 'equinix-metal:index/projectSshKey:ProjectSshKey')!;
    assert.match(String(key.inputs.publicKey), /^ecdsa-sha2-nistp256 [A-Za-z0-9+/=]+ /);
  });

  it('gives every device the spec\'s plan and metro, a public IPv6 /127, and a public IPv4 /31 for NAT64 egress only', () => {
    for (const m of spec.plan.machines) {
      const d = devices().find((r) => r.inputs.hostname === m.name);
      assert.ok(d, `no device for ${m.name}`);
      assert.equal(d.inputs.plan, m.role === 'control-plane' ? 'c3.small.x86' : 'm3.small.x86');
      assert.equal(d.inputs.metro, 'da');
      assert.equal(d.inputs.operatingSystem, 'ubuntu_24_04');
      const ips = d.inputs.ipAddresses as Array<{ type: string; cidr: number }>;
      assert.deepEqual(ips.find((i) => i.type === 'public_ipv6'), { type: 'public_ipv6', cidr: 127 });
      // dfw reaches IPv4 through NAT64 (Equinix Metal's default): a public IPv4 /31 for egress, tagged so.
      assert.deepEqual(ips.find((i) => i.type === 'public_ipv4'), { type: 'public_ipv4', cidr: 31 });
      assert.ok((d.inputs.tags as string[]).includes('ipv4:egress-only'));
      // A control plane's IPv4 is also the API's door (an IPv4-only runner's apply); a worker's is not.
      assert.equal((d.inputs.tags as string[]).includes('ipv4:api-door'), m.role === 'control-plane', m.name);
    }
  });

  it('opens one IPv6 BGP session per device, and no IPv4 session', () => {
    const sessions = registered.filter((r) => r.type === 'equinix-metal:index/bgpSession:BgpSession');
    const ids = sessions.map((s) => s.inputs.deviceId).sort();
    assert.deepEqual(ids, devices().map((d) => `${d.name}-id`).sort());
    for (const s of sessions) assert.equal(s.inputs.addressFamily, 'ipv6');
  });

  it('boots the first control plane into kubeadm init and the others into joins that pin the CA', async () => {
    const secrets = registered.find((r) => r.type === 'pulumi-nodejs:dynamic/native6-secrets:Resource')!;
    assert.ok(secrets);
    const hashes = new Set<string>();
    for (const d of devices()) {
      const text = secretValue(d.inputs.userData, `${d.name}.userData`);
      assert.ok(text.startsWith('#cloud-config\n'), `${d.name}: not a cloud-config`);
      const config = parse(text) as { hostname: string; write_files: Array<{ path: string; content: string; permissions: string }> };
      assert.equal(config.hostname, d.inputs.hostname);
      const first = d.inputs.hostname === 'dfw-cp-1';
      const kubeadm = config.write_files.find((f) => f.path === (first ? KUBEADM_INIT_CONFIG : KUBEADM_JOIN_CONFIG))!;
      assert.equal(kubeadm.permissions, '0600');
      const boot = config.write_files.find((f) => f.path === '/usr/local/sbin/native6-boot')!.content;
      assert.match(boot, /kubelet="1\.35\.4-\*"/);
      assert.match(boot, /pkgs\.k8s\.io\/core:\/stable:\/v1\.35\/deb/);
      assert.ok(kubeadm.content.includes(NODE_ADDRESS_PLACEHOLDER), 'the node address comes from the metadata at boot');
      const docs = kubeadm.content.split(/^---\n/m).filter(Boolean).map((x) => parse(x) as Record<string, unknown>);
      if (first) {
        assert.equal(docs[0]!.kind, 'InitConfiguration');
        assert.match(boot, /kubeadm init --config/);
        assert.ok(config.write_files.some((f) => f.path === '/etc/native6/pki/ca.key' && f.permissions === '0600'));
        assert.ok(config.write_files.some((f) => f.path === '/etc/native6/api-bootstrap.nft'));
      } else {
        const join = docs[0] as { kind: string; discovery: { bootstrapToken: { apiServerEndpoint: string; caCertHashes: string[] } }; controlPlane?: unknown; timeouts?: { discovery: string } };
        assert.equal(join.kind, 'JoinConfiguration');
        assert.equal(join.discovery.bootstrapToken.apiServerEndpoint, `[${formatAddress(spec.plan.apiServer)}]:443`);
        assert.equal(join.timeouts?.discovery, JOIN_DISCOVERY_TIMEOUT);
        hashes.add(join.discovery.bootstrapToken.caCertHashes[0]!);
        assert.equal(join.controlPlane !== undefined, String(d.inputs.hostname).includes('-cp-'));
        assert.ok(!config.write_files.some((f) => f.path.endsWith('ca.key')), `${d.name} must not get the CA key`);
        assert.match(boot, /kubeadm join --config/);
      }
    }
    assert.equal(hashes.size, 1, 'every join pins the same CA');
    // The pinned hash is the CA's that the first control plane boots with.
    const cp1 = parse(secretValue(devices().find((d) => d.inputs.hostname === 'dfw-cp-1')!.inputs.userData, 'userData')) as { write_files: Array<{ path: string; content: string }> };
    const ca = cp1.write_files.find((f) => f.path === CA_CERT)!.content;
    const { caCertHash } = await import('../../lib/pki/x509.js');
    assert.equal(caCertHash(ca), [...hashes][0]);
  });

  it('exports the provider facts apply records (no passwords) and they pass the facts check', async () => {
    const facts = await valueOf<Record<string, unknown>>(outputs.facts);
    const text = JSON.stringify(facts);
    assert.ok(!text.includes('secret-from-the-provider'), 'the provider\'s MD5 password must not reach the facts');
    const decoded = decodeFacts('clusters/dfw/provider-facts.json', text);
    assert.ok(decoded.ok, JSON.stringify(decoded));
    assert.equal(decoded.facts.devices.length, 6);
    assert.deepEqual(decoded.facts.devices[0]!.bgp_neighbors[0]!.peer_ips, ['fc00::e', 'fc00::f']);
    assert.equal(calls.filter((c) => c.token.endsWith('getDeviceBgpNeighbors')).length, 6);
    // The block is the provider's (asked once the first device exists), not copied from the spec.
    assert.equal(decoded.facts.reservedBlock, '2001:db8:2a00::/56');
    const asked = calls.filter((c) => c.token.endsWith('getPrecreatedIpBlock'));
    assert.equal(asked.length, 1);
    assert.deepEqual({ ...asked[0]!.inputs }, { projectId: 'dfw-project-id', metro: 'da', addressFamily: 6, public: true });
  });

  it('keeps the kubeconfigs and the BGP password secret; the kubeconfig reaches the API ClusterIP with a certificate of the CA', async () => {
    assert.equal(await secretOf(outputs.kubeconfig), true);
    assert.equal(await secretOf(outputs.bootstrapKubeconfig), true);
    assert.equal(await secretOf(outputs.bgpPassword), true);
    assert.equal(await secretOf(outputs.joinToken), true);
    assert.equal(await secretOf(outputs.controlPlaneKeys), true);
    assert.equal(await secretOf(outputs.facts), false);
    // What apply hands to joining control planes: the keys the first control plane boots with.
    const cp = await valueOf<{ certificateKey: string; keys: Record<string, string> }>(outputs.controlPlaneKeys);
    assert.match(cp.certificateKey, /^[0-9a-f]{64}$/);
    const cp1 = parse(secretValue(devices().find((d) => d.inputs.hostname === 'dfw-cp-1')!.inputs.userData, 'userData')) as { write_files: Array<{ path: string; content: string; permissions: string }> };
    for (const [field, file] of [['frontProxyCaKeyPem', 'front-proxy-ca.key'], ['etcdCaKeyPem', 'etcd/ca.key'], ['saKeyPem', 'sa.key'], ['saPubPem', 'sa.pub'], ['caKeyPem', 'ca.key']] as const) {
      const f = cp1.write_files.find((w) => w.path === `/etc/native6/pki/${file}`);
      assert.equal(f?.content, cp.keys[field], file);
      assert.equal(f?.permissions, file.endsWith('.key') ? '0600' : '0644', file);
    }
    const kc = parse(await valueOf<string>(outputs.kubeconfig)) as {
      clusters: Array<{ cluster: { server: string; 'certificate-authority-data': string } }>;
      users: Array<{ user: { 'client-certificate-data': string } }>;
    };
    assert.equal(kc.clusters[0]!.cluster.server, `https://[${formatAddress(spec.plan.apiServer)}]:443`);
    const ca = new X509Certificate(Buffer.from(kc.clusters[0]!.cluster['certificate-authority-data'], 'base64'));
    const client = new X509Certificate(Buffer.from(kc.users[0]!.user['client-certificate-data'], 'base64'));
    assert.ok(client.verify(ca.publicKey));
    assert.match(client.subject, /O=kubeadm:cluster-admins/);
    const boot = parse(await valueOf<string>(outputs.bootstrapKubeconfig)) as { clusters: Array<{ cluster: { server: string } }> };
    assert.equal(boot.clusters[0]!.cluster.server, 'https://[2001:db8:2a00:f::3]:443');
    assert.equal(outputs.apiEndpointName as unknown, 'api.dfw.example.com');
  });
});

describe('the admin credential renews itself', () => {
  const now = new Date('2027-01-01T00:00:00Z');
  const { caCertPem, caKeyPem } = generateClusterSecrets('dfw', now);

  it('is valid for a year and signed by the CA', () => {
    const a = signAdmin('dfw', caCertPem, caKeyPem, now);
    const cert = new X509Certificate(a.certPem);
    assert.ok(cert.verify(new X509Certificate(caCertPem).publicKey));
    assert.equal(Math.round((Date.parse(a.notAfter) - now.getTime()) / 86_400_000), ADMIN_DAYS);
    assert.equal(new Date(cert.validTo).toISOString(), a.notAfter);
  });

  it('is replaced by an apply within the renewal window or after a CA change, and only then', () => {
    const a = signAdmin('dfw', caCertPem, caKeyPem, now);
    const olds = { caCertPem, notAfter: a.notAfter };
    assert.deepEqual(adminRenewal(olds, { caCertPem }, now), []);
    const day = 86_400_000;
    const justBefore = new Date(Date.parse(a.notAfter) - (ADMIN_RENEW_DAYS + 1) * day);
    assert.deepEqual(adminRenewal(olds, { caCertPem }, justBefore), []);
    const inWindow = new Date(Date.parse(a.notAfter) - (ADMIN_RENEW_DAYS - 1) * day);
    assert.deepEqual(adminRenewal(olds, { caCertPem }, inWindow), ['notAfter']);
    assert.deepEqual(adminRenewal(olds, { caCertPem: 'another CA' }, now), ['caCertPem']);
    assert.deepEqual(adminRenewal({ caCertPem }, { caCertPem }, now), ['notAfter'], 'no recorded end: renew');
  });
});
