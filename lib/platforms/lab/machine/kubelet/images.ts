/**
 * The lab's images: which program the lab's kubelet runs for a container's
 * image. The lab has no container runtime and no registry (this machine
 * reaches no internet), so an image is a program `npm run setup` built
 * from the same source at the same version as upstream's image, placed in
 * the pod's file system where the image has its entrypoint, and run as the
 * image's user. Anything else is refused with a reason, never faked:
 *
 * | image                                   | program                                   | user  |
 * |-----------------------------------------|-------------------------------------------|-------|
 * | registry.k8s.io/coredns/coredns:v1.13.1 | CoreDNS built from its module (bin:coredns) | 65532 |
 * | docker.io/fluxcd/source-controller      | built from its module (bin:flux-source)    | 65534 |
 * | docker.io/fluxcd/kustomize-controller   | built from its module (bin:flux-kustomize) | 65534 |
 * | registry.k8s.io/kube-proxy:<k8s>        | kube-proxy built by setup (bin:kubernetes) | 0     |
 * | registry.k8s.io/e2e-test-images/agnhost | `netexec` only: the lab's echo program     | 0     |
 *
 * The version is part of the image: a tag other than the built one is
 * refused (an image the lab would run at another version than asked).
 * The users are upstream's images' (CoreDNS: distroless nonroot, 65532,
 * with the capability to bind port 53; Flux: 65534); a pod's
 * securityContext.runAsUser/runAsGroup wins, as with a runtime.
 */
import { labProgramArgv } from '../../programLaunch.js';
import { join } from 'node:path';
import { COREDNS, FLUX_CONTROLLERS, fluxBinary, goProgramBinary, KUBERNETES_VERSION } from '../../../../toolchain/pins.js';

export interface ImageProgram {
  /** The program's file on the machine (the host's build). */
  readonly binary: string;
  /** Where the image has it: bound there in the pod's file system. */
  readonly path: string;
  /** The image's ENTRYPOINT and CMD (a container's command replaces the first, its args the second). */
  readonly entrypoint: readonly string[];
  readonly cmd: readonly string[];
  readonly user: { readonly uid: number; readonly gid: number };
  /** Folders of the host the program needs besides the image's usual ones (e.g. the code of a Node program). */
  readonly binds?: readonly string[];
  /** The image's WORKDIR (a container's workingDir wins); / when absent. */
  readonly workdir?: string;
}

export interface ImageRequest {
  readonly image: string;
  readonly command?: readonly string[];
  readonly args?: readonly string[];
}

export interface LabImages {
  /** `<cache>/bin`, where setup puts the programs (kubeadm, kube-proxy, coredns, the Flux controllers). */
  readonly binDir: string;
  /** The project's root, for the programs the lab writes itself (lib/platforms/lab/programs/echo.ts). */
  readonly codeRoot: string;
  /** Node.js, to run them. */
  readonly node: string;
}

/** The name, without tag or digest, and the tag, of an image reference. */
export function splitImage(image: string): { name: string; tag?: string } {
  const at = image.indexOf('@');
  const ref = at >= 0 ? image.slice(0, at) : image;
  const colon = ref.lastIndexOf(':');
  const tagged = colon > ref.lastIndexOf('/');
  return { name: tagged ? ref.slice(0, colon) : ref, ...(tagged ? { tag: ref.slice(colon + 1) } : {}) };
}

/** Docker Hub's short forms (fluxcd/x, docker.io/fluxcd/x, index.docker.io/...) as one name. */
function canonical(name: string): string {
  const n = name.replace(/^(index\.)?docker\.io\//, '');
  return n.includes('.') && n.split('/')[0]!.includes('.') ? n : `docker.io/${n}`;
}

const NONROOT = { uid: 65532, gid: 65532 };
const NOBODY = { uid: 65534, gid: 65534 };
const ROOT = { uid: 0, gid: 0 };

/** The programs the lab can run, by image name (canonical), each with the one version it has. */
function table(l: LabImages): Map<string, { version?: string; program: ImageProgram }> {
  const cache = join(l.binDir, '..');
  const out = new Map<string, { version?: string; program: ImageProgram }>();
  out.set(canonical(COREDNS.image), {
    version: COREDNS.version,
    program: { binary: goProgramBinary(cache, COREDNS.name), path: '/coredns', entrypoint: ['/coredns'], cmd: [], user: NONROOT },
  });
  for (const f of FLUX_CONTROLLERS) {
    const program: ImageProgram = { binary: fluxBinary(cache, f.name), path: `/usr/local/bin/${f.name}`, entrypoint: [f.name], cmd: [], user: NOBODY };
    // Upstream publishes the same image on ghcr.io and docker.io; the product asks for docker.io's (IPv6).
    out.set(canonical(f.image), { version: f.version, program });
    out.set(`ghcr.io/fluxcd/${f.name}`, { version: f.version, program });
  }
  out.set('registry.k8s.io/kube-proxy', {
    version: KUBERNETES_VERSION,
    program: { binary: join(l.binDir, 'kube-proxy'), path: '/usr/local/bin/kube-proxy', entrypoint: [], cmd: [], user: ROOT },
  });
  return out;
}

export type Resolved = { readonly ok: true; readonly program: ImageProgram; readonly argv: readonly string[] } | { readonly ok: false; readonly reason: string };

/**
 * The program and command line for a container, as a runtime would build
 * it from the image (ENTRYPOINT/CMD, replaced by command/args), or why the
 * lab cannot run it.
 */
export function resolveImage(l: LabImages, c: ImageRequest, who: { pod: string; node: string } = { pod: '', node: '' }): Resolved {
  const { name, tag } = splitImage(c.image);
  const args = [...(c.command ?? []), ...(c.args ?? [])];
  if (canonical(name) === 'registry.k8s.io/e2e-test-images/agnhost') {
    // agnhost is many programs; the lab has one of them.
    const argv = c.command ? args.slice(c.command[0]?.endsWith('agnhost') ? 1 : 0) : [...(c.args ?? [])];
    if (argv[0] !== 'netexec') return { ok: false, reason: `${c.image}: the lab runs agnhost's netexec only, not "${argv.join(' ')}"` };
    const port = argv.find((a) => a.startsWith('--http-port='))?.split('=')[1] ?? '8080';
    const program: ImageProgram = { binary: l.node, path: l.node, entrypoint: [], cmd: [], user: ROOT, binds: [l.codeRoot], workdir: l.codeRoot };
    return { ok: true, program, argv: [...labProgramArgv('echo', l.node, l.codeRoot), '--port', port, '--pod', who.pod, '--node', who.node] };
  }
  const known = table(l).get(canonical(name));
  if (!known) return { ok: false, reason: `${c.image}: no program for this image in the lab (it runs ${[...table(l).keys(), 'registry.k8s.io/e2e-test-images/agnhost'].join(', ')})` };
  if (known.version && tag !== known.version) return { ok: false, reason: `${c.image}: the lab has ${name} at ${known.version} only (npm run setup builds that version), not ${tag ?? 'an untagged image'}` };
  const p = known.program;
  const argv = c.command ? [...c.command, ...(c.args ?? [])] : [...p.entrypoint, ...(c.args ?? p.cmd)];
  if (argv.length === 0) return { ok: false, reason: `${c.image} has no entrypoint: the container must give a command` };
  // A bare program name is looked up on the image's PATH, where the image has it.
  const first = argv[0]!.includes('/') ? argv[0]! : p.path.endsWith(`/${argv[0]}`) ? p.path : argv[0]!;
  return { ok: true, program: p, argv: [first, ...argv.slice(1)] };
}
