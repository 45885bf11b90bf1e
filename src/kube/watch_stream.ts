/**
 * One metadata watch connection, read to its end: every way it can end is noticed and told once (the server
 * ended it, the connection failed, the API server stopped answering, or it went silent past its timeout).
 */
import { errorMessage } from "../errors.ts";
import { METADATA_WATCH, type Rest } from "./rest.ts";
import {
  KubeError,
  type Selector,
  type WatchConnection,
  type WatchedResource,
  type WatchHandlers,
} from "./types.ts";
import { decodeWatchEvent, lineSplitter } from "./watch_events.ts";

/** How often open watches check that the API server still answers (see `watchLiveness`). */
const LIVENESS_INTERVAL_MS = 3000;
/** How long the liveness check waits for /version before it takes the server for gone. */
const LIVENESS_TIMEOUT_MS = 5000;
/** The timeoutSeconds sent with each watch: the API server ends it then, and notariat opens the next. */
export const WATCH_TIMEOUT_SECONDS = 300;
/**
 * A watch that carried no byte (no event, no bookmark) for this long past the timeout it asked for is taken
 * for dead and ended as failed: the server would have ended it by then, so the silence means a connection
 * lost without a word (a half-open TCP connection). Without a timeout of notariat's own, the server picks one
 * (--min-request-timeout, at most 3600 s by default), hence the longer wait.
 */
const WATCH_SILENCE_GRACE_MS = 30_000;
const WATCH_SILENCE_WITHOUT_TIMEOUT_MS = 2 * 3600_000;

/** Open watch connections, ended as failed when the API server stops answering. */
export interface WatchLiveness {
  /** Tracks a connection until the returned function is called; `lost` ends it as failed. */
  track(lost: (cause: unknown) => void): () => void;
  stop(): void;
}

/**
 * Under Deno, a watch whose API server dies (crash, restart, node loss) is never told: no error, no end of
 * stream, and no read times out either, so the controller would stay deaf until its periodic pass. While watches are open, the server's /version is fetched every few seconds; when that
 * fails without an HTTP answer (the server is unreachable), every open watch is ended as failed, and its
 * owner reconnects, resuming from the last version seen. One small request for all watches, only while any
 * are open.
 */
export function watchLiveness(rest: Rest): WatchLiveness {
  const open = new Set<(cause: unknown) => void>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const check = async () => {
    timer = undefined;
    // A server going down may take the request and never answer it: waiting for that would stop the checks.
    const controller = new AbortController();
    const expire = setTimeout(
      () => controller.abort(new Error(`no answer to GET /version within ${LIVENESS_TIMEOUT_MS} ms`)),
      LIVENESS_TIMEOUT_MS,
    );
    try {
      await rest.json("get /version", "/version", { signal: controller.signal });
    } catch (err) {
      // An HTTP answer (even an error) means the server, and the connections to it, are alive.
      if (!(err instanceof KubeError) || err.status === 0) {
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

/**
 * Opens a metadata watch and reads it to its end, telling `handlers.closed` exactly once how it ended: the
 * server ended it (undefined), the connection failed, the API server stopped answering (the liveness check),
 * or it stayed silent past its timeout (see WATCH_SILENCE_GRACE_MS). Nothing is reported after `abort()`.
 */
export async function openWatch(
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
    end(
      new KubeError(0, `${action}: the API server stopped answering: ${errorMessage(cause)}`, { cause }),
    );
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

/** The path of a namespace's collection of `resource`. */
export function collection(resource: WatchedResource, namespace: string): string {
  return `/api/v1/namespaces/${encodeURIComponent(namespace)}/${resource}`;
}

/** A selector as query parameters. */
export function selectorQuery(selector: Selector): Record<string, string> {
  const query: Record<string, string> = {};
  if (selector.labelSelector) query.labelSelector = selector.labelSelector;
  if (selector.fieldSelector) query.fieldSelector = selector.fieldSelector;
  return query;
}

function kubeError(action: string, err: unknown): KubeError {
  if (err instanceof KubeError) return err;
  return new KubeError(0, `${action}: ${errorMessage(err)}`, { cause: err });
}
