import { NotariatError } from "../errors.ts";

/** Where notariat's namespace may come from, in order of precedence. */
export interface NamespaceSources {
  /** The -namespace flag. */
  flag?: string;
  /** Contents of /var/run/secrets/kubernetes.io/serviceaccount/namespace when running in a pod. */
  podNamespaceFile?: string;
  /** The namespace of the kubeconfig's current context. */
  contextNamespace?: string;
}

/** The path of the pod's namespace file (mounted with the service account token). */
export const POD_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

/**
 * notariat's namespace: the flag, else the pod's namespace file, else the kubeconfig context's namespace.
 * There is no silent "default": running against the wrong namespace would manage the wrong ConfigMap.
 */
export function resolveNamespace(sources: NamespaceSources): string {
  const candidates: Array<[string, string | undefined]> = [
    ["-namespace", sources.flag],
    [POD_NAMESPACE_FILE, sources.podNamespaceFile],
    ["the kubeconfig context", sources.contextNamespace],
  ];
  for (const [origin, value] of candidates) {
    const namespace = value?.trim();
    if (namespace === undefined || namespace === "") continue;
    if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(namespace)) {
      throw new NotariatError(
        "usage",
        `namespace ${JSON.stringify(namespace)} from ${origin} is not a valid namespace name`,
      );
    }
    return namespace;
  }
  throw new NotariatError(
    "usage",
    "no namespace: pass -namespace, run in a pod, or set a namespace on the kubeconfig's current context",
  );
}
