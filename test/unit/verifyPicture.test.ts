/**
 * What the lab's verify puts in its picture (fabricPicture in
 * lib/platforms/lab/verify/verify.ts), read from routers faked by a runner:
 * the egress path from the plan's NAT64 prefix and each machine's IPv4 as
 * the lab numbers it, absent without NAT64; and the picture fixture the
 * picture tests draw (test/fixtures/fabric/lab.json) holds the same egress
 * as verify fills for infra/lab.yaml.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Runner } from '../../lib/exec/run.js';
import { loadCluster } from '../../lib/platforms/load.js';
import type { LabContext } from '../../lib/platforms/lab/lab.js';
import { labTopology } from '../../lib/platforms/lab/topology.js';
import { fabricPicture } from '../../lib/platforms/lab/verify/verify.js';
import type { AddressPlan } from '../../lib/plan/addressPlan.js';
import type { FabricPicture } from '../../lib/report/topology.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The lab of infra/lab.yaml, its routers answering with every session Established and no routes. */
function labContext(change: (plan: AddressPlan) => AddressPlan = (p) => p): LabContext {
  const loaded = loadCluster('infra/lab.yaml', readFileSync(join(ROOT, 'infra', 'lab.yaml'), 'utf8'));
  if (!loaded.ok) assert.fail(`infra/lab.yaml does not load: ${loaded.problems.map((p) => `${p.field}: ${p.message}`).join('; ')}`);
  const plan = change(loaded.plan);
  const topology = labTopology(loaded.spec, plan);
  const runner: Runner = {
    run: async (command) => {
      if (command === 'vtysh') {
        const peers = Object.fromEntries(topology.machines.map((m) => [m.address, { state: 'Established' }]));
        return { code: 0, stdout: JSON.stringify({ peers }), stderr: '' };
      }
      if (command === 'ip') return { code: 0, stdout: '[]', stderr: '' };
      throw new Error(`unexpected command ${command}`);
    },
  };
  return { cluster: { ...loaded, plan }, topology, runner } as unknown as LabContext;
}

test("verify's picture: the egress path, the plan's NAT64 prefix and each machine's own IPv4 (the lab fixture's)", async () => {
  const picture = await fabricPicture(labContext());
  assert.deepEqual(picture.egress, {
    nat64: '2001:db8:100:4::/96',
    internetV4: '192.0.2.0/24',
    machines: [
      { name: 'lab-cp-1', ipv4: '198.51.100.1' },
      { name: 'lab-cp-2', ipv4: '198.51.100.3' },
      { name: 'lab-cp-3', ipv4: '198.51.100.5' },
      { name: 'lab-general-1', ipv4: '198.51.100.7' },
      { name: 'lab-general-2', ipv4: '198.51.100.9' },
    ],
  });
  const fixture = JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', 'fabric', 'lab.json'), 'utf8')) as FabricPicture;
  assert.deepEqual(picture.egress, fixture.egress, 'test/fixtures/fabric/lab.json: its egress is what verify fills for infra/lab.yaml');
  assert.deepEqual(picture.machines, fixture.machines);
  assert.deepEqual(
    picture.routers.map((r) => r.sessions),
    picture.routers.map(() => picture.machines.map((m) => m.name)),
  );
});

test("verify's picture: no egress without a NAT64 prefix", async () => {
  const picture = await fabricPicture(labContext(({ nat64: _, ...plan }) => plan));
  assert.equal('egress' in picture, false);
  assert.equal(picture.machines.length, 5);
});
