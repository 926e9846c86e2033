/**
 * The one phase engine (lib/phases/phase.ts): order, "nothing to do",
 * forcing, a phase that ran but is still not done, the first failure
 * stopping the list with every report so far, the trace, the hint.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PhaseError, PhaseSelectionError, phaseSlug, progressLine, runPhases, selectPhases, type Phase, type PhaseReport } from '../../lib/phases/phase.js';

interface World {
  made: Set<string>;
  ran: string[];
}

const make = (name: string, opts: { done?: boolean; note?: string } = {}): Phase<World> => ({
  name,
  ...(opts.done === false ? {} : { done: (w: World) => w.made.has(name) }),
  run: async (w) => {
    w.ran.push(name);
    w.made.add(name);
    return opts.note;
  },
});

test('phases run in order; a phase whose work is there is not run, unless forced', async () => {
  const w: World = { made: new Set(['b']), ran: [] };
  const seen: PhaseReport[] = [];
  const trace: string[] = [];
  const reports = await runPhases(w, [make('a', { note: 'made a' }), make('b'), make('c', { done: false })], { progress: (r) => seen.push(r), trace: (l) => trace.push(l) });
  assert.deepEqual(w.ran, ['a', 'c']);
  assert.deepEqual(reports.map((r) => [r.name, r.ok, r.cached, r.note]), [['a', true, false, 'made a'], ['b', true, true, 'cached'], ['c', true, false, '']]);
  assert.deepEqual(seen, reports, 'progress gets each report as it ends');
  assert.deepEqual(trace, ['phase a', 'phase b', 'phase c']);

  // A second run finds everything done (c has no done(): it always runs).
  w.ran = [];
  await runPhases(w, [make('a'), make('b'), make('c', { done: false })]);
  assert.deepEqual(w.ran, ['c']);
  // Forced, every phase runs.
  w.ran = [];
  const forced = await runPhases(w, [make('a'), make('b')], { force: true });
  assert.deepEqual(w.ran, ['a', 'b']);
  assert.deepEqual(forced.map((r) => r.cached), [false, false]);
});

test('the first failure stops the list: PhaseError names the phase, keeps the cause and every report, and the trace has the stack', async () => {
  const w: World = { made: new Set(), ran: [] };
  const trace: string[] = [];
  const boom: Phase<World> = { name: 'boom', run: async () => { throw new Error('no route to 2001:db8::1\nsecond line'); } };
  await assert.rejects(runPhases(w, [make('a'), boom, make('never')], { trace: (l) => trace.push(l), hint: 'log: /tmp/lab.log' }), (e: unknown) => {
    assert.ok(e instanceof PhaseError);
    assert.equal(e.phase, 'boom');
    assert.equal(e.message, 'phase "boom" failed: no route to 2001:db8::1\nsecond line\n(log: /tmp/lab.log)');
    assert.equal((e.cause as Error).message, 'no route to 2001:db8::1\nsecond line');
    assert.deepEqual(e.reports.map((r) => [r.name, r.ok, r.note]), [['a', true, ''], ['boom', false, 'no route to 2001:db8::1']]);
    return true;
  });
  assert.deepEqual(w.ran, ['a'], 'nothing after the failure runs');
  assert.equal(trace[1], 'phase boom');
  assert.match(trace[2]!, /^phase boom failed: Error: no route to 2001:db8::1\nsecond line\n\s+at /);
});

test('a phase that ran but whose work is still not there fails', async () => {
  const liar: Phase<void> = { name: 'liar', done: () => false, run: async () => 'said it did' };
  await assert.rejects(runPhases(undefined, [liar]), /^PhaseError: phase "liar" failed: the phase ran but its work is still not done$/);
});

test('progress lines: the mark, the name padded, the note, the time', () => {
  assert.equal(progressLine({ name: 'bin:etcd', ok: true, cached: true, note: 'cached', ms: 40 }, 12), '✓ bin:etcd      cached (0.0s)');
  assert.equal(progressLine({ name: 'routers', ok: false, cached: false, note: 'bgpd did not start', ms: 1250 }), '✗ routers  bgpd did not start (1.3s)');
});

test('phases are selected by slug or group, in the workflow order; unknown words are errors that list what there is', () => {
  const p = (name: string) => ({ name, run: async () => {} });
  const [a, b, c, d] = [p('provider network'), p('BGP sessions'), p('Flux'), p('Flux reconciled')];
  const all = [a!, b!, c!, d!];
  const groups = { network: [a!, b!], flux: [c!, d!] };
  assert.equal(phaseSlug('BGP sessions'), 'bgp-sessions');
  assert.equal(phaseSlug('API endpoint handover'), 'api-endpoint-handover');
  assert.deepEqual(selectPhases(all, groups, {}), all);
  assert.deepEqual(selectPhases(all, groups, { skip: ['flux'] }), [a, b]);
  assert.deepEqual(selectPhases(all, groups, { only: ['flux-reconciled', 'bgp-sessions'] }), [b, d]);
  assert.deepEqual(selectPhases(all, groups, { only: ['network'], skip: ['provider-network'] }), [b]);
  assert.throws(() => selectPhases(all, groups, { skip: ['fluxx'] }), {
    name: 'PhaseSelectionError',
    message: '--skip fluxx: no such phase or group (groups: network, flux; phases: provider-network, bgp-sessions, flux, flux-reconciled)',
  });
  assert.throws(() => selectPhases(all, groups, { only: ['flux'], skip: ['flux'] }), (e: unknown) => e instanceof PhaseSelectionError && e.message === 'no phase left to run');
});
