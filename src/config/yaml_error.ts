/**
 * How a YAML syntax error is told, for the ConfigMap and the kubeconfig alike: js-yaml's own message quotes the
 * lines around the mistake, which in a kubeconfig may hold a token, a password or key data, so only its reason
 * and position are kept.
 */

/**
 * `YAML syntax error at line 3, column 5: <reason>` for a js-yaml YAMLException (without the position when it
 * has none); undefined for anything else, so the caller keeps its own message for other failures.
 */
export function describeYamlError(err: unknown): string | undefined {
  const yaml = err as
    | { name?: unknown; reason?: unknown; mark?: { line?: unknown; column?: unknown } }
    | null;
  if (yaml?.name !== "YAMLException" || typeof yaml.reason !== "string") return undefined;
  const { line, column } = yaml.mark ?? {};
  const where = typeof line === "number" && typeof column === "number"
    ? ` at line ${line + 1}, column ${column + 1}`
    : "";
  return `YAML syntax error${where}: ${yaml.reason}`;
}
