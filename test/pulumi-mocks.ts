/** The Pulumi program run under Pulumi's mocks, as the unit tests of the Equinix Metal program do (one stack per process). */
import * as pulumi from '@pulumi/pulumi';
import { clusterProgram } from '../lib/pulumi/program.js';
import { formatAddress, netmask, parsePrefix } from '../lib/net/ipv6.js';
import { generateClusterSecrets, signAdmin } from '../lib/pki/clusterSecrets.js';
import { loadSpecFile } from '../lib/repo/workspace.js';

/** The spec file the tests run, in `root`. */
const SPEC_FILE = 'infra/dfw.yaml';

/** The value of an Output, once resolved. */
export const valueOf = <T>(o: unknown) => new Promise<T>((resolve) => (o as pulumi.Output<T>).apply((v) => resolve(v)));

/** Runs the cluster program for infra/dfw.yaml of `root` under `mocks` (project native6, stack dfw), and lets every apply of its facts and kubeconfig run. */
export async function runDfwProgram(root: string, mocks: pulumi.runtime.Mocks): Promise<Record<string, pulumi.Output<unknown>>> {
  await pulumi.runtime.setMocks(mocks, 'native6', 'dfw', false);
  const outputs = (await clusterProgram({ repoRoot: root, specFile: SPEC_FILE })()) as Record<string, pulumi.Output<unknown>>;
  await valueOf(outputs.facts);
  await valueOf(outputs.kubeconfig);
  return outputs;
}

/** A resource the program registered, with its inputs (Pulumi's wire form: a secret is an object marked with SECRET_SIG). */
export interface Registered {
  readonly type: string;
  readonly name: string;
  readonly inputs: Record<string, unknown>;
}

/** A provider function the program called. */
export interface Called {
  readonly token: string;
  readonly inputs: Record<string, unknown>;
}

/** Pulumi's mark on a secret in the wire form of inputs. */
export const SECRET_SIG = '4dabf18193072939515e22adb298388d';
/** An input's value: a secret's, unwrapped, or the input itself. */
export const plain = (v: unknown) => (typeof v === 'object' && v !== null && SECRET_SIG in v ? (v as unknown as { value: unknown }).value : v);

export interface MetalMocksOptions {
  /** Where infra/dfw.yaml is: a device is numbered by its machine's position in that spec's plan (its hostname), from 1. */
  readonly root: string;
  /** Every resource registered is pushed here, in Pulumi's order. */
  readonly registered: Registered[];
  /** Every call is pushed here, when given. */
  readonly calls?: Called[];
  /** The project's public IPv6 block the provider answers getPrecreatedIpBlock with, e.g. 2001:db8:2a00::/56. */
  readonly block: string;
  /** The net inside the block the devices' /127s are numbered in: device n has ::2n+1, its gateway ::2n. */
  readonly deviceNet: string;
  /** Each device also has a private IPv4 /31 (10.0.0.2n+1), as Equinix Metal gives. */
  readonly privateIpv4?: boolean;
  /** The MD5 password the provider shows in each BGP neighbour, when given. */
  readonly md5Password?: string;
}

/**
 * Pulumi's mocks for the Equinix Metal program: a device's state is its
 * inputs and a public IPv6 /127 out of `deviceNet`, numbered by its
 * machine's position in the plan (not by Pulumi's order of registration,
 * which the inputs' resolution decides); getDeviceBgpNeighbors answers
 * from the same numbering (two multihop peers, the block routed in);
 * getPrecreatedIpBlock answers `block`; the cluster's secrets and admin
 * credential are generated and signed as the dynamic providers would.
 */
export function metalMocks(o: MetalMocksOptions): pulumi.runtime.Mocks {
  let machines: readonly string[] | undefined;
  const deviceNumber = (hostname: unknown): number => {
    machines ??= loadSpecFile(o.root, SPEC_FILE, { ignoreFacts: true }).cluster!.plan.machines.map((m) => m.name);
    const n = machines.indexOf(String(hostname)) + 1;
    if (n === 0) throw new Error(`no machine ${String(hostname)} in the plan of ${SPEC_FILE}`);
    return n;
  };
  const net = parsePrefix(o.deviceNet).address;
  const ipv6 = (i: number) => formatAddress(net + BigInt(i));
  /** Each device's number, by its resource name. */
  const numbers = new Map<string, number>();
  const block = parsePrefix(o.block);
  return {
    newResource(args) {
      const inputs = args.inputs as Record<string, unknown>;
      o.registered.push({ type: args.type, name: args.name, inputs });
      let state: Record<string, unknown> = { ...inputs };
      if (args.type === 'equinix-metal:index/device:Device') {
        const n = deviceNumber(inputs.hostname);
        numbers.set(args.name, n);
        const networks: Array<Record<string, unknown>> = [{ address: ipv6(2 * n + 1), gateway: ipv6(2 * n), cidr: 127, family: 6, public: true }];
        if (o.privateIpv4) networks.push({ address: `10.0.0.${2 * n + 1}`, gateway: `10.0.0.${2 * n}`, cidr: 31, family: 4, public: false });
        state = { ...inputs, accessPublicIpv6: ipv6(2 * n + 1), networks };
      }
      if (args.type === 'pulumi-nodejs:dynamic/native6-secrets:Resource') state = { ...inputs, ...generateClusterSecrets(String(inputs.cluster)) };
      if (args.type === 'pulumi-nodejs:dynamic/native6-admin:Resource') state = { ...inputs, ...signAdmin(String(inputs.cluster), String(plain(inputs.caCertPem)), String(plain(inputs.caKeyPem))) };
      return { id: `${args.name}-id`, state };
    },
    call(args) {
      const inputs = args.inputs as Record<string, unknown>;
      o.calls?.push({ token: args.token, inputs });
      if (args.token === 'equinix-metal:index/getDeviceBgpNeighbors:getDeviceBgpNeighbors') {
        const device = String(inputs.deviceId).replace(/-id$/, '');
        const n = numbers.get(device);
        if (n === undefined) throw new Error(`getDeviceBgpNeighbors: no device ${device}`);
        const neighbour = {
          addressFamily: 6,
          customerAs: 65000,
          customerIp: ipv6(2 * n + 1),
          md5Enabled: true,
          ...(o.md5Password === undefined ? {} : { md5Password: o.md5Password }),
          multihop: true,
          peerAs: 65530,
          peerIps: ['fc00::e', 'fc00::f'],
          routesIns: [{ route: o.block, exact: false }],
          routesOuts: [],
        };
        return { deviceId: inputs.deviceId, id: 'x', bgpNeighbors: [neighbour] };
      }
      if (args.token === 'equinix-metal:index/getPrecreatedIpBlock:getPrecreatedIpBlock') {
        const network = formatAddress(block.address);
        return { ...inputs, id: 'block', cidrNotation: o.block, address: network, cidr: block.length, network, netmask: formatAddress(netmask(block.length)), gateway: formatAddress(block.address + 1n), manageable: true, management: false };
      }
      return {};
    },
  };
}
