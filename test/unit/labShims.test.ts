/**
 * The lab's programs that stand in for what would reach the host's kernel
 * or a container runtime (lib/platforms/lab/programs/sbin): what they
 * refuse, they refuse before anything runs, with the reason. Only the
 * refusing paths and the printed configuration are run here: nothing
 * touches the host.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_DIR } from '../../lib/toolchain/repo.js';

const SBIN = join(REPO_DIR, 'lib/platforms/lab/programs/sbin');
const run = (program: string, ...args: string[]) => spawnSync(join(SBIN, program), args, { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });

test('sysctl keeps to the network namespace: a kernel-wide key is refused, naming it', () => {
  // Each with the host's own value: should the shim ever pass one through, the host is left as it was.
  const current = (path: string) => readFileSync(`/proc/sys/${path}`, 'utf8').trim();
  for (const key of [`kernel.pid_max=${current('kernel/pid_max')}`, `vm.swappiness=${current('vm/swappiness')}`, `fs/inotify/max_user_watches=${current('fs/inotify/max_user_watches')}`]) {
    const res = run('sysctl', '-w', key);
    assert.equal(res.status, 1, key);
    assert.match(res.stderr, new RegExp(`'${key.replace(/[.*/]/g, '\\$&')}' is not a key of the network namespace \\(net\\.\\*\\)`));
  }
});

test('modprobe and swapoff do only what the bootstrap asks, and say why it is not done', () => {
  assert.equal(run('modprobe', 'overlay').status, 0);
  assert.match(run('modprobe', 'overlay').stderr, /the lab runs no containers/);
  assert.equal(run('modprobe', 'br_netfilter').status, 1);
  assert.equal(run('swapoff', '-a').status, 0);
  assert.match(run('swapoff', '-a').stderr, /swap is the host's/);
  assert.equal(run('swapoff', '/swapfile').status, 1);
});

test("containerd prints the part of its default configuration the bootstrap edits, and refuses the rest", () => {
  const res = run('containerd', 'config', 'default');
  assert.equal(res.status, 0);
  assert.match(res.stdout, /^ {6}SystemdCgroup = false$/m);
  assert.match(res.stdout, /^ {4}sandbox_image = "registry\.k8s\.io\/pause:3\.8"$/m);
  assert.equal(run('containerd').status, 1);
});

test('systemctl: a unit the machine does not have is not found; a verb it does not know is refused', () => {
  const missing = run('systemctl', 'start', 'nginx.service');
  assert.equal(missing.status, 4);
  assert.match(missing.stderr, /Unit nginx\.service could not be found\./);
  const verb = run('systemctl', 'isolate', 'swap.target');
  assert.equal(verb.status, 1);
  assert.match(verb.stderr, /'isolate swap\.target' is not supported/);
  assert.equal(run('systemctl', 'daemon-reload').status, 0);
});
