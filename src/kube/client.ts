/**
 * The Kubernetes adapter: the only module that imports @kubernetes/client-node. It turns the library's objects
 * and exceptions into notariat's own types (src/kube/types.ts) and KubeError.
 */
import {
  ApiException,
  CoordinationV1Api,
  CoreV1Api,
  type CoreV1Event,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1ConfigMap,
  type V1ObjectMeta,
  type V1Secret,
  VersionApi,
} from "@kubernetes/client-node";
import { decodeBase64, encodeBase64 } from "./base64.ts";
import { grantHint, parseDenied } from "./forbidden.ts";
import { leaseCalls } from "./lease.ts";
import { POD_NAMESPACE_FILE, resolveNamespace } from "./namespace.ts";
import {
  type Kube,
  type KubeConfigMap,
  KubeError,
  type KubeEvent,
  type KubeSecret,
  type ListResult,
  type ObjectMeta,
  type Selector,
  type WatchConnection,
  type WatchedResource,
  type WatchHandlers,
} from "./types.ts";
import { createRest, METADATA_LIST, METADATA_WATCH, type Rest, statusMessage } from "./rest.ts";
import { decodeWatchEvent, lineSplitter, metadataItem } from "./watch_events.ts";
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
 * namespace (flag > pod namespace file > kubeconfig context). Under Deno, in-cluster mode needs
 * --allow-sys=uid (else client-node ignores the namespace file).
 */
export async function createKube(options: KubeConnectOptions): Promise<Kube> {
  const config = new KubeConfig();
  const prefix = options.serviceAccountPathPrefix ?? "";
  try {
    if (options.kubeconfig !== undefined && options.kubeconfig !== "") {
      config.loadFromFile(options.kubeconfig);
    } else if (Deno.env.get("KUBERNETES_SERVICE_HOST")) {
      config.loadFromCluster(prefix);
    } else {
      throw new NotariatError(
        "usage",
        "not running in a cluster (KUBERNETES_SERVICE_HOST is unset): pass -kubeconfig",
      );
    }
  } catch (err) {
    if (err instanceof NotariatError) throw err;
    throw new NotariatError("usage", `cannot load the Kubernetes configuration: ${configProblem(err)}`, {
      cause: err,
    });
  }
  if (config.getCurrentCluster() === null) {
    throw new NotariatError(
      "usage",
      `the kubeconfig ${options.kubeconfig ?? ""} has no current context with a cluster`,
    );
  }
  const namespace = resolveNamespace({
    flag: options.namespace,
    podNamespaceFile: await readOptional(prefix + POD_NAMESPACE_FILE),
    contextNamespace: config.getContextObject(config.getCurrentContext())?.namespace,
  });
  return kubeFromConfig(config, namespace, options.watchTimeoutSeconds ?? WATCH_TIMEOUT_SECONDS);
}

/** What notariat uses of undici's Agent (client-node keeps it typed as private). */
interface Dispatcher {
  dispatch(options: Record<string, unknown>, handler: unknown): boolean;
  destroy(): Promise<void>;
}

/**
 * Makes `dispatcher` speak HTTP/1.1 only. undici negotiates HTTP/2 with the API server by default, and under
 * Deno a restarting API server's GOAWAY on that connection was seen to abort the whole process in nghttp2
 * (`find_stream_on_goaway_func: Assertion failed`).
 */
function http1Only(dispatcher: Dispatcher): Dispatcher {
  const dispatch = dispatcher.dispatch.bind(dispatcher);
  dispatcher.dispatch = (options, handler) => dispatch({ ...options, allowH2: false }, handler);
  return dispatcher;
}

/**
 * client-node 2.x builds a new connection pool (undici Agent) for every request, each keeping its TLS
 * connection alive: many calls leave many idle connections, and a process that exits while the server closes
 * them can crash. Here all requests share one pool; the returned function ends it.
 */
function shareConnections(config: KubeConfig): () => Promise<void> {
  // createDispatcher is private in client-node's types; its behaviour (options → Agent) is kept.
  const internals = config as unknown as { createDispatcher(...args: unknown[]): Dispatcher | undefined };
  const create = internals.createDispatcher.bind(config);
  let shared: Dispatcher | undefined;
  internals.createDispatcher = (...args) => {
    if (shared !== undefined) return shared;
    const created = create(...args);
    shared = created && http1Only(created);
    return shared;
  };
  return async () => {
    const dispatcher = shared;
    shared = undefined;
    await dispatcher?.destroy().catch(() => {});
  };
}

/** How often open watches check that the API server still answers (see `watchLiveness`). */
const LIVENESS_INTERVAL_MS = 3000;
/** How long the liveness check waits for /version before it takes the server for gone. */
const LIVENESS_TIMEOUT_MS = 5000;
/** The timeoutSeconds sent with each watch: the API server ends it then, and notariat opens the next. */
const WATCH_TIMEOUT_SECONDS = 300;
/**
 * A watch that carried no byte (no event, no bookmark) for this long past the timeout it asked for is taken
 * for dead and ended as failed: the server would have ended it by then, so the silence means a connection
 * lost without a word (a half-open TCP connection). Without a timeout of notariat's own, the server picks one
 * (--min-request-timeout, at most 3600 s by default), hence the longer wait.
 */
const WATCH_SILENCE_GRACE_MS = 30_000;
const WATCH_SILENCE_WITHOUT_TIMEOUT_MS = 2 * 3600_000;

/** Open watch connections, ended as failed when the API server stops answering. */
interface WatchLiveness {
  /** Tracks a connection until the returned function is called; `lost` ends it as failed. */
  track(lost: (cause: unknown) => void): () => void;
  stop(): void;
}

/**
 * Under Deno, a watch whose API server dies (crash, restart, node loss) is never told: no error, no end of
 * stream, and client-node's inactivity timeout cannot end it either, so the controller would stay deaf until
 * its periodic pass. While watches are open, the server's /version is fetched every few seconds; when that
 * fails without an HTTP answer (the server is unreachable), every open watch is ended as failed, and its
 * owner reconnects, resuming from the last version seen. One small request for all watches, only while any
 * are open.
 */
function watchLiveness(version: VersionApi): WatchLiveness {
  const open = new Set<(cause: unknown) => void>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const check = async () => {
    timer = undefined;
    // A server going down may take the request and never answer it: waiting for that would stop the checks.
    let expire: ReturnType<typeof setTimeout> | undefined;
    const silent = new Promise<never>((_, reject) => {
      expire = setTimeout(
        () => reject(new Error(`no answer to GET /version within ${LIVENESS_TIMEOUT_MS} ms`)),
        LIVENESS_TIMEOUT_MS,
      );
    });
    try {
      await Promise.race([version.getCode(), silent]);
    } catch (err) {
      // An HTTP answer (even an error) means the server, and the connections to it, are alive.
      if (!(err instanceof ApiException)) {
        for (const lost of [...open]) lost(err);
      }
    } finally {
      clearTimeout(expire);
    }
    schedule();
  };
  const schedule = () => {
    if (timer === undefined && open.size > 0) timer = setTimeout(check, LIVENESS_INTERVAL_MS);
  };
  return {
    track(lost) {
      open.add(lost);
      schedule();
      return () => {
        open.delete(lost);
        if (open.size === 0 && timer !== undefined) {
          clearTimeout(timer);
          timer = undefined;
        }
      };
    },
    stop() {
      open.clear();
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
  };
}

function kubeFromConfig(config: KubeConfig, namespace: string, watchTimeoutSeconds: number): Kube {
  const closeConnections = shareConnections(config);
  const core = config.makeApiClient(CoreV1Api);
  const rest = createRest(config);
  const liveness = watchLiveness(config.makeApiClient(VersionApi));
  const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
  const leases = leaseCalls(config.makeApiClient(CoordinationV1Api));
  return {
    namespace,
    async readConfigMap(ns, name) {
      try {
        return toConfigMap(await core.readNamespacedConfigMap({ namespace: ns, name }));
      } catch (err) {
        if (err instanceof ApiException && err.code === 404) return undefined;
        throw kubeError(`get ConfigMap ${ns}/${name}`, err);
      }
    },
    async readSecret(ns, name) {
      try {
        return toSecret(await core.readNamespacedSecret({ namespace: ns, name }));
      } catch (err) {
        if (err instanceof ApiException && err.code === 404) return undefined;
        throw kubeError(`get Secret ${ns}/${name}`, err);
      }
    },
    async createSecret(secret) {
      try {
        return toSecret(
          await core.createNamespacedSecret({ namespace: secret.namespace, body: fromSecret(secret) }),
        );
      } catch (err) {
        throw kubeError(`create Secret ${secret.namespace}/${secret.name}`, err);
      }
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
      try {
        return toSecret(
          await core.patchNamespacedSecret(
            { namespace: secret.namespace, name: secret.name, body },
            mergePatch,
          ),
        );
      } catch (err) {
        throw kubeError(`update Secret ${secret.namespace}/${secret.name}`, err);
      }
    },
    async patchSecretData(ns, name, data) {
      const body = {
        data: Object.fromEntries(
          Object.entries(data).map(([key, value]) => [key, value === null ? null : encodeBase64(value)]),
        ),
      };
      try {
        await core.patchNamespacedSecret({ namespace: ns, name, body }, mergePatch);
      } catch (err) {
        throw kubeError(`update Secret ${ns}/${name}`, err);
      }
    },
    async createEvent(event) {
      try {
        const created = await core.createNamespacedEvent({
          namespace: event.namespace,
          body: fromEvent(event),
        });
        return created.metadata?.name ?? "";
      } catch (err) {
        throw kubeError(`create Event in ${event.namespace}`, err);
      }
    },
    async updateEventCount(ns, name, count, lastTimestamp) {
      try {
        await core.patchNamespacedEvent(
          { namespace: ns, name, body: { count, lastTimestamp: lastTimestamp.toISOString() } },
          mergePatch,
        );
      } catch (err) {
        throw kubeError(`update Event ${ns}/${name}`, err);
      }
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
      const convert = (object: Record<string, unknown>) => toSecret(object as V1Secret);
      return listPages(rest, action, collection("secrets", ns), selector, "application/json", convert);
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
      return closeConnections();
    },
    async readLease(ns, name) {
      try {
        return await leases.read(ns, name);
      } catch (err) {
        if (err instanceof ApiException && err.code === 404) return undefined;
        throw kubeError(`get Lease ${ns}/${name}`, err);
      }
    },
    async createLease(lease) {
      try {
        return await leases.create(lease);
      } catch (err) {
        throw kubeError(`create Lease ${lease.namespace}/${lease.name}`, err);
      }
    },
    async replaceLease(lease) {
      try {
        return await leases.replace(lease);
      } catch (err) {
        throw kubeError(`update Lease ${lease.namespace}/${lease.name}`, err);
      }
    },
    async listEvents(ns, subject) {
      const fieldSelector = `involvedObject.kind=${subject.kind},involvedObject.name=${subject.name}`;
      try {
        const list = await core.listNamespacedEvent({ namespace: ns, fieldSelector });
        return list.items.map(toEvent).sort((a, b) => a.lastTimestamp.getTime() - b.lastTimestamp.getTime());
      } catch (err) {
        throw kubeError(`list Events in ${ns}`, err);
      }
    },
  };
}

function collection(resource: WatchedResource, namespace: string): string {
  return `/api/v1/namespaces/${encodeURIComponent(namespace)}/${resource}`;
}

function selectorQuery(selector: Selector): Record<string, string> {
  const query: Record<string, string> = {};
  if (selector.labelSelector) query.labelSelector = selector.labelSelector;
  if (selector.fieldSelector) query.fieldSelector = selector.fieldSelector;
  return query;
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
    const body = await rest.getJson(action, path, query, accept);
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

/**
 * Opens a metadata watch and reads it to its end, telling `handlers.closed` exactly once how it ended: the
 * server ended it (undefined), the connection failed, the API server stopped answering (the liveness check),
 * or it stayed silent past its timeout (see WATCH_SILENCE_GRACE_MS). Nothing is reported after `abort()`.
 */
async function openWatch(
  rest: Rest,
  liveness: WatchLiveness,
  timeoutSeconds: number,
  resource: WatchedResource,
  namespace: string,
  selector: Selector,
  resourceVersion: string,
  handlers: WatchHandlers,
): Promise<WatchConnection> {
  const action = `watch ${resource} in ${namespace}`;
  const controller = new AbortController();
  let ended = false;
  let silence: ReturnType<typeof setTimeout> | undefined;
  const silenceMs = timeoutSeconds > 0
    ? timeoutSeconds * 1000 + WATCH_SILENCE_GRACE_MS
    : WATCH_SILENCE_WITHOUT_TIMEOUT_MS;
  const end = (error: unknown | undefined) => {
    if (ended) return;
    ended = true;
    clearTimeout(silence);
    untrack();
    controller.abort();
    handlers.closed(error);
  };
  const untrack = liveness.track((cause) => {
    end(kubeError(`${action}: the API server stopped answering`, cause));
  });
  const heard = () => {
    clearTimeout(silence);
    silence = setTimeout(
      () => end(new KubeError(0, `${action}: no data for ${silenceMs / 1000} s`)),
      silenceMs,
    );
  };
  const query: Record<string, string> = {
    ...selectorQuery(selector),
    watch: "true",
    allowWatchBookmarks: "true",
    resourceVersion,
  };
  if (timeoutSeconds > 0) query.timeoutSeconds = String(timeoutSeconds);
  let body: ReadableStream<Uint8Array>;
  try {
    heard();
    body = await rest.stream(
      action,
      collection(resource, namespace),
      query,
      METADATA_WATCH,
      controller.signal,
    );
  } catch (err) {
    ended = true;
    clearTimeout(silence);
    untrack();
    throw err;
  }
  const reader = body.getReader();
  const split = lineSplitter();
  (async () => {
    try {
      while (!ended) {
        const { done, value } = await reader.read();
        if (done) return end(undefined);
        heard();
        for (const line of split(value)) {
          const event = decodeWatchEvent(line);
          if (event !== undefined && !ended) handlers.event(event);
        }
      }
    } catch (err) {
      end(kubeError(action, err));
    }
  })();
  return {
    abort() {
      if (ended) return;
      ended = true;
      clearTimeout(silence);
      untrack();
      controller.abort();
      reader.cancel().catch(() => {});
    },
  };
}

function meta(object: { metadata?: V1ObjectMeta }): ObjectMeta {
  const m = object.metadata ?? {};
  return {
    namespace: m.namespace ?? "",
    name: m.name ?? "",
    uid: m.uid,
    resourceVersion: m.resourceVersion,
    labels: { ...(m.labels ?? {}) },
    annotations: { ...(m.annotations ?? {}) },
  };
}

function toConfigMap(object: V1ConfigMap): KubeConfigMap {
  return { ...meta(object), data: { ...(object.data ?? {}) } };
}

function toSecret(object: V1Secret): KubeSecret {
  const data: Record<string, Uint8Array> = {};
  for (const [key, value] of Object.entries(object.data ?? {})) data[key] = decodeBase64(value);
  return { ...meta(object), type: object.type ?? "Opaque", data };
}

function encodeData(data: Record<string, Uint8Array>): Record<string, string> {
  return Object.fromEntries(Object.entries(data).map(([key, value]) => [key, encodeBase64(value)]));
}

function fromSecret(secret: KubeSecret): V1Secret {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      namespace: secret.namespace,
      name: secret.name,
      labels: secret.labels,
      annotations: secret.annotations,
    },
    type: secret.type,
    data: encodeData(secret.data),
  };
}

function fromEvent(event: KubeEvent): CoreV1Event {
  return {
    apiVersion: "v1",
    kind: "Event",
    metadata: { namespace: event.namespace, generateName: `${event.subject.name}.` },
    involvedObject: { ...event.subject },
    type: event.type,
    reason: event.reason,
    message: event.message,
    count: event.count,
    firstTimestamp: event.firstTimestamp,
    lastTimestamp: event.lastTimestamp,
    source: { component: "notariat" },
    reportingComponent: "notariat",
    reportingInstance: hostname(),
  };
}

function toEvent(event: CoreV1Event): KubeEvent {
  const involved = event.involvedObject ?? {};
  const first = toTime(event.firstTimestamp ?? event.eventTime ?? event.metadata?.creationTimestamp);
  return {
    namespace: event.metadata?.namespace ?? "",
    subject: {
      kind: involved.kind ?? "",
      apiVersion: involved.apiVersion ?? "",
      namespace: involved.namespace ?? "",
      name: involved.name ?? "",
      uid: involved.uid,
    },
    type: event.type === "Warning" ? "Warning" : "Normal",
    reason: event.reason ?? "",
    message: event.message ?? "",
    count: event.count ?? 1,
    firstTimestamp: first,
    lastTimestamp: event.lastTimestamp === undefined ? first : toTime(event.lastTimestamp),
  };
}

function toTime(value: unknown): Date {
  if (value instanceof Date) return value;
  return typeof value === "string" ? new Date(value) : new Date(0);
}

function kubeError(action: string, err: unknown): KubeError {
  if (err instanceof KubeError) return err;
  if (err instanceof ApiException) {
    const message = statusMessage(err.body);
    const denied = err.code === 403 ? parseDenied(message) : undefined;
    const hint = denied === undefined ? "" : `; ${grantHint(denied)}`;
    return new KubeError(err.code, `${action}: ${err.code} ${message}${hint}`, { cause: err });
  }
  const status = (err as { statusCode?: unknown })?.statusCode;
  return new KubeError(typeof status === "number" ? status : 0, `${action}: ${errorMessage(err)}`, {
    cause: err,
  });
}

/** Why a kubeconfig did not load; a YAML error never quotes the file (tokens, passwords, key data). */
function configProblem(err: unknown): string {
  return describeYamlError(err) ?? errorMessage(err);
}

// The pod name in a cluster; optional, since it needs --allow-sys=hostname.
function hostname(): string | undefined {
  try {
    return Deno.hostname();
  } catch {
    return undefined;
  }
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.PermissionDenied) return undefined;
    throw err;
  }
}
