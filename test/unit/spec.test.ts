/**
 * Table tests over the spec fixtures: every valid-* decodes, every invalid-*
 * yields exactly the problems listed here ("@" stands for the file's path).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadCluster } from '../../lib/platforms/load.js';
import { loadSpecFile } from '../../lib/repo/workspace.js';
import { formatProblem, ProblemsError } from '../../lib/cluster/problems.js';
import { formatPrefix } from '../../lib/net/ipv6.js';
import { decodeCluster } from '../../lib/cluster/decode.js';
import { platformRules } from '../../lib/platforms/index.js';
import type { ClusterSpec } from '../../lib/cluster/cluster.js';
import { stringify } from 'yaml';

const dir = new URL('../fixtures/specs/', import.meta.url);
const fixtures = readdirSync(dir).sort();

const expected: Record<string, string[]> = {
  'invalid-api-version.yaml': [
    "@:1:13: apiVersion: \"native6.dev/v1\" is not a version this project reads. Fix: set it to native6.dev/v1alpha1",
  ],
  'invalid-asn-public.yaml': [
    "@:10:15: spec.network.localASN: 3356 is not a private ASN. Fix: use a private ASN: 64512-65534 or 4200000000-4294967294 (Equinix Metal local BGP defaults to 65000)",
  ],
  'invalid-asn-same.yaml': [
    "@:11:14: spec.network.peerASN: is the same as localASN (65530); the nodes peer with the provider over eBGP. Fix: set peerASN to the provider's ASN (Equinix Metal: 65530)",
  ],
  'invalid-block-and-size.yaml': [
    "@:10:5: spec.network.blockSize: is set together with block. Fix: keep block (the prefix you hold) or blockSize (the size to request), not both",
  ],
  'invalid-block-host-bits.yaml': [
    "@:9:12: spec.network.block: \"2001:db8:100::1/56\" has host bits set; the network is 2001:db8:100::/56. Fix: write an IPv6 network prefix with its host bits zero, e.g. 2001:db8:100::/56",
  ],
  'invalid-block-not-documentation.yaml': [
    "@:9:12: spec.network.block: the lab only uses documentation addresses and 2604:1380:4641:c900::/56 is outside 2001:db8::/32. Fix: pick a block inside 2001:db8::/32, e.g. 2001:db8:100::/56",
  ],
  'invalid-block-too-small.yaml': [
    "@:9:12: spec.network.block: a /64 block is outside what the planner carves (/32 to /60). Fix: use the /56 your provider reserved (Equinix Metal: the project's IPv6 block in the metro)",
  ],
  'invalid-block-ula.yaml': [
    "@:12:12: spec.network.block: fd00:1234::/56 is unique local (ULA), not routed on the internet. Fix: use a global unicast block your provider routes to you",
  ],
  'invalid-control-plane-even.yaml': [
    "@:9:12: spec.controlPlane.count: 2 control planes cannot keep etcd quorum through a failure any better than 1. Fix: use an odd count: 1 or 3",
  ],
  'invalid-duplicate-key.yaml': [
    "@:10:5: spec.network.block: is repeated (first at line 9). Fix: keep one of the repeated keys",
  ],
  'invalid-empty.yaml': [
    "@: (document): the file is empty. Fix: write a Cluster spec (see README, \"The cluster spec\")",
  ],
  'invalid-external-range-too-small.yaml': [
    "@:10:26: spec.network.externalIPRangeSize: 127 is out of range (64 to 124). Fix: use 64 to 124, e.g. 120 for 256 addresses",
  ],
  'invalid-k8s-version-format.yaml': [
    "@:7:22: spec.kubernetesVersion: must be a string, found the number 1.35. Fix: quote it, e.g. \"v1.35.4\"",
  ],
  'invalid-k8s-version-unsupported.yaml': [
    "@:7:22: spec.kubernetesVersion: Kubernetes 1.29 is not supported. Fix: use a release from v1.33 to v1.36 (kubeadm configuration v1beta4)",
  ],
  'invalid-kind.yaml': [
    "@:2:7: kind: \"Clusters\" is not a kind this project reads. Fix: set it to Cluster",
  ],
  'invalid-lab-block-overlaps-provider.yaml': [
    "@:9:12: spec.network.block: 2001:db8:ffff:ff00::/56 overlaps the lab provider's own range 2001:db8:ffff::/48. Fix: pick a block elsewhere in 2001:db8::/32, e.g. 2001:db8:100::/56",
  ],
  'invalid-lab-requested-block.yaml': [
    "@:9:16: spec.network.blockSize: the lab has no provider to allocate a block from. Fix: write block: with a prefix inside 2001:db8::/32 instead",
  ],
  'invalid-lab-too-many-nodes.yaml': [
    "@:8:3: spec.workers: the lab would run 203 machines; its shared kernel's IPv6 neighbour table holds about 150. Fix: keep the lab at 150 machines or fewer",
  ],
  'invalid-many-problems.yaml': [
    "@:9:12: spec.controlPlane.count: 4 control planes cannot keep etcd quorum through a failure any better than 3. Fix: use an odd count: 3 or 5",
    "@:11:13: spec.workers[0].name: \"cp\" is the control plane's name. Fix: choose another pool name",
    "@:12:14: spec.workers[0].count: -1 is out of range (0 to 32767). Fix: use 0 to 32767 machines",
    "@:15:23: spec.network.serviceRangeSize: 128 is out of range (108 to 120). Fix: use 108 to 120: kube-apiserver refuses an IPv6 Service range wider than a /108, and a range narrower than a /120 leaves too few ClusterIPs",
    "@:16:19: spec.network.podBlockSize: 130 is out of range (116 to 128). Fix: Calico accepts IPv6 block sizes from 116 to 128; 122 is its default",
  ],
  'invalid-metal-missing-metro-plan-gitops.yaml': [
    "@:6:3: spec.metro: is required on equinix-metal. Fix: add the two-letter metro code, e.g. \"metro: da\"",
    "@:9:5: spec.controlPlane.plan: is required. Fix: add the Equinix Metal machine plan, e.g. \"plan: c3.small.x86\"",
    "@:6:3: spec.gitops: is required on equinix-metal. Fix: add \"gitops: {url: https://github.com/<owner>/<repo>}\", the repository Flux reconciles from",
  ],
  'invalid-metal-plan.yaml': [
    "@:11:11: spec.controlPlane.plan: \"small\" is not an Equinix Metal plan name. Fix: use a plan slug such as c3.small.x86 or m3.large.x86",
    "@:15:10: spec.gitops.url: \"git@github.com:example/clusters.git\" is not a repository URL Flux can clone. Fix: use an https:// or ssh:// URL, e.g. https://github.com/<owner>/<repo>",
  ],
  'invalid-metro.yaml': [
    "@:7:10: spec.metro: \"DA11\" is not an Equinix Metal metro code. Fix: use the two-letter metro code, e.g. \"da\", \"ny\", \"sv\", \"am\"",
  ],
  'invalid-name.yaml': [
    "@:4:9: metadata.name: \"Bad_Name\" is not a valid cluster name. Fix: use at most 30 lower-case letters, digits and \"-\", starting and ending with a letter or digit",
  ],
  'invalid-platform.yaml': [
    "@:6:13: spec.platform: \"packet\" is not a platform. Fix: use one of: equinix-metal, lab, metal",
  ],
  'invalid-pod-block-size.yaml': [
    "@:10:19: spec.network.podBlockSize: 112 is out of range (116 to 128). Fix: Calico accepts IPv6 block sizes from 116 to 128; 122 is its default",
  ],
  'invalid-pod-pool-capacity.yaml': [
    "@:12:5: spec.network.podBlockSize: a /112 pod pool holds 16 /116 blocks, fewer than the 23 nodes that each need one. Fix: use a larger pod pool (smaller podPoolSize) or smaller blocks (larger podBlockSize)",
  ],
  'invalid-pod-pool-too-large.yaml': [
    "@:10:18: spec.network.podPoolSize: a /56 pod pool does not fit in a /56 block after its fixed ranges (the block has 256 /64s, the first 8 are fixed ranges, and the pool needs 256 /64s aligned to its size). Fix: use a smaller pod pool (podPoolSize 57 or more) or a larger block",
  ],
  'invalid-lab-dns.yaml': [
    '@:10:3: spec.dns: is for Equinix Metal clusters: the lab has no DNS provider. Fix: remove spec.dns from the lab spec',
  ],
  'invalid-metal-dns.yaml': [
    '@:20:11: spec.dns.zone: "Example_COM" is not a DNS zone. Fix: write a domain in lower case, e.g. example.com',
    '@:21:11: spec.dns.name: "api_bad" is not a record name relative to the zone. Fix: write the name without the zone, e.g. api.bad for api.bad.<zone>',
  ],
  'invalid-policy-source.yaml': [
    "@:12:9: spec.policy.trustedSources[0]: \"10.0.0.0\" is an IPv4 address; native6 is IPv6-only. Fix: write an IPv6 prefix with its host bits zero, e.g. 2001:db8:ab00::/40",
  ],
  'invalid-service-range-too-large.yaml': [
    "@:10:23: spec.network.serviceRangeSize: 104 is out of range (108 to 120). Fix: use 108 to 120: kube-apiserver refuses an IPv6 Service range wider than a /108, and a range narrower than a /120 leaves too few ClusterIPs",
  ],
  'invalid-two-documents.yaml': [
    "@:11:1: (document): has 2 documents. Fix: keep one cluster per file: infra/<name>.yaml",
  ],
  'invalid-unknown-nested-field.yaml': [
    "@:10:5: spec.network.serviceRangSize: unknown field \"serviceRangSize\". Fix: did you mean \"serviceRangeSize\"? Known fields here: block, blockSize, localASN, peerASN, serviceRangeSize, podPoolSize, podBlockSize, loadBalancerRangeSize, externalIPRangeSize, bfd, holdTime",
  ],
  'invalid-unknown-top-field.yaml': [
    "@:10:1: status: unknown field \"status\". Fix: remove it; known fields here: apiVersion, kind, metadata, spec",
  ],
  'invalid-worker-count-type.yaml': [
    "@:10:14: spec.workers[0].count: must be a whole number, found the string \"two\". Fix: use 0 to 32767 machines",
  ],
  'invalid-worker-duplicate-name.yaml': [
    "@:11:13: spec.workers[1].name: \"general\" is already the name of workers[0]. Fix: give every pool its own name",
  ],
  // Boundaries: every ranged field one step outside its range (the values at the edges decode: see below).
  'invalid-boundary-below-min.yaml': [
    '@:9:22: spec.kubernetesVersion: Kubernetes 1.32 is not supported. Fix: use a release from v1.33 to v1.36 (kubeadm configuration v1beta4)',
    '@:11:12: spec.controlPlane.count: 0 is out of range (1 to 7). Fix: use 1, 3, 5 or 7',
    '@:15:14: spec.workers[0].count: -1 is out of range (0 to 32767). Fix: use 0 to 32767 machines',
    '@:18:16: spec.network.blockSize: 31 is out of range (32 to 60). Fix: use 56, the size Equinix Metal reserves per project and metro',
    '@:19:15: spec.network.localASN: 0 is out of range (1 to 4294967294). Fix: use a private ASN: 64512-65534 or 4200000000-4294967294',
    "@:20:14: spec.network.peerASN: 0 is out of range (1 to 4294967294). Fix: use the provider's ASN (Equinix Metal: 65530)",
    '@:21:23: spec.network.serviceRangeSize: 107 is out of range (108 to 120). Fix: use 108 to 120: kube-apiserver refuses an IPv6 Service range wider than a /108, and a range narrower than a /120 leaves too few ClusterIPs',
    '@:22:18: spec.network.podPoolSize: 47 is out of range (48 to 112). Fix: use 48 to 112 (64 by default)',
    '@:23:19: spec.network.podBlockSize: 115 is out of range (116 to 128). Fix: Calico accepts IPv6 block sizes from 116 to 128; 122 is its default',
    '@:24:28: spec.network.loadBalancerRangeSize: 63 is out of range (64 to 124). Fix: use 64 to 124, e.g. 120 for 256 addresses',
    '@:25:26: spec.network.externalIPRangeSize: 63 is out of range (64 to 124). Fix: use 64 to 124, e.g. 120 for 256 addresses',
  ],
  'invalid-boundary-above-max.yaml': [
    '@:9:22: spec.kubernetesVersion: Kubernetes 1.37 is not supported. Fix: use a release from v1.33 to v1.36 (kubeadm configuration v1beta4)',
    '@:11:12: spec.controlPlane.count: 8 is out of range (1 to 7). Fix: use 1, 3, 5 or 7',
    '@:15:14: spec.workers[0].count: 32768 is out of range (0 to 32767). Fix: use 0 to 32767 machines',
    '@:18:16: spec.network.blockSize: 61 is out of range (32 to 60). Fix: use 56, the size Equinix Metal reserves per project and metro',
    '@:19:15: spec.network.localASN: 4294967295 is out of range (1 to 4294967294). Fix: use a private ASN: 64512-65534 or 4200000000-4294967294',
    "@:20:14: spec.network.peerASN: 4294967295 is out of range (1 to 4294967294). Fix: use the provider's ASN (Equinix Metal: 65530)",
    '@:21:23: spec.network.serviceRangeSize: 121 is out of range (108 to 120). Fix: use 108 to 120: kube-apiserver refuses an IPv6 Service range wider than a /108, and a range narrower than a /120 leaves too few ClusterIPs',
    '@:22:18: spec.network.podPoolSize: 113 is out of range (48 to 112). Fix: use 48 to 112 (64 by default)',
    '@:23:19: spec.network.podBlockSize: 129 is out of range (116 to 128). Fix: Calico accepts IPv6 block sizes from 116 to 128; 122 is its default',
    '@:24:28: spec.network.loadBalancerRangeSize: 125 is out of range (64 to 124). Fix: use 64 to 124, e.g. 120 for 256 addresses',
    '@:25:26: spec.network.externalIPRangeSize: 125 is out of range (64 to 124). Fix: use 64 to 124, e.g. 120 for 256 addresses',
  ],
  'invalid-asn-below-private.yaml': [
    '@:11:15: spec.network.localASN: 64511 is not a private ASN. Fix: use a private ASN: 64512-65534 or 4200000000-4294967294 (Equinix Metal local BGP defaults to 65000)',
  ],
  'invalid-asn-reserved.yaml': [
    '@:11:15: spec.network.localASN: 65535 is not a private ASN. Fix: use a private ASN: 64512-65534 or 4200000000-4294967294 (Equinix Metal local BGP defaults to 65000)',
  ],
  'invalid-asn-below-4byte-private.yaml': [
    '@:11:15: spec.network.localASN: 4199999999 is not a private ASN. Fix: use a private ASN: 64512-65534 or 4200000000-4294967294 (Equinix Metal local BGP defaults to 65000)',
  ],
  'invalid-block-length-above-max.yaml': [
    "@:10:12: spec.network.block: a /61 block is outside what the planner carves (/32 to /60). Fix: use the /56 your provider reserved (Equinix Metal: the project's IPv6 block in the metro)",
  ],
  'invalid-block-length-below-min.yaml': [
    "@:10:12: spec.network.block: a /31 block is outside what the planner carves (/32 to /60). Fix: use the /56 your provider reserved (Equinix Metal: the project's IPv6 block in the metro)",
  ],
  'invalid-lab-block-whole-documentation.yaml': [
    "@:10:12: spec.network.block: 2001:db8::/32 overlaps the lab provider's own range 2001:db8:ffff::/48. Fix: pick a block elsewhere in 2001:db8::/32, e.g. 2001:db8:100::/56",
  ],
  'invalid-lab-one-too-many-nodes.yaml': [
    "@:11:3: spec.workers: the lab would run 151 machines; its shared kernel's IPv6 neighbour table holds about 150. Fix: keep the lab at 150 machines or fewer",
  ],
  'invalid-pod-pool-capacity-one-short.yaml': [
    '@:13:5: spec.network.podBlockSize: a /112 pod pool holds 16 /116 blocks, fewer than the 17 nodes that each need one. Fix: use a larger pod pool (smaller podPoolSize) or smaller blocks (larger podBlockSize)',
  ],
  'invalid-worker-name-too-long.yaml': [
    '@:10:13: spec.workers[0].name: "abcdefghij-klmnopqrst" is not a valid pool name. Fix: use at most 20 lower-case letters, digits and "-", starting and ending with a letter or digit',
  ],
  'invalid-name-too-long.yaml': [
    '@:5:9: metadata.name: "abcdefghijklmnopqrstuvwxyz-abcd" is not a valid cluster name. Fix: use at most 30 lower-case letters, digits and "-", starting and ending with a letter or digit',
  ],
  'invalid-metal-block-size.yaml': [
    '@:14:16: spec.network.blockSize: Equinix Metal reserves a /56 per project and metro, not a /57. Fix: use blockSize: 56',
  ],
  // Each section's wrong shapes and values, reported together.
  'invalid-lab-many-fields.yaml': [
    '@:8:10: spec.metro: the lab platform has one metro, "lab". Fix: remove the field or set it to "lab"',
    '@:9:22: spec.kubernetesVersion: "v1.35" is not a Kubernetes release version. Fix: write it as v1.MINOR.PATCH, e.g. v1.35.4',
    '@:11:11: spec.controlPlane.plan: "c3.small.x86" is not a lab machine plan. Fix: remove the field; lab machines have one plan, "lab"',
    '@:13:7: spec.workers[0]: must be a mapping, found the string "general". Fix: write spec.workers[0] as "key: value" lines',
    '@:14:7: spec.workers[1].name: is required. Fix: give the pool a name, e.g. "name: general"',
    '@:15:13: spec.workers[2].name: "Gpu" is not a valid pool name. Fix: use at most 20 lower-case letters, digits and "-", starting and ending with a letter or digit',
    '@:17:7: spec.workers[3].count: is required. Fix: add "count: <machines>"',
    '@:19:12: spec.network.block: is only a size (/56); block is the prefix itself. Fix: write the prefix you hold, e.g. 2001:db8:100::/56',
    '@:21:21: spec.policy.trustedSources: must be a list, found the string "2001:db8:ab00::/40". Fix: write a list of IPv6 prefixes, e.g. ["2001:db8:ab00::/40"]',
    '@:23:10: spec.gitops.url: must be a string, found the number 42. Fix: write the repository URL as a string',
    '@:24:13: spec.gitops.branch: "-x" is not a branch name. Fix: use a plain branch name such as main',
    '@:25:15: spec.gitops.interval: "5 minutes" is not a duration. Fix: write a duration such as 1m, 5m or 1h',
  ],
  'invalid-document-list.yaml': [
    '@:2:1: (document): must be a mapping, found a list. Fix: write (document) as "key: value" lines',
  ],
  'invalid-metal-fields.yaml': [
    '@:7:3: spec.controlPlane: is required on equinix-metal. Fix: add "controlPlane: {count: 3, plan: c3.small.x86}"',
    '@:11:7: spec.workers[0].plan: is required. Fix: add the Equinix Metal machine plan, e.g. "plan: c3.small.x86"',
    "@:14:12: spec.network.block: Equinix Metal reserves a /56 per project and metro, not a /48. Fix: write the project's /56 for this metro",
    '@:16:5: spec.gitops.url: is required on equinix-metal. Fix: add the repository URL Flux reconciles from',
    '@:19:11: spec.dns.name: "api.example.com" is not a record name relative to the zone. Fix: write the name without the zone, e.g. api.sv1 for api.sv1.<zone>',
  ],
  'invalid-lab-empty-sections.yaml': [
    '@:9:17: spec.controlPlane: must be a mapping, found the string "three". Fix: write spec.controlPlane as "key: value" lines',
    '@:10:12: spec.workers: must be a list, found the string "general". Fix: write workers as a list of pools: "- name: general\\n  count: 2"',
    "@:11:12: spec.network.block: is required. Fix: add \"block: <prefix>/56\" (the block you hold) or, on equinix-metal, \"blockSize: 56\" to use the project's block found at apply",
    '@:13:20: spec.policy.publicSources: is empty, so no workload could be public. Fix: remove the field (default ::/0, the whole internet) or list the networks allowed in',
  ],
  'invalid-lab-no-network.yaml': [
    '@:7:3: spec.network: is required. Fix: add a network section with at least the reserved block, e.g. "block: 2001:db8:100::/56"',
    '@:9:11: spec.policy: must be a mapping, found the string "open". Fix: write spec.policy as "key: value" lines',
  ],
  'invalid-metal-dns-and-block.yaml': [
    '@:14:12: spec.network.block: "not-a-prefix" has no prefix length (write it as address/length, e.g. 2001:db8::/56). Fix: write an IPv6 network prefix with its host bits zero, e.g. 2001:db8:100::/56',
    '@:16:21: spec.policy.publicSources[0]: must be a string, found the number 5. Fix: write the prefix as a string',
    '@:20:11: spec.dns.zone: "localhost" is not a DNS zone. Fix: write a domain in lower case, e.g. example.com',
  ],
  'invalid-metal-dns-no-zone.yaml': [
    '@:18:5: spec.dns.zone: is required with spec.dns. Fix: add the DigitalOcean domain that gets the record, e.g. "zone: example.com"',
  ],
  'invalid-platform-type.yaml': [
    '@:7:13: spec.platform: must be a string, found a list. Fix: use one of: equinix-metal, lab, metal',
  ],
  // Every kind of value where another is needed, texts almost right, and the decoder's other paths.
  'invalid-document-shape.yaml': [
    '@:2:1: (document): has a key that is not a string. Fix: use plain field names as keys',
    '@:3:1: spxyz: unknown field "spxyz". Fix: remove it; known fields here: apiVersion, kind, metadata, spec',
    '@:2:1: apiVersion: is required. Fix: add "apiVersion: native6.dev/v1alpha1"',
    '@:4:7: kind: must be a string, found the number 42. Fix: set it to Cluster',
    '@:6:3: metadata: must be a mapping, found a list. Fix: write metadata as "key: value" lines',
    '@:8:3: spec.platform: is required. Fix: add "platform: lab" or "platform: metal" or "platform: equinix-metal"',
  ],
  'invalid-no-kind-no-spec.yaml': [
    '@:2:13: apiVersion: must be a string, found the number 1. Fix: set it to native6.dev/v1alpha1',
    '@:2:1: kind: is required. Fix: add "kind: Cluster"',
    '@:3:11: metadata.name: is required. Fix: add "name: <cluster>", the same as the file name',
    '@:2:1: spec: is required. Fix: add the spec section',
  ],
  'invalid-no-metadata.yaml': [
    '@:2:1: metadata: is required. Fix: add metadata with the cluster name',
    '@:4:7: spec: must be a mapping, found the string "lab". Fix: write spec as "key: value" lines',
  ],
  'invalid-name-type.yaml': [
    '@:5:9: metadata.name: must be a string, found the number 42. Fix: write the name as a string',
  ],
  'invalid-lab-value-kinds.yaml': [
    '@:8:10: spec.metro: must be a string, found the boolean true. Fix: write the metro code as a string, e.g. "da"',
    '@:9:22: spec.kubernetesVersion: must be a string, found a mapping. Fix: quote it, e.g. "v1.35.4"',
    '@:11:11: spec.controlPlane.plan: must be a string, found the number 1. Fix: remove the field; lab machines have one plan',
    '@:13:13: spec.workers[0].name: must be a string, found the number 1. Fix: write the name as a string',
    '@:14:14: spec.workers[0].count: must be a whole number, found the number 1.5. Fix: use 0 to 32767 machines',
    '@:15:12: spec.network: must be a mapping, found a list. Fix: write spec.network as "key: value" lines',
    '@:17:21: spec.policy.publicSources[0]: must be a string, found nothing. Fix: write the prefix as a string',
    '@:18:11: spec.gitops: must be a mapping, found the string "main". Fix: write spec.gitops as "key: value" lines',
  ],
  'invalid-lab-alias.yaml': [
    '@:8:22: spec.kubernetesVersion: must be a string, found an unsupported value. Fix: quote it, e.g. "v1.35.4"',
  ],
  'invalid-metal-text-shapes.yaml': [
    '@:8:10: spec.metro: "dfw" is not an Equinix Metal metro code. Fix: use the two-letter metro code, e.g. "da", "ny", "sv", "am"',
    '@:12:11: spec.controlPlane.plan: "c3.small.x86-b" is not an Equinix Metal plan name. Fix: use a plan slug such as c3.small.x86 or m3.large.x86',
    '@:16:13: spec.workers[0].plan: "1c3.small.x86" is not an Equinix Metal plan name. Fix: use a plan slug such as c3.small.x86 or m3.large.x86',
    '@:20:10: spec.gitops.url: "git+https://github.com/example/clusters" is not a repository URL Flux can clone. Fix: use an https:// or ssh:// URL, e.g. https://github.com/<owner>/<repo>',
    '@:21:13: spec.gitops.branch: "a b" is not a branch name. Fix: use a plain branch name such as main',
    '@:22:15: spec.gitops.interval: "5m!" is not a duration. Fix: write a duration such as 1m, 5m or 1h',
    '@:23:8: spec.dns: must be a mapping, found the string "api.example.com". Fix: write spec.dns as "key: value" lines',
  ],
  'invalid-lab-text-shapes.yaml': [
    '@:5:9: metadata.name: "lab-" is not a valid cluster name. Fix: use at most 30 lower-case letters, digits and "-", starting and ending with a letter or digit',
    '@:8:22: spec.kubernetesVersion: "v1.35.4-rc.1" is not a Kubernetes release version. Fix: write it as v1.MINOR.PATCH, e.g. v1.35.4',
    '@:10:13: spec.workers[0].name: "gpu-" is not a valid pool name. Fix: use at most 20 lower-case letters, digits and "-", starting and ending with a letter or digit',
    '@:15:10: spec.gitops.url: "https://github.com/example/a b" is not a repository URL Flux can clone. Fix: use an https:// or ssh:// URL, e.g. https://github.com/<owner>/<repo>',
    '@:16:13: spec.gitops.branch: "~main" is not a branch name. Fix: use a plain branch name such as main',
    '@:17:15: spec.gitops.interval: "x5m" is not a duration. Fix: write a duration such as 1m, 5m or 1h',
  ],
  'invalid-asn-same-as-default-peer.yaml': [
    "@:11:15: spec.network.localASN: is 65530, the provider's ASN (peerASN, 65530 by default); the nodes peer with the provider over eBGP. Fix: set localASN to a private ASN of the cluster's own, e.g. 65000",
  ],
  'invalid-pod-pool-size-range.yaml': [
    '@:11:18: spec.network.podPoolSize: 113 is out of range (48 to 112). Fix: use 48 to 112 (64 by default)',
  ],
  'invalid-lab-block-size-range.yaml': [
    '@:10:16: spec.network.blockSize: 61 is out of range (32 to 60). Fix: use 56, the size Equinix Metal reserves per project and metro',
  ],
  'invalid-metal-value-kinds.yaml': [
    '@:8:10: spec.metro: must be a string, found the number 1. Fix: write the metro code as a string, e.g. "da"',
    '@:17:13: spec.gitops.branch: must be a string, found the number 1. Fix: write the branch name as a string',
    '@:18:15: spec.gitops.interval: must be a string, found the number 2. Fix: write a duration such as 5m',
    '@:20:11: spec.dns.zone: must be a string, found the number 1. Fix: write the zone as a string',
    '@:21:11: spec.dns.name: must be a string, found the number 2. Fix: write the record name as a string',
  ],
  'invalid-yaml-syntax.yaml': [
    "@:9:1: (yaml): Flow sequence in block collection must be sufficiently indented and end with a ]. Fix: correct the YAML syntax at that line",
  ],
};

test('there are at least 20 invalid fixtures, each with its expected problems', () => {
  const invalid = fixtures.filter((f) => f.startsWith('invalid-'));
  assert.ok(invalid.length >= 20, `only ${invalid.length} invalid fixtures`);
  assert.deepEqual(invalid, Object.keys(expected).sort());
});

for (const f of fixtures) {
  const file = `test/fixtures/specs/${f}`;
  const text = readFileSync(new URL(f, dir), 'utf8');
  if (f.startsWith('valid-')) {
    test(`${f} decodes`, () => {
      const r = loadCluster(file, text);
      assert.ok(r.ok, r.ok ? '' : r.problems.map(formatProblem).join('\n'));
    });
  } else if (f.startsWith('invalid-')) {
    test(`${f} is refused with its exact problems`, () => {
      const r = loadCluster(file, text);
      assert.equal(r.ok, false);
      if (r.ok) return;
      assert.deepEqual(
        r.problems.map((p) => formatProblem(p).replace(file, '@')),
        expected[f],
      );
    });
  }
}

test('defaults are filled in for a minimal lab spec', () => {
  const r = decodeCluster('mini.yaml', readFileSync(new URL('valid-lab-minimal.yaml', dir), 'utf8'), platformRules);
  assert.ok(r.ok);
  if (!r.ok) return;
  const { spec } = r;
  assert.equal(spec.metro, 'lab');
  assert.deepEqual(spec.controlPlane, { count: 3, plan: 'lab' });
  assert.deepEqual(spec.workers, []);
  assert.equal(spec.network.localASN, 65000);
  assert.equal(spec.network.peerASN, 65530);
  assert.equal(spec.network.serviceRangeSize, 112);
  assert.equal(spec.network.podPoolSize, 64);
  assert.equal(spec.network.podBlockSize, 122);
  assert.equal(spec.network.loadBalancerRangeSize, undefined);
  // The lab's git server is the lab's default repository, by the name of its IPv4-only host (as github.com).
  assert.deepEqual(spec.gitops, { url: 'http://github.example/native6.git', branch: 'main', interval: '5m' });
  assert.equal(spec.nodeAddresses, 'planned');
  // Pods reach IPv4 through NAT64, at the plan's own prefix.
  assert.deepEqual(spec.egress, { ipv4: 'nat64' });
  // The machines' resolver, the cluster's DNS's upstream: the lab provider's, by its IPv4 address only.
  assert.deepEqual(spec.resolvers, ['192.0.2.53']);
});

test('the file name must match metadata.name when asked', () => {
  const r = loadCluster('infra/other.yaml', readFileSync(new URL('valid-lab-minimal.yaml', dir), 'utf8'), { expectName: 'other' });
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.deepEqual(r.problems.map(formatProblem), [
    'infra/other.yaml:4:9: metadata.name: "mini" does not match the file name "other". Fix: rename the file to infra/mini.yaml or set the name to "other"',
  ]);
});

test('a spec file under infra/ must be named after its cluster, with .yaml or .yml', () => {
  const repo = mkdtempSync(join(tmpdir(), 'native6-spec-'));
  try {
    mkdirSync(join(repo, 'infra'));
    const minimal = readFileSync(new URL('valid-lab-minimal.yaml', dir), 'utf8');
    for (const file of ['infra/mini.yaml', 'infra/mini.yml', 'infra/edge.yml']) writeFileSync(join(repo, file), minimal);
    assert.equal(loadSpecFile(repo, 'infra/mini.yaml').cluster?.spec.name, 'mini');
    assert.equal(loadSpecFile(repo, 'infra/mini.yml').cluster?.spec.name, 'mini');
    assert.deepEqual(loadSpecFile(repo, 'infra/edge.yml').problems.map(formatProblem), [
      'infra/edge.yml:4:9: metadata.name: "mini" does not match the file name "edge". Fix: rename the file to infra/mini.yaml or set the name to "edge"',
    ]);
  } finally {
    rmSync(repo, { recursive: true, force: true });
  }
});

/** A spec as data, changed by `edit`, written as YAML: for the values at the edges of each range. */
function specText(platform: 'lab' | 'equinix-metal', edit: (spec: Record<string, any>) => void): string {
  const metal = platform === 'equinix-metal';
  const spec: Record<string, any> = {
    platform,
    ...(metal ? { metro: 'da', gitops: { url: 'https://github.com/example/clusters' } } : {}),
    kubernetesVersion: 'v1.35.4',
    controlPlane: { count: 3, ...(metal ? { plan: 'c3.small.x86' } : {}) },
    workers: [{ name: 'general', count: 2, ...(metal ? { plan: 'm3.small.x86' } : {}) }],
    network: { ...(metal ? { blockSize: 56 } : { block: '2001:db8:100::/56' }) },
  };
  edit(spec); // `name` stands for metadata.name
  const { name = 'edge', ...rest } = spec;
  return stringify({ apiVersion: 'native6.dev/v1alpha1', kind: 'Cluster', metadata: { name }, spec: rest });
}

test('the values at the edges of every range decode', () => {
  const cases: Array<[string, 'lab' | 'equinix-metal', (s: Record<string, any>) => void, (spec: ClusterSpec) => unknown, unknown]> = [
    ['1 control plane', 'lab', (s) => (s.controlPlane.count = 1), (x) => x.controlPlane.count, 1],
    ['7 control planes', 'lab', (s) => (s.controlPlane.count = 7), (x) => x.controlPlane.count, 7],
    ['a pool of 0 machines', 'lab', (s) => (s.workers[0].count = 0), (x) => x.workers[0]!.count, 0],
    ['a pool of 32767 machines', 'equinix-metal', (s) => (s.workers[0].count = 32767), (x) => x.workers[0]!.count, 32767],
    ['150 lab machines', 'lab', (s) => (s.workers[0].count = 147), (x) => x.controlPlane.count + x.workers[0]!.count, 150],
    ['a /33 block', 'lab', (s) => (s.network.block = '2001:db8::/33'), (x) => x.network.block.length, 33],
    ['a /60 block', 'lab', (s) => (s.network.block = '2001:db8:100::/60'), (x) => x.network.block.length, 60],
    ['localASN 64512', 'lab', (s) => (s.network.localASN = 64512), (x) => x.network.localASN, 64512],
    ['localASN 65534', 'lab', (s) => (s.network.localASN = 65534), (x) => x.network.localASN, 65534],
    ['localASN 4200000000', 'lab', (s) => (s.network.localASN = 4200000000), (x) => x.network.localASN, 4200000000],
    ['localASN 4294967294', 'lab', (s) => (s.network.localASN = 4294967294), (x) => x.network.localASN, 4294967294],
    ['peerASN 1', 'lab', (s) => (s.network.peerASN = 1), (x) => x.network.peerASN, 1],
    ['peerASN 4294967294', 'lab', (s) => (s.network.peerASN = 4294967294), (x) => x.network.peerASN, 4294967294],
    ['serviceRangeSize 108', 'lab', (s) => (s.network.serviceRangeSize = 108), (x) => x.network.serviceRangeSize, 108],
    ['serviceRangeSize 120', 'lab', (s) => (s.network.serviceRangeSize = 120), (x) => x.network.serviceRangeSize, 120],
    ['podPoolSize 48 (in a /47)', 'lab', (s) => Object.assign(s.network, { block: '2001:db8:100::/47', podPoolSize: 48 }), (x) => x.network.podPoolSize, 48],
    ['podPoolSize 112', 'lab', (s) => (s.network.podPoolSize = 112), (x) => x.network.podPoolSize, 112],
    ['podPoolSize 57, the upper half of a /56', 'equinix-metal', (s) => (s.network.podPoolSize = 57), (x) => x.network.podPoolSize, 57],
    ['podBlockSize 116', 'lab', (s) => (s.network.podBlockSize = 116), (x) => x.network.podBlockSize, 116],
    ['podBlockSize 128', 'lab', (s) => (s.network.podBlockSize = 128), (x) => x.network.podBlockSize, 128],
    ['a /112 pool of /116 blocks for exactly 16 machines', 'lab', (s) => {
        Object.assign(s.network, { podPoolSize: 112, podBlockSize: 116 });
        s.workers[0].count = 13;
      }, (x) => x.controlPlane.count + x.workers[0]!.count, 16],
    ['loadBalancerRangeSize 64', 'lab', (s) => (s.network.loadBalancerRangeSize = 64), (x) => x.network.loadBalancerRangeSize, 64],
    ['loadBalancerRangeSize 124', 'lab', (s) => (s.network.loadBalancerRangeSize = 124), (x) => x.network.loadBalancerRangeSize, 124],
    ['externalIPRangeSize 64', 'lab', (s) => (s.network.externalIPRangeSize = 64), (x) => x.network.externalIPRangeSize, 64],
    ['externalIPRangeSize 124', 'lab', (s) => (s.network.externalIPRangeSize = 124), (x) => x.network.externalIPRangeSize, 124],
    ['Kubernetes v1.33.0', 'lab', (s) => (s.kubernetesVersion = 'v1.33.0'), (x) => x.kubernetesVersion, 'v1.33.0'],
    ['Kubernetes v1.36.0', 'lab', (s) => (s.kubernetesVersion = 'v1.36.0'), (x) => x.kubernetesVersion, 'v1.36.0'],
    ['a cluster name of 30 characters', 'lab', (s) => (s.name = 'abcdefghijklmnopqrstuvwxyz-abc'), (x) => x.name.length, 30],
    ['a pool name of 20 characters', 'lab', (s) => (s.workers[0].name = 'abcdefghij-klmnopqrs'), (x) => x.workers[0]!.name.length, 20],
  ];
  for (const [what, platform, edit, read, want] of cases) {
    const r = loadCluster('edge.yaml', specText(platform, edit));
    assert.ok(r.ok, `${what}: ${r.ok ? '' : r.problems.map(formatProblem).join('\n')}`);
    if (!r.ok) continue;
    assert.equal(read(r.spec), want, what);
  }
});

test('values the decoder accepts beyond the edges: other blocks on Equinix Metal, plan and DNS names, URLs, branches, durations, empty fields', () => {
  const label = (n: number, c: string) => c.repeat(n);
  const zone253 = [label(63, 'a'), label(63, 'b'), label(63, 'c'), label(61, 'd')].join('.');
  assert.equal(zone253.length, 253);
  const cases: Array<[string, 'lab' | 'equinix-metal', (s: Record<string, any>) => void, (spec: ClusterSpec) => unknown, unknown]> = [
    ['a block outside documentation space', 'equinix-metal', (s) => (s.network = { block: '2604:1380:4641:c500::/56' }), (x) => formatPrefix(x.network.block.prefix!), '2604:1380:4641:c500::/56'],
    ['a block in the lab provider\'s range (it is only the lab\'s)', 'equinix-metal', (s) => (s.network = { block: '2001:db8:ffff:ff00::/56' }), (x) => x.network.block.length, 56],
    ['a plan whose first part is three characters', 'equinix-metal', (s) => (s.controlPlane.plan = 'n2x.xlarge.x86'), (x) => x.controlPlane.plan, 'n2x.xlarge.x86'],
    ['an http:// repository', 'lab', (s) => (s.gitops = { url: 'http://git.example.com/clusters.git' }), (x) => x.gitops.url, 'http://git.example.com/clusters.git'],
    ['a branch with dots, slashes and underscores', 'lab', (s) => (s.gitops = { branch: 'release/1.2_x' }), (x) => x.gitops.branch, 'release/1.2_x'],
    ['a duration of three units', 'lab', (s) => (s.gitops = { interval: '1h30m15s' }), (x) => x.gitops.interval, '1h30m15s'],
    ['a zone of three labels and a one-letter record', 'equinix-metal', (s) => (s.dns = { zone: 'example.co.uk', name: 'k' }), (x) => x.dns, { zone: 'example.co.uk', name: 'k' }],
    ['a record of two labels', 'equinix-metal', (s) => (s.dns = { zone: 'example.io', name: 'api.cluster1' }), (x) => x.dns, { zone: 'example.io', name: 'api.cluster1' }],
    ['a zone of 253 characters', 'equinix-metal', (s) => (s.dns = { zone: zone253 }), (x) => x.dns?.zone, zone253],
    ['the well-known NAT64 prefix on Equinix Metal', 'equinix-metal', (s) => (s.egress = { nat64Prefix: '64:ff9b::/96' }), (x) => x.egress.nat64Prefix && formatPrefix(x.egress.nat64Prefix), '64:ff9b::/96'],
    // (ipv4: none is refused on both platforms, whose machines' resolvers are IPv4 only: test/unit/decode.test.ts.)
    ['IPv4 egress through NAT64 written out on Equinix Metal', 'equinix-metal', (s) => (s.egress = { ipv4: 'nat64' }), (x) => [x.egress, x.resolvers], [{ ipv4: 'nat64' }, ['147.75.207.207', '147.75.207.208']]],
    ['no publicSources beside trustedSources: the whole internet', 'lab', (s) => (s.policy = { trustedSources: ['2001:db8:ab00::/40'] }), (x) => x.policy.publicSources.map(formatPrefix), ['::/0']],
    [
      'fields present but empty take their defaults',
      'lab',
      (s) => Object.assign(s, { metro: null, controlPlane: null, workers: null, policy: null, egress: null, gitops: null, dns: null, network: { block: '2001:db8:100::/56', serviceRangeSize: null, localASN: null } }),
      (x) => [x.metro, x.controlPlane.count, x.workers.length, x.network.serviceRangeSize, x.network.localASN, x.policy.publicSources.map(formatPrefix), x.egress, x.gitops.branch, x.dns],
      ['lab', 3, 0, 112, 65000, ['::/0'], { ipv4: 'nat64' }, 'main', undefined],
    ],
  ];
  for (const [what, platform, edit, read, want] of cases) {
    const r = loadCluster('edge.yaml', specText(platform, edit));
    assert.ok(r.ok, `${what}: ${r.ok ? '' : r.problems.map(formatProblem).join('\n')}`);
    if (!r.ok) continue;
    assert.deepEqual(read(r.spec), want, what);
  }
  // One character more and the zone is refused.
  const r = loadCluster('edge.yaml', specText('equinix-metal', (s) => (s.dns = { zone: `${zone253}d` })));
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.deepEqual(r.problems.map(formatProblem), [`edge.yaml:21:11: spec.dns.zone: "${zone253}d" is not a DNS zone. Fix: write a domain in lower case, e.g. example.com`]);
});

test('an invalid name is reported once, not also as a file-name mismatch', () => {
  const r = loadCluster('infra/lab.yaml', readFileSync(new URL('invalid-name.yaml', dir), 'utf8'), { expectName: 'lab' });
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.deepEqual(r.problems.map(formatProblem), [
    'infra/lab.yaml:4:9: metadata.name: "Bad_Name" is not a valid cluster name. Fix: use at most 30 lower-case letters, digits and "-", starting and ending with a letter or digit',
  ]);
});

test('ProblemsError carries every problem and says them one a line', () => {
  const problems = [
    { file: 'a.yaml', line: 3, column: 5, field: 'spec.x', message: 'is wrong', fix: 'fix it' },
    { file: 'b.json', field: 'devices', message: 'must be a list', fix: 're-run apply' },
  ];
  const e = new ProblemsError(problems);
  assert.ok(e instanceof Error);
  assert.equal(e.name, 'ProblemsError');
  assert.equal(e.problems, problems);
  assert.equal(e.message, 'a.yaml:3:5: spec.x: is wrong. Fix: fix it\nb.json: devices: must be a list. Fix: re-run apply');
  assert.equal(formatProblem({ file: 'c', line: 7, field: '(document)', message: 'm', fix: 'f' }), 'c:7:1: (document): m. Fix: f');
});
