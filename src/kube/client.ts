/**
 * The Kubernetes adapter: the only module that imports @kubernetes/client-node. It turns the library's objects
 * and exceptions into notariat's own types (src/kube/types.ts) and KubeError.
 */
import {
  ApiException,
  CoreV1Api,
  type CoreV1Event,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1ConfigMap,
  type V1ObjectMeta,
  type V1Secret,
  VersionApi,
  Watch,
} from "@kubernetes/client-node";
import { decodeBase64, encodeBase64 } from "./base64.ts";
import { POD_NAMESPACE_FILE, resolveNamespace } from "./namespace.ts";
import {
  type Kube,
  type KubeConfigMap,
  KubeError,
  type KubeEvent,
  type KubeSecret,
  type ObjectMeta,
  type WatchConnection,
  type WatchedResource,
  type WatchHandlers,
} from "./types.ts";
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
  /** How long the API server keeps one watch open before notariat opens the next (default 300 s). */
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
/**
 * The API server ends each watch after this long (timeoutSeconds), and the adapter ends it itself a little
 * later if the server did not: a watch that went deaf unnoticed (the server restarted between two liveness
 * checks) is replaced within minutes, not at the next periodic pass.
 */
const WATCH_TIMEOUT_SECONDS = 300;
const WATCH_DEADLINE_GRACE_MS = 30_000;

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
  const watcher = new Watch(config);
  const liveness = watchLiveness(config.makeApiClient(VersionApi));
  const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
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
    watch(resource, ns, name, resourceVersion, handlers) {
      return openWatch(watcher, liveness, watchTimeoutSeconds, resource, ns, name, resourceVersion, handlers);
    },
    close() {
      liveness.stop();
      return closeConnections();
    },
  };
}

async function openWatch(
  watcher: Watch,
  liveness: WatchLiveness,
  timeoutSeconds: number,
  resource: WatchedResource,
  namespace: string,
  name: string,
  resourceVersion: string | undefined,
  handlers: WatchHandlers,
): Promise<WatchConnection> {
  let aborted = false;
  let gone = false;
  let serverError: KubeError | undefined;
  // Set once the request is under way; a watch ended before that is aborted as soon as it is.
  const opened: { controller?: AbortController } = {};
  const untrack = liveness.track((cause) => {
    if (aborted) return;
    aborted = true;
    untrack();
    opened.controller?.abort();
    handlers.closed(
      kubeError(`watch ${resource} ${namespace}/${name}: the API server stopped answering`, cause),
      false,
    );
  });
  // Past the deadline the watch is ended as if the server had ended it: its owner reconnects at once.
  const deadline = setTimeout(() => {
    if (aborted) return;
    aborted = true;
    untrack();
    opened.controller?.abort();
    handlers.closed(undefined, false);
  }, timeoutSeconds * 1000 + WATCH_DEADLINE_GRACE_MS);
  const untrackAll = () => {
    clearTimeout(deadline);
    untrack();
  };
  let controller: AbortController;
  try {
    controller = await watcher.watch(
      `/api/v1/namespaces/${encodeURIComponent(namespace)}/${resource}`,
      {
        fieldSelector: `metadata.name=${name}`,
        resourceVersion,
        allowWatchBookmarks: true,
        timeoutSeconds,
      },
      (type: string, object: { metadata?: V1ObjectMeta; code?: number; message?: string }) => {
        if (aborted) return;
        const version = object?.metadata?.resourceVersion ?? "";
        if (type === "ADDED" || type === "MODIFIED" || type === "DELETED") {
          handlers.change({ type, resourceVersion: version });
        } else if (type === "BOOKMARK") {
          handlers.progress?.(version);
        } else if (type === "ERROR") {
          // A Status object: 410 Gone means the resume version is too old; the server closes the stream next.
          gone ||= object?.code === 410;
          serverError = new KubeError(
            object?.code ?? 0,
            `watch ${resource} ${namespace}/${name}: ${object?.message}`,
          );
        }
      },
      (err: unknown) => {
        untrackAll();
        if (aborted) return;
        aborted = true;
        handlers.closed(err ? kubeError(`watch ${resource} ${namespace}/${name}`, err) : serverError, gone);
      },
    );
  } catch (err) {
    untrackAll();
    throw err;
  }
  opened.controller = controller;
  if (aborted) controller.abort();
  return {
    abort() {
      aborted = true;
      untrackAll();
      controller.abort();
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

function kubeError(action: string, err: unknown): KubeError {
  if (err instanceof KubeError) return err;
  if (err instanceof ApiException) {
    return new KubeError(err.code, `${action}: ${err.code} ${statusMessage(err.body)}`, { cause: err });
  }
  const status = (err as { statusCode?: unknown })?.statusCode;
  return new KubeError(typeof status === "number" ? status : 0, `${action}: ${errorMessage(err)}`, {
    cause: err,
  });
}

// client-node 2.x leaves the body as the raw JSON text of a Status.
function statusMessage(body: unknown): string {
  try {
    const status = typeof body === "string" ? JSON.parse(body) : body;
    if (typeof status?.message === "string") return status.message;
  } catch {
    // not JSON: use it as it is
  }
  return String(body ?? "").slice(0, 300);
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
