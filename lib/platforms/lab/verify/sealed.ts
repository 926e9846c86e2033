/**
 * Secrets sealed at rest, read where they rest (review security-2026-12 M2,
 * lib/render/encryption.ts): the BGP password Secret as etcd holds it on the
 * first control plane, asked over etcd's client port on [::1] (kubeadm's, IPv6-only) with the API server's
 * own etcd client certificate, from inside the machine. Sealed means it
 * starts with k8s:enc:secretbox:v1:key1: and holds none of the passwords
 * the API serves from it.
 */
import { BGP_SECRET, CALICO_NAMESPACE } from '../../../render/calico.js';
import { SEALED_PREFIX } from '../../../render/encryption.js';
import type { LabContext } from '../lab.js';
import { runOnMachine } from '../machine/machine.js';
import type { KubeClient } from '../../../kube/client.js';
import type { CheckFn } from './check.js';

const PKI = '/etc/kubernetes/pki';

export async function verifySecretsSealed(ctx: LabContext, admin: KubeClient, check: CheckFn): Promise<void> {
  const cp = ctx.topology.machines.find((m) => m.machine.role === 'control-plane')!;
  const key = `/registry/secrets/${CALICO_NAMESPACE}/${BGP_SECRET}`;
  const res = await runOnMachine(
    ctx.runner,
    cp.ns,
    'curl',
    ['-sS', '-m', '10', '--cacert', `${PKI}/etcd/ca.crt`, '--cert', `${PKI}/apiserver-etcd-client.crt`, '--key', `${PKI}/apiserver-etcd-client.key`, '-X', 'POST', '-d', JSON.stringify({ key: Buffer.from(key).toString('base64') }), 'https://[::1]:2379/v3/kv/range'],
    { allowFail: true, timeoutMs: 20_000 },
  );
  let observed: string;
  let ok = false;
  try {
    const kvs = (JSON.parse(res.stdout) as { kvs?: Array<{ value: string }> }).kvs ?? [];
    if (kvs.length !== 1) observed = `etcd on ${cp.machine.name} has no ${key}`;
    else {
      const value = Buffer.from(kvs[0]!.value, 'base64');
      // The passwords as the API serves them: none of them may be in what etcd holds.
      const secret = await admin.get<{ data?: Record<string, string> }>(`/api/v1/namespaces/${CALICO_NAMESPACE}/secrets/${BGP_SECRET}`);
      const clear = Object.values(secret.data ?? {}).some((b64) => value.includes(Buffer.from(b64, 'base64')));
      const head = value.subarray(0, SEALED_PREFIX.length).toString('latin1');
      ok = head === SEALED_PREFIX && !clear;
      observed = `${head === SEALED_PREFIX ? `sealed (${SEALED_PREFIX}…)` : `stored as ${JSON.stringify(value.subarray(0, 24).toString('latin1'))}…`}${clear ? ', a password in clear' : ''}`;
    }
  } catch {
    observed = `etcd on ${cp.machine.name} did not answer: ${(res.stderr || res.stdout).trim().slice(0, 200)}`;
  }
  check('etcd/secrets-sealed-at-rest', `${key} sealed (${SEALED_PREFIX}…), no password in clear`, observed, ok);
}
