import type { Logger } from "../observe/log.ts";
import type { Kube, WatchConnection, WatchedResource } from "./types.ts";

/** What changed about a watched object; "RESYNC" when changes may have been missed (history expired). */
export type ObjectChange = "ADDED" | "MODIFIED" | "DELETED" | "RESYNC";

/** A running watch; `stop` closes it for good. */
export interface ObjectWatch {
  stop(): void;
}

/** Options of `watchObject`. */
export interface ObjectWatchOptions {
  logger?: Logger;
  /** Delay before reconnecting after the n-th consecutive failure (default 1 s doubling to 30 s). */
  retryDelayMs?: (failures: number) => number;
}

const defaultRetryDelay = (failures: number) => Math.min(30_000, 1000 * 2 ** Math.max(0, failures - 1));

/**
 * Watches one object by name (a fieldSelector, never the whole namespace) and calls `onChange` for each new
 * version (with the object's resourceVersion, so a caller can skip versions it wrote or read itself), across
 * reconnects: the API server ends each watch after its timeoutSeconds (the adapter, or client-node, may end one
 * earlier), so the watch resumes from the last version seen and drops versions it already reported. A failing watch
 * (forbidden, server down) keeps retrying with backoff.
 */
export function watchObject(
  kube: Kube,
  resource: WatchedResource,
  namespace: string,
  name: string,
  onChange: (change: ObjectChange, resourceVersion: string | undefined) => void,
  options: ObjectWatchOptions = {},
): ObjectWatch {
  const retryDelay = options.retryDelayMs ?? defaultRetryDelay;
  const what = `${resource} ${namespace}/${name}`;
  let stopped = false;
  let connection: WatchConnection | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let resumeFrom: string | undefined;
  let reported: string | undefined;
  let failures = 0;

  const connect = async () => {
    timer = undefined;
    if (stopped) return;
    let closed = false;
    try {
      const opened = await kube.watch(resource, namespace, name, resumeFrom, {
        change(change) {
          failures = 0;
          resumeFrom = change.resourceVersion;
          if (change.type !== "DELETED" && change.resourceVersion === reported) return;
          reported = change.resourceVersion;
          onChange(change.type, change.resourceVersion);
        },
        progress(version) {
          failures = 0;
          resumeFrom = version;
        },
        closed(error, gone) {
          closed = true;
          connection = undefined;
          if (stopped) return;
          if (gone) {
            resumeFrom = undefined;
            onChange("RESYNC", undefined);
          }
          // A watch ended by a timeout (the server's, or the client's on a quiet stream) is a normal reconnect.
          const quiet = error instanceof Error && /timeout/i.test(error.message);
          if (error === undefined || quiet) {
            schedule(0);
          } else {
            fail(error);
          }
        },
      });
      // The watch may have ended before it was handed over (a refused request ends at once).
      if (stopped) {
        opened.abort();
      } else if (!closed) {
        connection = opened;
        // The server accepted it: the next outage starts its backoff afresh, not where the last one left it.
        failures = 0;
      }
    } catch (error) {
      fail(error);
    }
  };
  const fail = (error: unknown) => {
    failures++;
    // A watch that keeps failing (e.g. forbidden) is reported at the 1st, 2nd, 4th, 8th... attempt, not each.
    const level = (failures & (failures - 1)) === 0 ? "warn" : "debug";
    options.logger?.[level]("watch failed, reconnecting", { watch: what, error, attempt: failures });
    schedule(retryDelay(failures));
  };
  const schedule = (delayMs: number) => {
    if (stopped || timer !== undefined) return;
    timer = setTimeout(connect, delayMs);
  };
  connect();
  return {
    stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      connection?.abort();
    },
  };
}
