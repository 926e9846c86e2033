/**
 * Verify's proof that the lab's machines booted from the bootstrap a real
 * machine runs (lib/platforms/lab/kubernetes/boot.ts): each machine's boot
 * unit done, the bootstrap's units enabled, its own firewall in its kernel
 * with its BGP peers; each control plane's API handover done (the
 * ClusterIP left to kube-proxy, no translation of its own left).
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { API_BOOTSTRAP_TABLE } from '../../../render/apiBootstrap.js';
import { BOOT_UNIT, FIREWALL_UNIT, HANDOVER_UNIT, JOIN_TOKEN_TIMER, ROUTES_UNIT, UNIT_DIR } from '../../../render/bootstrap.js';
import { HOST_FIREWALL_TABLE } from '../../../render/hostFirewall.js';
import { NAT64_UNIT } from '../../../render/nat64.js';
import { bootState, handoverState } from '../kubernetes/boot.js';
import type { LabContext } from '../lab.js';
import { diskPath } from '../machine/machine.js';
import { routersAbove } from '../topology.js';
import type { CheckFn } from './check.js';

export async function verifyBoot(ctx: LabContext, check: CheckFn): Promise<void> {
  for (const m of ctx.topology.machines) {
    // Its routers: the lab's pair (its provider's peers), or its uplink's in a rack lab.
    const peers = routersAbove(ctx.topology, m).map((r) => r.peerIP);
    const name = m.machine.name;
    const controlPlane = m.machine.role === 'control-plane';
    const state = bootState(ctx, m);
    check(`boot/${name}/done`, 'done', state.done ? state.status : `${state.status} (not done)`);
    const enabled = ['multi-user.target.wants', 'timers.target.wants']
      .flatMap((target) => {
        const wants = diskPath(join(ctx.paths.machine(name), 'root'), `${UNIT_DIR}/${target}`);
        return existsSync(wants) ? readdirSync(wants) : [];
      })
      .sort();
    const units = [BOOT_UNIT, FIREWALL_UNIT, ROUTES_UNIT, ...(ctx.cluster.plan.nat64 ? [NAT64_UNIT] : []), ...(controlPlane ? [HANDOVER_UNIT, JOIN_TOKEN_TIMER] : [])].sort();
    check(`boot/${name}/units-enabled`, units.join(' '), enabled.join(' ') || 'none');
    const fw = await ctx.runner.run('nft', ['list', 'table', 'inet', HOST_FIREWALL_TABLE], { ns: m.ns, allowFail: true });
    const expected = `table inet ${HOST_FIREWALL_TABLE}, input policy drop, BGP peers ${peers.join(' ')}`;
    const observed =
      fw.code !== 0
        ? 'no such table'
        : `table inet ${HOST_FIREWALL_TABLE}, input ${/hook input priority filter; policy drop;/.test(fw.stdout) ? 'policy drop' : 'not dropping'}, BGP peers ${peers.filter((p) => fw.stdout.includes(p)).join(' ') || 'none'}`;
    check(`boot/${name}/host-firewall`, expected, observed);
    if (controlPlane) {
      const nat = await ctx.runner.run('nft', ['list', 'table', 'ip6', API_BOOTSTRAP_TABLE], { ns: m.ns, allowFail: true });
      const handover = handoverState(ctx, m);
      check(`boot/${name}/api-handover`, 'handed over, no translation of its own left', `${handover}${nat.code === 0 ? `, table ip6 ${API_BOOTSTRAP_TABLE} still loaded` : handover === 'handed over' ? ', no translation of its own left' : ''}`);
    }
  }
}
