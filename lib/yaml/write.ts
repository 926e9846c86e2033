/**
 * Deterministic YAML for everything the product writes (manifests,
 * kubeconfigs, cloud-init): the same value always gives the same bytes.
 *
 * Strings are quoted wherever a YAML 1.1 parser (go-yaml v2, which kubectl
 * and Flux read through sigs.k8s.io/yaml) would take them for something
 * else: yes/no/on/off, sexagesimal numbers, octal. The output then reads the
 * same under YAML 1.1 and 1.2.
 */
import { stringify } from 'yaml';

export function toYaml(value: unknown): string {
  return stringify(value, { version: '1.1', lineWidth: 0, indentSeq: true, aliasDuplicateObjects: false });
}
