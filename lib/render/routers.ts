/**
 * The routers' side of a metal cluster's BGP, rendered for the network team:
 * for every router above an uplink, its FRR configuration and its BIRD 2
 * configuration, and a README saying how to apply them and where the MD5
 * password goes. Pure and deterministic.
 *
 * What every router does, in both daemons:
 *   - one eBGP session per machine on its uplink (remote AS: the cluster's
 *     spec.network.localASN; local AS: the router's own), IPv6 unicast only;
 *   - BFD on the sessions when the router sets it, and BGP's own timers
 *     always (router.timers);
 *   - accepts from the nodes exactly the cluster's ranges, with the prefix
 *     lengths Calico announces (acceptedRanges), nothing else: never a
 *     node's own address, never a default;
 *   - sends the nodes only ::/0, and only while the router itself has one
 *     (FRR: a conditional default-originate; BIRD: its own best ::/0);
 *   - installs every node's path to the Service ranges (ECMP: multipathLimit);
 *   - MD5 password by reference only: the rendered files go into git.
 */
import type { ClusterSpec } from '../cluster/cluster.js';
import type { AddressPlan } from '../plan/addressPlan.js';
import { renderFrr } from './routersFrr.js';
import { renderBird } from './routersBird.js';
import { routersReadme } from './routersReadme.js';
import { ROUTERS_DIR, routerSites, type RouterFile } from './routersModel.js';

export { acceptedRanges, multipathLimit, routerSites, ROUTERS_DIR, type AcceptedRange, type RouterFile, type RouterSite } from './routersModel.js';

/**
 * The routers' configuration of a metal cluster, paths relative to the
 * cluster's folder: routers/<router>.frr.conf and routers/<router>.bird.conf
 * for every router (uplinks and routers in the spec's order), then
 * routers/README.md. No file holds a password: FRR's has a placeholder the
 * install substitutes, BIRD's includes a root-only file (see the README).
 * Throws when the spec has no inventory or its block is not known yet.
 */
export function renderRouterConfigs(spec: ClusterSpec, plan: AddressPlan): RouterFile[] {
  const sites = routerSites(spec, plan);
  const files: RouterFile[] = [];
  for (const site of sites) {
    files.push({ path: `${ROUTERS_DIR}/${site.router.name}.frr.conf`, content: renderFrr(site) });
    files.push({ path: `${ROUTERS_DIR}/${site.router.name}.bird.conf`, content: renderBird(site) });
  }
  files.push({ path: `${ROUTERS_DIR}/README.md`, content: routersReadme(spec, sites) });
  return files;
}

