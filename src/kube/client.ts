/**
 * The Kubernetes adapter: notariat's Kube interface (src/kube/types.ts) over the API server's REST API. The
 * connection comes from a kubeconfig (src/kube/kubeconfig.ts) or the pod's service account; requests go over
 * Deno's own fetch (src/kube/rest.ts) with the credentials of src/kube/credentials.ts.
 */
import { createCredentials, readPem } from "./credentials.ts";
import { accessFromKubeconfig, type ClusterAccess, inClusterAccess } from "./kubeconfig.ts";
import { leaseCalls } from "./lease.ts";
import { POD_NAMESPACE_FILE, resolveNamespace } from "./namespace.ts";
import { encodeData, fromEvent, fromSecret, toConfigMap, toEvent, toSecret } from "./objects.ts";
import { createRest, MERGE_PATCH, METADATA_LIST, type Rest } from "./rest.ts";
import { type Kube, KubeError, type ListResult, type Selector } from "./types.ts";
import { metadataItem } from "./watch_events.ts";
import {
  collection,
  openWatch,
  selectorQuery,
  WATCH_TIMEOUT_SECONDS,
  watchLiveness,
} from "./watch_stream.ts";
import { encodeBase64 } from "./base64.ts";
import { loadYaml } from "../config/yaml.ts";
import { describeYamlError } from "../config/yaml_error.ts";
import { errorMessage, NotariatError } from "../errors.ts";

/** How to reach the API server: a kubeconfig file, or (without one) the pod's service account. */
export interface KubeConnectOptions {
  /** Path of a kubeconfig file (-kubeconfig); absent: in-cluster configuration. */
  kubeconfig?: string;
  /** The -namespace flag. */
  namespace?: string;
  /** Where the pod's service account files are mounted; for tests of in-cluster mode. */
  serviceAccountPathPrefix?: string;
  /**
   * The timeoutSeconds sent with each watch (default 300 s): the API server ends the watch then and notariat
   * opens the next. 0 sends none, leaving it to the server (--min-request-timeout, 1800 s by default).
   */
  watchTimeoutSeconds?: number;
}

/**
 * Connects to Kubernetes from -kubeconfig or the in-cluster service account, and resolves notariat's
 * namespace (flag > pod namespace file > kubeconfig context). Files the configuration names (CA, client
 * certificate, token file) are read here, so a missing one fails at start; an exec plugin runs at the first
 * request (it needs --allow-run).
 */
export async function createKube(options: KubeConnectOptions): Promise<Kube> {
  const prefix = options.serviceAccountPathPrefix ?? "";
  let access: ClusterAccess;
  if (options.kubeconfig !== undefined && options.kubeconfig !== "") {
    access = accessFromKubeconfig(await readKubeconfig(options.kubeconfig), options.kubeconfig);
  } else {
    const host = Deno.env.get("KUBERNETES_SERVICE_HOST");
    if (!host) {
      throw new NotariatError(
        "usage",
        "not running in a cluster (KUBERNETES_SERVICE_HOST is unset): pass -kubeconfig",
      );
    }
    access = inClusterAccess(host, Deno.env.get("KUBERNETES_SERVICE_PORT"), prefix);
  }
  const namespace = resolveNamespace({
    flag: options.namespace,
    podNamespaceFile: await readOptional(prefix + POD_NAMESPACE_FILE),
    contextNamespace: access.namespace,
  });
  const credentials = await createCredentials(access);
  const rest = createRest({
    server: access.server,
    caPem: access.ca && await readPem(access.ca, "certificate-authority"),
    proxyUrl: access.proxyUrl,
    clientCert: credentials.clientCert,
    credentials,
  });
  return kubeOver(rest, namespace, options.watchTimeoutSeconds ?? WATCH_TIMEOUT_SECONDS);
}

/** The parsed kubeconfig file; a YAML error never quotes the file (tokens, passwords, key data). */
async function readKubeconfig(path: string): Promise<unknown> {
  try {
    const text = await Deno.readTextFile(path);
    if (text.trim() === "") throw new Error(`the kubeconfig ${path} is empty`);
    return loadYaml(text);
  } catch (err) {
    const problem = describeYamlError(err) ?? errorMessage(err);
    throw new NotariatError("usage", `cannot load the Kubernetes configuration: ${problem}`, { cause: err });
  }
}

const namespaced = (ns: string, kind: string, name?: string) =>
  `/api/v1/namespaces/${encodeURIComponent(ns)}/${kind}${
    name === undefined ? "" : `/${encodeURIComponent(name)}`
  }`;

/** A 404 as undefined, any other failure thrown. */
async function orMissing<T>(call: Promise<T>): Promise<T | undefined> {
  try {
    return await call;
  } catch (err) {
    if (err instanceof KubeError && err.status === 404) return undefined;
    throw err;
  }
}

function kubeOver(rest: Rest, namespace: string, watchTimeoutSeconds: number): Kube {
  const liveness = watchLiveness(rest);
  const leases = leaseCalls(rest);
  return {
    namespace,
    async readConfigMap(ns, name) {
      const body = await orMissing(
        rest.json(`get ConfigMap ${ns}/${name}`, namespaced(ns, "configmaps", name)),
      );
      return body === undefined ? undefined : toConfigMap(body);
    },
    async readSecret(ns, name) {
      const body = await orMissing(rest.json(`get Secret ${ns}/${name}`, namespaced(ns, "secrets", name)));
      return body === undefined ? undefined : toSecret(body);
    },
    async createSecret(secret) {
      const action = `create Secret ${secret.namespace}/${secret.name}`;
      const path = namespaced(secret.namespace, "secrets");
      return toSecret(await rest.json(action, path, { method: "POST", body: fromSecret(secret) }));
    },
    async updateSecret(secret) {
      const body = {
        metadata: {
          resourceVersion: secret.resourceVersion,
          labels: secret.labels,
          annotations: secret.annotations,
        },
        type: secret.type,
        data: encodeData(secret.data),
      };
      const action = `update Secret ${secret.namespace}/${secret.name}`;
      const path = namespaced(secret.namespace, "secrets", secret.name);
      return toSecret(await rest.json(action, path, { method: "PATCH", body, contentType: MERGE_PATCH }));
    },
    async patchSecretData(ns, name, data) {
      const body = {
        data: Object.fromEntries(
          Object.entries(data).map(([key, value]) => [key, value === null ? null : encodeBase64(value)]),
        ),
      };
      await rest.json(`update Secret ${ns}/${name}`, namespaced(ns, "secrets", name), {
        method: "PATCH",
        body,
        contentType: MERGE_PATCH,
      });
    },
    async createEvent(event) {
      const created = await rest.json(
        `create Event in ${event.namespace}`,
        namespaced(event.namespace, "events"),
        {
          method: "POST",
          body: fromEvent(event),
        },
      ) as { metadata?: { name?: string } };
      return created?.metadata?.name ?? "";
    },
    async updateEventCount(ns, name, count, lastTimestamp) {
      await rest.json(`update Event ${ns}/${name}`, namespaced(ns, "events", name), {
        method: "PATCH",
        body: { count, lastTimestamp: lastTimestamp.toISOString() },
        contentType: MERGE_PATCH,
      });
    },
    listMetadata(resource, ns, selector = {}) {
      const action = `list ${resource} in ${ns}`;
      // resourceVersion=0: served from the API server's watch cache instead of a read of every object from
      // etcd (large unrelated Secrets included), as client-go's informers start; the watch catches up.
      return listPages(rest, action, collection(resource, ns), selector, METADATA_LIST, metadataItem, {
        resourceVersion: "0",
      });
    },
    listSecrets(ns, selector) {
      const action = `list Secrets in ${ns}`;
      return listPages(rest, action, collection("secrets", ns), selector, "application/json", toSecret);
    },
    watchMetadata(resource, ns, selector, resourceVersion, handlers) {
      return openWatch(
        rest,
        liveness,
        watchTimeoutSeconds,
        resource,
        ns,
        selector,
        resourceVersion,
        handlers,
      );
    },
    close() {
      liveness.stop();
      rest.close();
      return Promise.resolve();
    },
    readLease(ns, name) {
      return orMissing(leases.read(`get Lease ${ns}/${name}`, ns, name));
    },
    createLease(lease) {
      return leases.create(`create Lease ${lease.namespace}/${lease.name}`, lease);
    },
    replaceLease(lease) {
      return leases.replace(`update Lease ${lease.namespace}/${lease.name}`, lease);
    },
    async listEvents(ns, subject) {
      const fieldSelector = `involvedObject.kind=${subject.kind},involvedObject.name=${subject.name}`;
      const list = await rest.json(`list Events in ${ns}`, namespaced(ns, "events"), {
        query: { fieldSelector },
      }) as { items?: unknown[] };
      return (list?.items ?? []).map(toEvent).sort((a, b) =>
        a.lastTimestamp.getTime() - b.lastTimestamp.getTime()
      );
    },
  };
}

/**
 * How many objects one list page holds: a namespace of 10,000 Secrets is read in pieces of bounded memory
 * (each page's JSON is parsed and dropped before the next one comes), as client-go's reflector does.
 */
const LIST_PAGE_SIZE = 500;

/** Lists every page (limit/continue) of a collection; the result's version is the first page's. */
async function listPages<T>(
  rest: Rest,
  action: string,
  path: string,
  selector: Selector,
  accept: string,
  convert: (object: Record<string, unknown>) => T | undefined,
  extra: Record<string, string> = {},
): Promise<ListResult<T>> {
  const items: T[] = [];
  let resourceVersion: string | undefined;
  let token: string | undefined;
  do {
    const query = {
      ...selectorQuery(selector),
      ...extra,
      limit: String(LIST_PAGE_SIZE),
      ...(token ? { continue: token } : {}),
    };
    const body = await rest.json(action, path, { query, accept });
    const page = listOf(action, body, convert);
    resourceVersion ??= page.resourceVersion;
    items.push(...page.items);
    const next = (body as { metadata?: { continue?: unknown } })?.metadata?.continue;
    token = typeof next === "string" && next !== "" ? next : undefined;
  } while (token !== undefined);
  return { items, resourceVersion: resourceVersion! };
}

/** A list answer's items (each converted; an item that does not convert is skipped) and resourceVersion. */
function listOf<T>(
  action: string,
  body: unknown,
  convert: (object: Record<string, unknown>) => T | undefined,
): ListResult<T> {
  const list = body as { items?: unknown; metadata?: { resourceVersion?: unknown } };
  const version = list?.metadata?.resourceVersion;
  // An empty list comes without items (null or absent).
  const raw = list?.items ?? [];
  if (!Array.isArray(raw) || typeof version !== "string") {
    throw new KubeError(0, `${action}: the answer is not a list`);
  }
  const items: T[] = [];
  for (const item of raw) {
    if (item === null || typeof item !== "object") continue;
    const converted = convert(item as Record<string, unknown>);
    if (converted !== undefined) items.push(converted);
  }
  return { items, resourceVersion: version };
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.PermissionDenied) return undefined;
    throw err;
  }
}
