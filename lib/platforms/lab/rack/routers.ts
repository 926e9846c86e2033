/**
 * A rack lab's routers run the configuration the product renders for the
 * user's network team (clusters/<c>/routers/<router>.frr.conf), installed
 * as that folder's README says: the password put in where its placeholder
 * is (what `envsubst '${N6_BGP_PASSWORD}'` does), checked with `vtysh -C -f`,
 * then added with `vtysh -f` to the router's running configuration.
 *
 * What the router has before that, as a real router has it: its own BGP
 * instance (its AS, a router id) with its upstream session, the internet
 * namespace (AS 64999), which sends it a default and learns from it the
 * uplink's prefix and the cluster's routes. That part is the lab's, not
 * the rendered file's (the README leaves it to the network team), and it
 * is written here. The upstream's own configuration is here too.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Runner } from '../../../exec/run.js';
import { FRR_PASSWORD_VARIABLE } from '../../../render/routersModel.js';
import { ensureRouterDaemons, type DaemonResult } from '../provider/daemons.js';
import type { RouterConfig } from '../provider/frr.js';
import type { LabTopology } from '../topology.js';
import { rackRouters, type RackRouter } from './topology.js';

const lines = (xs: readonly string[]) => `${xs.join('\n')}\n`;

/** The router's own configuration, before the cluster's file: its BGP instance and its upstream session. */
export function rackRouterBase(t: LabTopology, router: RackRouter): RouterConfig {
  const uplink = t.rack!.uplinks.find((u) => u.name === router.lan.uplink)!;
  const up = router.uplink.peer;
  const bgpd = lines([
    `hostname ${router.ns}`,
    '!',
    '! The upstream sends a default; it gets the uplink and the cluster (what the nodes announced).',
    'ipv6 prefix-list N6-LAB-UPSTREAM-IN seq 5 permit ::/0',
    `ipv6 prefix-list N6-LAB-UPSTREAM-OUT seq 5 permit ${uplink.prefix}`,
    `ipv6 prefix-list N6-LAB-UPSTREAM-OUT seq 10 permit ${t.block} le 128`,
    '!',
    'route-map N6-LAB-UPSTREAM-IN permit 10',
    ' match ipv6 address prefix-list N6-LAB-UPSTREAM-IN',
    'exit',
    'route-map N6-LAB-UPSTREAM-OUT permit 10',
    ' match ipv6 address prefix-list N6-LAB-UPSTREAM-OUT',
    'exit',
    '!',
    `router bgp ${router.asn}`,
    ` bgp router-id ${router.routerId}`,
    ' no bgp default ipv4-unicast',
    ' bgp log-neighbor-changes',
    ` neighbor ${up} remote-as ${t.rack!.upstream.asn}`,
    ` neighbor ${up} description upstream (the lab's internet)`,
    ` neighbor ${up} timers connect 5`,
    ' !',
    ' address-family ipv6 unicast',
    `  network ${uplink.prefix}`,
    `  neighbor ${up} activate`,
    `  neighbor ${up} route-map N6-LAB-UPSTREAM-IN in`,
    `  neighbor ${up} route-map N6-LAB-UPSTREAM-OUT out`,
    ' exit-address-family',
    'exit',
    '!',
  ]);
  return { zebra: lines([`hostname ${router.ns}`, '!']), bgpd, bfdd: lines([`hostname ${router.ns}`, '!']) };
}

/**
 * The upstream (the internet namespace): a session with every router, a
 * default to each, and from them the uplinks' prefixes and the cluster's
 * routes (every path installed: ECMP over the routers and the nodes).
 * zebra gives the routes it installs the internet client's address as
 * their source, so that what the internet sends the cluster comes from it.
 */
export function upstreamConfig(t: LabTopology): RouterConfig {
  const rack = t.rack!;
  const routers = rackRouters(t);
  const zebra = lines([`hostname ${t.internet.ns}`, '!', 'route-map N6-LAB-SRC permit 10', ` set src ${t.internet.client}`, 'exit', '!', 'ipv6 protocol bgp route-map N6-LAB-SRC', '!']);
  const bgpd = lines([
    `hostname ${t.internet.ns}`,
    '!',
    ...rack.uplinks.map((u, i) => `ipv6 prefix-list N6-LAB-FROM-RACK seq ${5 + 5 * i} permit ${u.prefix}`),
    `ipv6 prefix-list N6-LAB-FROM-RACK seq ${5 + 5 * rack.uplinks.length} permit ${t.block} le 128`,
    '!',
    'route-map N6-LAB-FROM-RACK permit 10',
    ' match ipv6 address prefix-list N6-LAB-FROM-RACK',
    'exit',
    '! Only the default goes down (default-originate).',
    'route-map N6-LAB-TO-RACK deny 10',
    'exit',
    '!',
    `router bgp ${rack.upstream.asn}`,
    ` bgp router-id ${rack.upstream.routerId}`,
    ' no bgp default ipv4-unicast',
    ' bgp bestpath as-path multipath-relax',
    ' bgp log-neighbor-changes',
    ...routers.flatMap((r) => [` neighbor ${r.uplink.address} remote-as ${r.asn}`, ` neighbor ${r.uplink.address} description ${r.name}`, ` neighbor ${r.uplink.address} timers connect 5`]),
    ' !',
    ' address-family ipv6 unicast',
    '  maximum-paths 64',
    ...routers.flatMap((r) => [
      `  neighbor ${r.uplink.address} activate`,
      `  neighbor ${r.uplink.address} default-originate`,
      `  neighbor ${r.uplink.address} route-map N6-LAB-FROM-RACK in`,
      `  neighbor ${r.uplink.address} route-map N6-LAB-TO-RACK out`,
    ]),
    ' exit-address-family',
    'exit',
    '!',
  ]);
  return { zebra, bgpd, bfdd: lines([`hostname ${t.internet.ns}`, '!']) };
}

/** The rendered file with the password where its placeholder is: `envsubst '${N6_BGP_PASSWORD}'`, nothing else replaced. */
export function withPassword(rendered: string, password: string): string {
  if (/\s/.test(password) || password.length > 80) throw new Error('the BGP password must be at most 80 characters without spaces (FRR and Linux TCP MD5)');
  const placeholder = `\${${FRR_PASSWORD_VARIABLE}}`;
  if (!rendered.includes(placeholder)) throw new Error(`the router's configuration has no ${placeholder}: not a file rendered by native6`);
  return rendered.split(placeholder).join(password);
}

/** Where the rendered configuration of a router is in the repository. */
export function renderedRouterFile(repoRoot: string, cluster: string, router: string): string {
  return join(repoRoot, 'clusters', cluster, 'routers', `${router}.frr.conf`);
}

/**
 * Starts a router (its base: rackRouterBase) and adds the cluster's rendered
 * configuration to it as the README says (dry run first). The file applied
 * is kept root-only in `dir` with a digest: the same file is not applied twice.
 */
export async function ensureRackRouter(r: Runner, t: LabTopology, router: RackRouter, repoRoot: string, password: string, dir: string): Promise<DaemonResult & { applied: boolean }> {
  const daemons = await ensureRouterDaemons(r, router.ns, rackRouterBase(t, router), dir);
  const source = renderedRouterFile(repoRoot, t.cluster, router.name);
  if (!existsSync(source)) throw new Error(`${source} is missing: run npm run render (the rack lab's routers run the rendered configuration)`);
  const text = withPassword(readFileSync(source, 'utf8'), password);
  const file = join(dir, 'native6-cluster.conf');
  const stamp = join(dir, 'native6-cluster.applied');
  const digest = createHash('sha256').update(text).digest('hex');
  // A daemon (re)started has none of it: apply again.
  if (daemons.started.length === 0 && existsSync(stamp) && readFileSync(stamp, 'utf8') === digest) return { ...daemons, applied: false };
  writeFileSync(file, text, { mode: 0o600 });
  const dry = await r.run('vtysh', ['-N', router.ns, '-C', '-f', file], { allowFail: true });
  if (dry.code !== 0) throw new Error(`vtysh -C refuses ${source} on ${router.name}:\n${(dry.stdout + dry.stderr).trim().split('\n').slice(-10).join('\n')}`);
  const res = await r.run('vtysh', ['-N', router.ns, '-f', file], { allowFail: true });
  if (res.code !== 0) throw new Error(`vtysh -f ${source} failed on ${router.name}:\n${(res.stdout + res.stderr).trim().split('\n').slice(-10).join('\n')}`);
  writeFileSync(stamp, digest, { mode: 0o600 });
  return { ...daemons, applied: true };
}
