/**
 * How a machine learns itself from a metadata service (lib/render/discovery.ts):
 * the discovery lines run by bash as the boot script runs them, curl stubbed
 * to answer a metadata document (and to record what it was asked), jq the
 * real one. What they set: the first public IPv6 address and its gateway,
 * the IPv6 BGP peers, and whether the peers get routes.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { metadataDiscovery } from '../../lib/render/discovery.js';
import { needProgram } from '../prerequisites.js';

const dir = mkdtempSync(join(tmpdir(), 'n6-discovery-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const URL = 'https://metadata.example/metadata';

/** A document in Equinix Metal's shape: an IPv4 and a private IPv6 address before the public IPv6 ones; IPv4 and IPv6 BGP neighbours. */
const DOCUMENT = {
  network: {
    addresses: [
      { address_family: 4, public: true, address: '198.51.100.11', gateway: '198.51.100.10' },
      { address_family: 6, public: false, address: 'fd00::3', gateway: 'fd00::2' },
      { address_family: 6, public: true, address: '2001:db8:2a00::3', gateway: '2001:db8:2a00::2' },
      { address_family: 6, public: true, address: '2001:db8:2a00::99', gateway: '2001:db8:2a00::98' },
    ],
  },
  bgp_neighbors: [
    { address_family: 4, peer_ips: ['169.254.255.1', '169.254.255.2'] },
    { address_family: 6, peer_ips: ['fc00::e', 'fc00::f'] },
  ],
};

/** The discovery's lines run by bash; what they set (routed: `unset` when they leave it alone), and curl's arguments. */
function discover(routePeers: boolean, document: unknown = DOCUMENT): { vars: Record<string, string>; curl: string; status: number | null } {
  needProgram('jq', 'apt-get install jq');
  writeFileSync(join(dir, 'metadata.json'), JSON.stringify(document));
  writeFileSync(join(dir, 'curl'), `#!/bin/sh\necho "$*" > '${dir}/curl-args'\ncat '${dir}/metadata.json'\n`);
  chmodSync(join(dir, 'curl'), 0o755);
  const script = ['set -euo pipefail', 'addr= gw= peers=', 'unset routed', ...metadataDiscovery(URL, { routePeers }).lines, 'echo "addr=$addr"', 'echo "gw=$gw"', 'echo "peers=$peers"', 'echo "routed=${routed-unset}"'].join('\n');
  const r = spawnSync('bash', ['-c', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: `${dir}:${process.env.PATH}` } });
  assert.equal(r.stderr, '');
  const vars = Object.fromEntries(r.stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  return { vars, curl: readFileSync(join(dir, 'curl-args'), 'utf8').trim(), status: r.status };
}

describe('discovery from a metadata service', () => {
  it('the first public IPv6 address and its gateway, the IPv6 peers; routes for the peers (Equinix Metal)', () => {
    const { vars, curl, status } = discover(true);
    assert.equal(status, 0);
    assert.deepEqual(vars, { addr: '2001:db8:2a00::3', gw: '2001:db8:2a00::2', peers: 'fc00::e fc00::f', routed: 'unset' });
    // Asked once, retried through a metadata service that is not up yet, failing on an HTTP error.
    assert.equal(curl, `-fsS --retry 20 --retry-delay 3 --retry-all-errors ${URL}`);
  });

  it('no routes for the peers where the platform reaches them already (the lab): routed set, empty', () => {
    const { vars } = discover(false);
    assert.deepEqual(vars, { addr: '2001:db8:2a00::3', gw: '2001:db8:2a00::2', peers: 'fc00::e fc00::f', routed: '' });
  });

  it('no public IPv6 address: addr and gw are "null" (which the boot script refuses); no IPv6 neighbour: no peers', () => {
    const { vars } = discover(true, { network: { addresses: [DOCUMENT.network.addresses[0], DOCUMENT.network.addresses[1]] }, bgp_neighbors: [DOCUMENT.bgp_neighbors[0]] });
    assert.deepEqual(vars, { addr: 'null', gw: 'null', peers: '', routed: 'unset' });
  });
});
