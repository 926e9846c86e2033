/**
 * The machines' own firewall (lib/render/hostFirewall.ts), shown with
 * packets: the ruleset rendered for infra/lab.yaml, its BGP peer filled in
 * as the bootstrap does, loaded by the real nft into a machine's network
 * namespace; from a second namespace on the same link, connections come
 * from an address of the internet, one of the cluster's block and the BGP
 * peer, and from an IPv4 address of the internet to the machine's IPv4, to
 * listeners on the machine's SSH, BGP, API, etcd, kubelet and a NodePort. Before the firewall every port answers (the probe can tell);
 * with it, only what the firewall names. Documentation addresses only; both
 * namespaces and every process are removed in `finally`.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { test } from 'node:test';
import { hostFirewall, peerElements, PEER_ELEMENTS_PLACEHOLDER } from '../../lib/render/hostFirewall.js';
import { loadSpecFile } from '../../lib/repo/workspace.js';
import { REPO_DIR } from '../../lib/toolchain/repo.js';
import { needRoot } from '../prerequisites.js';

const NODE = 'n6-fwt-node';
const OUT = 'n6-fwt-out';
const MACHINE = '2001:db8:100::3';
/** The machine's public IPv4 (for egress, and the API's door) and an IPv4 client of the internet. */
const MACHINE_V4 = '198.51.100.3';
const FROM_V4 = '203.0.113.1';
const FROM = { internet: '2001:db8:ffff:1::1', cluster: '2001:db8:100::9', peer: '2001:db8:ffff::e', internetV4: FROM_V4 } as const;
const PORTS = { ssh: 22, bgp: 179, api: 443, etcd: 2379, kubelet: 10250, nodePort: 30080 } as const;

function ip(...args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
}

/** open (answered), refused (a reset) or dropped (no answer in 1.5 s), for a connection from `from` to the machine's `port`. */
function probe(from: string, port: number): string {
  const host = from.includes(':') ? MACHINE : MACHINE_V4;
  const code = `const s=require('net').connect({host:'${host}',port:${port},localAddress:'${from}',timeout:1500});s.on('connect',()=>{console.log('open');s.destroy()});s.on('timeout',()=>{console.log('dropped');s.destroy()});s.on('error',(e)=>console.log(e.code==='ECONNREFUSED'?'refused':e.code))`;
  return spawnSync('ip', ['netns', 'exec', OUT, process.execPath, '-e', code], { encoding: 'utf8', timeout: 10_000 }).stdout.trim();
}

function matrix(): Record<string, Record<string, string>> {
  return Object.fromEntries(Object.entries(FROM).map(([who, from]) => [who, Object.fromEntries(Object.entries(PORTS).map(([what, port]) => [what, probe(from, port)]))]));
}

test("the machine's firewall lets in only what it names, from whom it names", () => {
  needRoot();
  const { spec, plan } = loadSpecFile(REPO_DIR, 'infra/lab.yaml').cluster!;
  let listener: ChildProcess | undefined;
  try {
    ip('netns', 'add', NODE);
    ip('netns', 'add', OUT);
    ip('link', 'add', 'n6fwt0', 'netns', NODE, 'type', 'veth', 'peer', 'name', 'n6fwt1', 'netns', OUT);
    ip('-n', NODE, 'link', 'set', 'lo', 'up');
    ip('-n', OUT, 'link', 'set', 'lo', 'up');
    ip('-n', NODE, 'addr', 'add', `${MACHINE}/32`, 'dev', 'n6fwt0', 'nodad');
    ip('-n', NODE, 'addr', 'add', `${MACHINE_V4}/32`, 'dev', 'n6fwt0');
    for (const a of Object.values(FROM)) ip('-n', OUT, 'addr', 'add', `${a}/32`, 'dev', 'n6fwt1', ...(a.includes(':') ? ['nodad'] : []));
    ip('-n', NODE, 'link', 'set', 'n6fwt0', 'up');
    ip('-n', OUT, 'link', 'set', 'n6fwt1', 'up');
    ip('-n', NODE, 'route', 'add', `${FROM_V4}/32`, 'dev', 'n6fwt0');
    ip('-n', OUT, 'route', 'add', `${MACHINE_V4}/32`, 'dev', 'n6fwt1');
    const listen = `const n=require('net');for(const p of [${Object.values(PORTS).join(',')}])n.createServer((c)=>c.end()).listen(p,'::');console.log('listening')`;
    listener = spawn('ip', ['netns', 'exec', NODE, process.execPath, '-e', listen], { stdio: ['ignore', 'pipe', 'inherit'] });
    const started = Date.now();
    while (probe(FROM.internet, PORTS.ssh) !== 'open') if (Date.now() - started > 10_000) assert.fail('the listeners did not start');

    // Without a firewall, everything answers: the probe tells open from dropped.
    for (const row of Object.values(matrix())) for (const v of Object.values(row)) assert.equal(v, 'open');

    const ruleset = hostFirewall(spec, plan).replace(PEER_ELEMENTS_PLACEHOLDER, peerElements([FROM.peer]));
    const load = spawnSync('ip', ['netns', 'exec', NODE, 'nft', '-f', '-'], { input: ruleset, encoding: 'utf8' });
    assert.equal(load.status, 0, load.stderr);
    assert.deepEqual(matrix(), {
      internet: { ssh: 'dropped', bgp: 'dropped', api: 'open', etcd: 'dropped', kubelet: 'dropped', nodePort: 'dropped' },
      cluster: { ssh: 'open', bgp: 'dropped', api: 'open', etcd: 'open', kubelet: 'open', nodePort: 'dropped' },
      peer: { ssh: 'dropped', bgp: 'open', api: 'open', etcd: 'dropped', kubelet: 'dropped', nodePort: 'dropped' },
      // Over IPv4 the API alone: the door of IPv4-only clients (a GitHub-hosted runner's apply).
      internetV4: { ssh: 'dropped', bgp: 'dropped', api: 'open', etcd: 'dropped', kubelet: 'dropped', nodePort: 'dropped' },
    });
    // ICMPv6 still passes (neighbour discovery did, or nothing above would): ping from the internet.
    const ping = spawnSync('ip', ['netns', 'exec', OUT, 'ping', '-6', '-c', '1', '-W', '2', '-I', FROM.internet, MACHINE], { encoding: 'utf8' });
    assert.equal(ping.status, 0, ping.stdout + ping.stderr);
  } finally {
    listener?.kill('SIGKILL');
    spawnSync('ip', ['netns', 'pids', NODE], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).forEach((pid) => spawnSync('kill', ['-9', pid]));
    spawnSync('ip', ['netns', 'del', NODE]);
    spawnSync('ip', ['netns', 'del', OUT]);
  }
});
