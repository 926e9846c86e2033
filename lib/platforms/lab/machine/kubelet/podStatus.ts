/**
 * The status the lab's kubelet reports for a pod it runs, and whether the
 * API server has it already. Pure: the runtime (pods.ts) says what it knows
 * of the pod's one container; this builds the Pod's status as the kubelet's
 * status manager does:
 *   - a condition's lastTransitionTime changes only when its status does
 *     (it is taken from the status the API server holds);
 *   - startTime is when the kubelet first saw the pod, and stays;
 *   - the status is written only when it differs from what the API server
 *     holds, so a steady pod costs no write (the real kubelet's
 *     needsUpdate), while a status someone else changed is put back.
 */

export interface ContainerState {
  readonly name: string;
  readonly image: string;
  /** Why it cannot run, when it cannot. */
  readonly blocked?: { readonly reason: string; readonly message: string };
  readonly running: boolean;
  readonly pid?: number;
  readonly startedAt?: string;
  readonly restarts: number;
  readonly lastExit?: { readonly code: number | null; readonly signal: string | null; readonly at: string };
  readonly ready: boolean;
}

export interface PodState {
  readonly nodeAddress: string;
  readonly ip?: string;
  /** When the kubelet first saw the pod (RFC 3339, seconds). */
  readonly firstSeen: string;
  readonly container: ContainerState;
}

export interface Condition {
  type: string;
  status: string;
  lastTransitionTime?: string;
  [k: string]: unknown;
}

export interface PodStatus {
  phase?: string;
  conditions?: Condition[];
  [k: string]: unknown;
}

/** RFC 3339 at the second, as the API server keeps times. */
export function apiTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The pod's status; `previous` is what the API server holds (its conditions' transition times are kept). */
export function podStatus(s: PodState, previous: PodStatus | undefined, now: string): PodStatus {
  const c = s.container;
  const before = new Map((previous?.conditions ?? []).map((x) => [x.type, x]));
  const cond = (type: string, ok: boolean): Condition => {
    const status = ok ? 'True' : 'False';
    const was = before.get(type);
    return { type, status, lastTransitionTime: was?.status === status && was.lastTransitionTime ? was.lastTransitionTime : now };
  };
  const state = c.blocked
    ? { waiting: { reason: c.blocked.reason, message: c.blocked.message } }
    : c.running
      ? { running: { startedAt: c.startedAt } }
      : c.lastExit
        ? { waiting: { reason: 'CrashLoopBackOff', message: `back-off restarting the container (exited ${c.lastExit.signal ?? `with code ${c.lastExit.code}`} at ${c.lastExit.at})` } }
        : { waiting: { reason: 'ContainerCreating' } };
  return {
    phase: c.blocked || (!c.running && c.restarts === 0 && !c.lastExit) ? 'Pending' : 'Running',
    hostIP: s.nodeAddress,
    hostIPs: [{ ip: s.nodeAddress }],
    ...(s.ip ? { podIP: s.ip, podIPs: [{ ip: s.ip }] } : {}),
    startTime: s.firstSeen,
    conditions: [cond('PodScheduled', true), cond('Initialized', true), cond('ContainersReady', c.ready), cond('Ready', c.ready)],
    containerStatuses: [
      {
        name: c.name,
        image: c.image,
        imageID: '',
        ...(c.running && c.pid ? { containerID: `native6-process://${c.pid}` } : {}),
        ready: c.ready,
        started: c.running,
        restartCount: c.restarts,
        state,
        ...(c.lastExit ? { lastState: { terminated: { exitCode: c.lastExit.code ?? 137, ...(c.lastExit.signal ? { signal: c.lastExit.signal } : {}), finishedAt: c.lastExit.at } } } : {}),
      },
    ],
  };
}

/** Whether the API server's status already says all `want` says (fields it holds beyond those do not count). */
export function statusHeld(want: PodStatus, have: PodStatus | undefined): boolean {
  return have !== undefined && covers(want, have);
}

function covers(want: unknown, have: unknown): boolean {
  if (Array.isArray(want)) return Array.isArray(have) && want.length === have.length && want.every((w, i) => covers(w, have[i]));
  if (want !== null && typeof want === 'object') {
    if (have === null || typeof have !== 'object' || Array.isArray(have)) return false;
    return Object.entries(want).every(([k, v]) => v === undefined || covers(v, (have as Record<string, unknown>)[k]));
  }
  return want === have;
}
