/**
 * The Pulumi edge: one stack per cluster, driven through the Automation API
 * with the real CLI (lib/toolchain/pulumi.ts), the program inline
 * (program.ts), a self-managed backend (a file:// folder, or s3://, gs://,
 * azblob://) and the passphrase secrets provider. Preview reports every
 * resource step from the engine's events; up returns the program's outputs.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { LocalWorkspace, PulumiCommand, type EngineEvent, type OpType, type Stack } from '@pulumi/pulumi/automation/index.js';
import { pulumiBinary, pulumiRoot } from '../toolchain/pulumi.js';
import { backendKind } from './backend.js';
import { clusterProgram, PROJECT, type ProgramOutputs } from './program.js';

/** What a preview or an update does to one resource, as the engine's events say (the PR comment shows these). */
export type ResourceOp = 'create' | 'update' | 'delete' | 'replace' | 'same' | 'read' | 'refresh' | 'import' | 'discard';

export interface ResourceChange {
  readonly urn: string;
  readonly type: string;
  readonly name: string;
  readonly op: ResourceOp;
  /** Changed property names. */
  readonly diffs?: readonly string[];
}

export interface StackSettings {
  readonly repoRoot: string;
  /** infra/<cluster>.yaml; the stack is named after the cluster. */
  readonly specFile: string;
  readonly stackName: string;
  /** PULUMI_BACKEND_URL, e.g. file:///var/lib/native6/state or s3://bucket/prefix. */
  readonly backendUrl: string;
  /** PULUMI_CONFIG_PASSPHRASE: encrypts the stack's secrets. */
  readonly passphrase: string;
  /** Extra environment for the CLI and providers (e.g. METAL_AUTH_TOKEN). */
  readonly env?: Readonly<Record<string, string>>;
  /** Where the CLI is: `<root>/bin/pulumi`; default the repository's `.cache/pulumi` if built, else PATH. */
  readonly pulumiRoot?: string;
  /** The Automation API's workspace folder; default `<repoRoot>/.cache/pulumi-work`. */
  readonly workDir?: string;
  /** PULUMI_HOME (plugins, credentials); default `<repoRoot>/.cache/pulumi-home`. */
  readonly pulumiHome?: string;
  /** Stack configuration set before every operation, e.g. the metal platform's native6:sshPrivateKey (secret). */
  readonly config?: Readonly<Record<string, { readonly value: string; readonly secret: boolean }>>;
  /** Another program than the cluster's (tests of the engine's edges). */
  readonly program?: () => Promise<Record<string, unknown> | void>;
}

export class StackError extends Error {}

async function command(settings: StackSettings): Promise<PulumiCommand> {
  const cache = join(settings.repoRoot, '.cache');
  const root = settings.pulumiRoot ?? (existsSync(pulumiBinary(cache)) ? pulumiRoot(cache) : undefined);
  // The CLI's own version is checked by setup; a user's newer CLI is fine.
  return PulumiCommand.get({ ...(root ? { root } : {}), skipVersionCheck: true });
}

export async function openStack(settings: StackSettings): Promise<Stack> {
  if (!settings.passphrase) throw new StackError('the Pulumi passphrase is empty: set PULUMI_CONFIG_PASSPHRASE (a repository secret in Actions)');
  if (backendKind(settings.backendUrl) === 'file') mkdirSync(settings.backendUrl.slice('file://'.length), { recursive: true });
  const pulumiHome = settings.pulumiHome ?? join(settings.repoRoot, '.cache', 'pulumi-home');
  mkdirSync(pulumiHome, { recursive: true });
  const workDir = settings.workDir ?? join(settings.repoRoot, '.cache', 'pulumi-work');
  mkdirSync(workDir, { recursive: true });
  const program = settings.program ?? clusterProgram({ repoRoot: settings.repoRoot, specFile: settings.specFile });
  const stack = await LocalWorkspace.createOrSelectStack(
    { stackName: settings.stackName, projectName: PROJECT, program },
    {
      // Not infra/: the workspace writes Pulumi.yaml and Pulumi.<stack>.yaml (the passphrase's salt) there.
      workDir,
      pulumiHome,
      pulumiCommand: await command(settings),
      projectSettings: { name: PROJECT, runtime: 'nodejs', backend: { url: settings.backendUrl } },
      envVars: {
        // Where the dynamic providers load the repository's modules from.
        NATIVE6_ROOT: settings.repoRoot,
        ...settings.env,
        PULUMI_BACKEND_URL: settings.backendUrl,
        PULUMI_CONFIG_PASSPHRASE: settings.passphrase,
        PULUMI_SKIP_UPDATE_CHECK: 'true',
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: 'true',
        // Dynamic providers load our TypeScript modules in the provider process
        // (by absolute URL: the provider's working directory is the workspace).
        NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${pathToFileURL(join(settings.repoRoot, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href}`.trim(),
      },
    },
  );
  // Secret values are encrypted with the passphrase in Pulumi.<stack>.yaml of the workspace, never in the repository.
  if (settings.config && Object.keys(settings.config).length > 0) await stack.setAllConfig({ ...settings.config });
  return stack;
}

function opOf(op: OpType): ResourceOp {
  switch (op) {
    case 'create':
    case 'update':
    case 'delete':
    case 'same':
    case 'read':
    case 'refresh':
    case 'import':
    case 'discard':
      return op;
    case 'replace':
    case 'create-replacement':
    case 'delete-replaced':
      return 'replace';
    case 'read-replacement':
      return 'read';
    case 'import-replacement':
      return 'import';
    case 'discard-replaced':
      return 'discard';
    default:
      return 'update';
  }
}

/**
 * The inputs whose values differ, for providers that answer a diff without
 * naming properties (dynamic providers): the engine's events carry both.
 */
export function changedInputs(before: Record<string, unknown> | undefined, after: Record<string, unknown> | undefined): string[] {
  if (!before || !after) return [];
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys].filter((k) => k !== '__provider' && JSON.stringify(before[k]) !== JSON.stringify(after[k]));
}

/** Collects one ResourceChange per resource from the engine's pre-step events (not the stack itself). */
export function createChangeCollector(): { onEvent: (e: EngineEvent) => void; changes: () => ResourceChange[] } {
  const byUrn = new Map<string, ResourceChange>();
  return {
    onEvent: (e) => {
      const m = e.resourcePreEvent?.metadata;
      if (!m || m.type === 'pulumi:pulumi:Stack') return;
      const prev = byUrn.get(m.urn);
      const op = opOf(m.op);
      // A replacement shows as several steps; keep the strongest.
      if (prev && prev.op === 'replace') return;
      const diffs = m.diffs?.length ? [...m.diffs] : changedInputs(m.old?.inputs, m.new?.inputs);
      byUrn.set(m.urn, { urn: m.urn, type: m.type, name: m.urn.split('::').pop() ?? m.urn, op, ...(diffs.length ? { diffs: diffs.sort() } : {}) });
    },
    changes: () => [...byUrn.values()],
  };
}

export interface PreviewOutcome {
  readonly changes: ResourceChange[];
  readonly summary: Record<string, number>;
  readonly output: string;
}

export interface RunOptions {
  /** CrossGuard packs (executable analyzers; lib/pulumi/policyPack.ts): a mandatory violation fails the run. */
  readonly policyPacks?: readonly string[];
}

export async function previewStack(stack: Stack, onOutput: (line: string) => void = () => {}, opts: RunOptions = {}): Promise<PreviewOutcome> {
  const collector = createChangeCollector();
  let output = '';
  const r = await stack.preview({
    onEvent: collector.onEvent,
    onOutput: (s) => {
      output += s;
      onOutput(s);
    },
    diff: true,
    color: 'never',
    ...(opts.policyPacks?.length ? { policyPacks: [...opts.policyPacks] } : {}),
  });
  return { changes: collector.changes(), summary: { ...r.changeSummary } as Record<string, number>, output };
}

export interface UpOutcome {
  readonly outputs: ProgramOutputs;
  readonly summary: Record<string, number>;
  /** True when the engine changed nothing (every resource the same). */
  readonly unchanged: boolean;
}

export async function upStack(stack: Stack, onOutput: (line: string) => void = () => {}, opts: RunOptions = {}): Promise<UpOutcome> {
  const r = await stack.up({ onOutput, color: 'never', ...(opts.policyPacks?.length ? { policyPacks: [...opts.policyPacks] } : {}) });
  const summary = { ...(r.summary.resourceChanges ?? {}) } as Record<string, number>;
  const outputs = Object.fromEntries(Object.entries(r.outputs).map(([k, v]) => [k, v.value])) as unknown as ProgramOutputs;
  const unchanged = Object.entries(summary).every(([op, n]) => op === 'same' || n === 0);
  return { outputs, summary, unchanged };
}

export async function destroyStack(stack: Stack, onOutput: (line: string) => void = () => {}): Promise<Record<string, number>> {
  const r = await stack.destroy({ onOutput, color: 'never' });
  const summary = { ...(r.summary.resourceChanges ?? {}) } as Record<string, number>;
  await stack.workspace.removeStack(stack.name);
  return summary;
}

export interface Recovery {
  /** The operations the interrupted run left pending (`<type> <urn>`): creates may exist at the provider without being in the state. */
  readonly pending: readonly string[];
  /** What the refresh found changed, by operation. */
  readonly refreshed: Record<string, number>;
}

/**
 * After an interrupted `up` (a timeout, a cancelled job, a lost runner): the lock it left removed
 * (`pulumi cancel`, which on a DIY backend deletes the stack's lock files), the state refreshed from
 * the provider with its pending creates cleared (`--clear-pending-creates`: the resources whose
 * creation was cut short are dropped from the state, so the next up makes them again; any that the
 * provider made meanwhile are named in `pending`, to find and delete, or import, by hand).
 */
export async function recoverStack(stack: Stack, onOutput: (line: string) => void = () => {}): Promise<Recovery> {
  const deployment = (await stack.exportStack()).deployment as { pending_operations?: Array<{ type?: string; resource?: { urn?: string } }> };
  const pending = (deployment.pending_operations ?? []).map((p) => `${p.type ?? 'operation'} ${p.resource?.urn ?? '(no urn)'}`);
  await stack.cancel();
  const r = await stack.refresh({ onOutput, color: 'never', clearPendingCreates: true });
  return { pending, refreshed: { ...(r.summary.resourceChanges ?? {}) } as Record<string, number> };
}

/** Pulumi's error for a stack another run has locked (a DIY backend's lock file left by an interrupted run). */
export function isLockedError(message: string): boolean {
  return /the stack is currently locked by \d+ lock/.test(message);
}
