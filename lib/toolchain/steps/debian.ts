/** Setup step debian:packages: the host packages the lab needs, installed as root (no daemon started in the host namespace). */
import { existsSync, writeFileSync } from 'node:fs';
import { DEBIAN_PACKAGES, POLICY_RC_D } from '../pins.js';
import { type Step } from './step.js';
import { run } from '../go.js';

// ------------------------------------------------------------------ debian

export type Exec = (cmd: string, args: readonly string[], env?: NodeJS.ProcessEnv) => Promise<{ stdout: string; stderr: string; code: number }>;

export interface DebianOptions {
  packages?: readonly string[];
  /** Effective user id (default: this process's). */
  uid?: number;
  /** Runs dpkg-query and apt-get (default: the real ones); tests pass a fake. */
  exec?: Exec;
  /** Default /usr/sbin/policy-rc.d. */
  policyRcD?: string;
}

/** The packages of `packages` that are not installed (dpkg status other than "ii"). */
export async function missingDebianPackages(packages: readonly string[], exec: Exec = run): Promise<string[]> {
  let out: { stdout: string; code: number };
  try {
    out = await exec('dpkg-query', ['-W', '-f=${Package}\\t${db:Status-Abbrev}\\n', ...packages]);
  } catch {
    throw new Error(`dpkg-query is not on PATH: the lab needs a Debian (or Ubuntu) host with ${packages.join(' ')}`);
  }
  const installed = new Set(
    out.stdout
      .split('\n')
      .map((l) => l.split('\t'))
      .filter(([, status]) => status?.trim() === 'ii')
      .map(([name]) => name!.replace(/:.*$/, '')),
  );
  return packages.filter((p) => !installed.has(p));
}

/** What a root shell runs to install `packages` without starting their daemons. */
export function debianInstallCommand(packages: readonly string[], policyRcD: string = POLICY_RC_D): string {
  const script =
    `[ -e ${policyRcD} ] || { printf "%s\\n" "#!/bin/sh" "exit 101" > ${policyRcD} && chmod 755 ${policyRcD}; } && ` +
    `apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${packages.join(' ')}`;
  return `sudo sh -c '${script}'`;
}

export function debianPackagesStep(opts: DebianOptions = {}): Step {
  const packages = opts.packages ?? DEBIAN_PACKAGES;
  const exec = opts.exec ?? run;
  const policyRcD = opts.policyRcD ?? POLICY_RC_D;
  return {
    name: 'debian:packages',
    done: async () => (await missingDebianPackages(packages, exec)).length === 0,
    run: async () => {
      const missing = await missingDebianPackages(packages, exec);
      if (missing.length === 0) return 'installed';
      const uid = opts.uid ?? process.getuid?.() ?? -1;
      if (uid !== 0) {
        throw new Error(`missing Debian packages ${missing.join(' ')}; as root, run: ${debianInstallCommand(missing, policyRcD)}`);
      }
      // exit 101 = "action forbidden": installing never starts a daemon in
      // the host's namespaces (the lab runs frr and bird in its own). An
      // existing policy is the host owner's and is kept as it is.
      let policyNote = `kept ${policyRcD}`;
      if (!existsSync(policyRcD)) {
        writeFileSync(policyRcD, '#!/bin/sh\n# Written by `npm run setup` (native6): packages never start daemons on install.\nexit 101\n', {
          mode: 0o755,
        });
        policyNote = `wrote ${policyRcD}`;
      }
      const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
      const update = await exec('apt-get', ['update'], env);
      if (update.code !== 0) throw new Error(`apt-get update failed: ${update.stderr.trim().slice(-2000)}`);
      const install = await exec('apt-get', ['install', '-y', '--no-install-recommends', ...missing], env);
      if (install.code !== 0) throw new Error(`apt-get install ${missing.join(' ')} failed: ${install.stderr.trim().slice(-2000)}`);
      return `installed ${missing.join(' ')} (${policyNote})`;
    },
  };
}
