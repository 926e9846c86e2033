/**
 * What a client saw of a Service while a node was hung: the client stream's
 * raw record (lib/platforms/lab/programs/clientStream.ts) summed up against
 * the moments that explain it: the hang, and the moment the hung node's pod
 * left the Service's endpoints. Pure: the lab's verify and the failover
 * benchmark both print it.
 */

/** [target index, start (ms since the epoch), 1 answered / 0 not, pod's node, client address the pod saw or the error] */
export type StreamAttempt = readonly [number, number, 0 | 1, string, string];

export interface StreamConnection {
  readonly target: number;
  readonly node: string;
  readonly client: string;
  readonly answers: number;
  readonly brokeAt?: number;
  readonly error?: string;
  readonly replaced?: boolean;
}

export interface ClientStreamResult {
  readonly targets: readonly string[];
  readonly start: number;
  readonly end: number;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly attempts: readonly StreamAttempt[];
  readonly connections: readonly StreamConnection[];
}

export interface TargetView {
  readonly target: string;
  /** New connections started while the node was hung, and how many of them got no answer. */
  readonly attemptsWhileHung: number;
  readonly failedWhileHung: number;
  /** failedWhileHung / attemptsWhileHung, 0 when none were made. */
  readonly failedShare: number;
  /** Milliseconds from the hang to the start of the last failed attempt; undefined when none failed. */
  readonly lastFailureMs?: number;
  /** Failures before the hang: the lab's own noise, which the figures above must be read against. */
  readonly failedBeforeHang: number;
  /** The distinct errors of the failed attempts, the most frequent first. */
  readonly errors: readonly string[];
  /** Established connections: all, those whose pod and whose entry were both on surviving nodes, and which of each broke. */
  readonly established: number;
  readonly brokeWithHungNode: number;
  readonly throughSurvivors: number;
  readonly brokeThroughSurvivors: number;
  /** A connection through survivors that broke: its pod's node, the node it entered through, when (ms after the hang), why. */
  readonly survivorBreaks: ReadonlyArray<{ readonly node: string; readonly entry: string; readonly ms: number; readonly error: string }>;
}

export interface ClientView {
  readonly victim: string;
  readonly hungMs: number;
  /** Milliseconds from the hang until the hung node's pod left the Service's ready endpoints; undefined if it never did while hung. */
  readonly endpointsLeftMs?: number;
  readonly targets: readonly TargetView[];
}

/**
 * Sums the stream up. `entryOf` names the node a client address belongs to
 * (a masqueraded flow shows its entry node's address; a flow the pod sees
 * with the client's own address says nothing of its entry, and then the
 * pod's node is its entry, as for a Local Service). `hungAt`/`resumedAt`
 * bound the hang, `endpointsLeftAt` is when the pod left the endpoints.
 */
export function summarizeClientView(
  stream: ClientStreamResult,
  moments: { readonly victim: string; readonly hungAt: number; readonly resumedAt: number; readonly endpointsLeftAt?: number },
  entryOf: (client: string) => string | undefined,
): ClientView {
  const { victim, hungAt, resumedAt, endpointsLeftAt } = moments;
  if (!(hungAt <= resumedAt)) throw new Error(`client view: the hang ends (${resumedAt}) before it starts (${hungAt})`);
  const targets = stream.targets.map((name, i): TargetView => {
    const mine = stream.attempts.filter((a) => a[0] === i);
    const during = mine.filter((a) => a[1] >= hungAt && a[1] < resumedAt);
    const failed = during.filter((a) => a[2] === 0);
    const counts = new Map<string, number>();
    for (const a of failed) counts.set(a[4], (counts.get(a[4]) ?? 0) + 1);
    const conns = stream.connections.filter((c) => c.target === i && c.answers > 0);
    const onHung = (c: StreamConnection) => c.node === victim || (entryOf(c.client) ?? c.node) === victim;
    const survivors = conns.filter((c) => !onHung(c));
    const broke = (c: StreamConnection) => c.brokeAt !== undefined && c.brokeAt >= hungAt && c.brokeAt < resumedAt;
    const last = failed.at(-1);
    return {
      target: name,
      attemptsWhileHung: during.length,
      failedWhileHung: failed.length,
      failedShare: during.length === 0 ? 0 : failed.length / during.length,
      ...(last ? { lastFailureMs: last[1] - hungAt } : {}),
      failedBeforeHang: mine.filter((a) => a[1] < hungAt && a[2] === 0).length,
      errors: [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([e, n]) => `${e} (${n})`),
      established: conns.length,
      brokeWithHungNode: conns.filter((c) => onHung(c) && broke(c)).length,
      throughSurvivors: survivors.length,
      brokeThroughSurvivors: survivors.filter(broke).length,
      survivorBreaks: survivors.filter(broke).map((c) => ({ node: c.node, entry: entryOf(c.client) ?? c.node, ms: c.brokeAt! - hungAt, error: c.error ?? '' })),
    };
  });
  return { victim, hungMs: resumedAt - hungAt, ...(endpointsLeftAt !== undefined ? { endpointsLeftMs: endpointsLeftAt - hungAt } : {}), targets };
}

const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** One line per target, as verify's log and the benchmark print it. */
export function clientViewLines(v: ClientView): string[] {
  return v.targets.map((t) =>
    [
      `${t.target}: ${t.failedWhileHung}/${t.attemptsWhileHung} new connections failed while ${v.victim} was hung (${(t.failedShare * 100).toFixed(1)} %)`,
      t.lastFailureMs !== undefined ? `the last ${s(t.lastFailureMs)} after the hang` : 'none',
      `${t.brokeThroughSurvivors}/${t.throughSurvivors} established connections through surviving nodes broke`,
      `${t.brokeWithHungNode} on the hung node broke`,
      t.failedBeforeHang > 0 ? `${t.failedBeforeHang} failed before the hang` : '',
    ]
      .filter(Boolean)
      .join('; '),
  );
}
