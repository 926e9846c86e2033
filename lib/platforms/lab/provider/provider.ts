/**
 * The lab's emulated provider: addresses the provider side of the lab uses
 * (routers, the internet behind them). All of it is documentation space
 * (RFC 3849) and disjoint from any cluster block a lab spec may hold.
 */
import { parseAddress, parsePrefix, type Prefix } from '../../../net/ipv6.js';

/** Everything the emulated provider numbers itself from. */
export const LAB_PROVIDER_RANGE: Prefix = parsePrefix('2001:db8:ffff::/48');

/**
 * The routers' BGP addresses, the lab's stand-ins for Equinix Metal's
 * multihop peers fc00::e and fc00::f: reached through each device's gateway.
 */
export const LAB_ROUTER_PEERS: readonly bigint[] = [parseAddress('2001:db8:ffff::e'), parseAddress('2001:db8:ffff::f')];

/** The internet namespace behind the routers. */
export const LAB_INTERNET: Prefix = parsePrefix('2001:db8:ffff:1::/64');

/** The repository Flux reconciles from in the lab: the lab's git server, in the internet namespace. */
export const LAB_GIT_URL = 'http://[2001:db8:ffff:1::2]/native6.git';
