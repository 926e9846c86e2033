/**
 * filledFiles (lib/platforms/metal/platform.ts): what a metal machine gets
 * over SSH has the placeholders its boot script would fill in filled in
 * already, in the files it fills (the kubeadm configurations, the API's
 * bootstrap translation, the firewall's peers) and nowhere else: the
 * scripts name the placeholders to refuse a file that still holds one,
 * and must keep naming them. Found by the rack lab: with the firewall's
 * loader filled in too, its check matched the filled file and every boot
 * failed at "has no peers yet".
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { filledFiles, listedDiscovery } from '../../lib/platforms/metal/platform.js';
import { nodeBootstrap, type BootSecrets } from '../../lib/render/bootstrap.js';
import { API_BOOTSTRAP_FILE, FIREWALL_SCRIPT, KUBEADM_INIT_CONFIG, KUBEADM_JOIN_CONFIG, NODE_ADDRESS_PLACEHOLDER } from '../../lib/render/bootPaths.js';
import { HOST_FIREWALL_FILE, PEER_ELEMENTS_PLACEHOLDER } from '../../lib/render/hostFirewall.js';
import { loadSpecFile } from '../../lib/repo/workspace.js';
import { REPO_DIR } from '../../lib/toolchain/repo.js';

const secrets: BootSecrets = { bootstrapToken: 'abcdef.0123456789abcdef', certificateKey: 'c'.repeat(64), caCertPem: 'CA CERT\n', caKeyPem: 'CA KEY\n', caCertHash: `sha256:${'1'.repeat(64)}` };

test('metal: the placeholders filled in the files the boot script fills, every other file byte for byte', () => {
  const { spec, plan } = loadSpecFile(REPO_DIR, 'infra/colo.yaml').cluster!;
  const cp = plan.machines.find((m) => m.name === 'colo-a1')!;
  const files = nodeBootstrap(spec, plan, cp, secrets, listedDiscovery(spec, cp)).files;
  const filled = filledFiles(files, '2001:db8:7:a::11', ['2001:db8:7:a::2', '2001:db8:7:a::3']);
  const at = (path: string) => filled.find((f) => f.path === path)!.content;
  const touched = [HOST_FIREWALL_FILE, KUBEADM_INIT_CONFIG, KUBEADM_JOIN_CONFIG, API_BOOTSTRAP_FILE];
  for (const path of touched) {
    assert.ok(files.find((f) => f.path === path), `colo-a1 has ${path}`);
    assert.ok(!at(path).includes(NODE_ADDRESS_PLACEHOLDER) && !at(path).includes(PEER_ELEMENTS_PLACEHOLDER), `${path} filled`);
  }
  assert.match(at(HOST_FIREWALL_FILE), /elements = \{ 2001:db8:7:a::2, 2001:db8:7:a::3 \}/);
  assert.match(at(KUBEADM_INIT_CONFIG), /2001:db8:7:a::11/);
  for (const [i, f] of files.entries()) if (!touched.includes(f.path)) assert.equal(filled[i]!.content, f.content, `${f.path} unchanged`);
  assert.ok(at(FIREWALL_SCRIPT).includes(PEER_ELEMENTS_PLACEHOLDER), 'the loader still checks for the placeholder');

  // The loader's own check, run against the filled firewall file: it passes (and refuses the unfilled one).
  const dir = mkdtempSync(join(tmpdir(), 'n6-filled-'));
  try {
    const check = (firewall: string) => {
      writeFileSync(join(dir, 'fw.nft'), firewall);
      const script = at(FIREWALL_SCRIPT).split(HOST_FIREWALL_FILE).join(join(dir, 'fw.nft')).replace(/^exec nft .*$/m, 'echo loaded');
      return spawnSync('sh', ['-c', script], { encoding: 'utf8' });
    };
    assert.equal(check(at(HOST_FIREWALL_FILE)).stdout.trim(), 'loaded');
    const refused = check(files.find((f) => f.path === HOST_FIREWALL_FILE)!.content);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /has no peers yet/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
