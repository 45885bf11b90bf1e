/**
 * The YAML reader for documents that are not the ConfigMap (the kubeconfig): the one place outside
 * src/config/parse.ts that reaches js-yaml, so the library stays behind src/config/.
 */
import { load } from "js-yaml";

/**
 * Parses one YAML 1.2 document (JSON is YAML too). Throws js-yaml's YAMLException on a syntax error: tell it
 * with `describeYamlError` (src/config/yaml_error.ts), which quotes none of the document's lines.
 */
export function loadYaml(text: string): unknown {
  return load(text);
}
