/**
 * List then watch, kept up across the watch's ends: the informer pattern, small. One metadata-only LIST of a
 * namespace's objects, then one WATCH from its resourceVersion; when the server ends the watch (its timeout)
 * it resumes from the last version seen; when the version is too old (410 Gone) it lists again; a failing
 * list or watch (forbidden, server down) is retried with backoff. Every end is noticed: the adapter reads each
 * stream to its end (src/kube/client.ts), and says why it ended.
 */
import { exponentialBackoffMs } from "../exponential_backoff.ts";
import {
  isKubeStatus,
  type Kube,
  type MetadataItem,
  type Selector,
  type WatchConnection,
  type WatchedResource,
} from "./types.ts";

/** What `listAndWatch` reports. */
export interface ListWatchHandlers {
  /** The whole picture, after the first list and after every relist: each object's name and version. */
  sync(items: Map<string, MetadataItem>): void;
  /** One object was added, modified or deleted since. */
  change(type: "ADDED" | "MODIFIED" | "DELETED", item: MetadataItem): void;
}

/** Where a log line about the watch goes (the caller's logger); the adapter itself logs nothing. */
export type WatchLog = (level: "debug" | "warn", message: string, fields: Record<string, unknown>) => void;

/** Options of `listAndWatch`. */
export interface ListWatchOptions {
  log?: WatchLog;
  /** Delay before retrying after the n-th consecutive failure (default 500 ms doubling to 8 s). */
  retryDelayMs?: (failures: number) => number;
  /** Told each time a watch connection is open; `again` for every one after the first (a reconnect). */
  opened?: (again: boolean) => void;
  /** Told each time a list or watch attempt fails. */
  failed?: () => void;
}

/** A running list-and-watch. */
export interface ListWatch {
  /** Whether the last list or watch attempt failed, and since when (ms since epoch). */
  health(): { failing: boolean; failingSince?: number; failures: number };
  /** Ends the current watch and lists again (a periodic check for anything missed). */
  relist(): void;
  stop(): void;
}

/**
 * 500 ms, 1 s, 2 s, 4 s, then every 8 s: a restarting API server is heard again within seconds of being back,
 * and a namespace that is forbidden costs one request every 8 s until it is granted.
 */
const defaultRetryDelay = (failures: number) =>
  exponentialBackoffMs(failures - 1, { baseMs: 500, factor: 2, capMs: 8000 });

/** A watch the server ends this soon after it opened, with nothing on it, is retried after a pause. */
const QUICK_END_MS = 1000;

/**
 * Lists and watches `resource` in `namespace` (optionally narrowed by `selector`) until `stop()`, reporting a
 * full `sync` after each list and each change in between.
 */
export function listAndWatch(
  kube: Kube,
  resource: WatchedResource,
  namespace: string,
  selector: Selector,
  handlers: ListWatchHandlers,
  options: ListWatchOptions = {},
): ListWatch {
  const retryDelay = options.retryDelayMs ?? defaultRetryDelay;
  const log = options.log ?? (() => {});
  const what = `${resource} in ${namespace}`;
  let stopped = false;
  let connection: WatchConnection | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  /** The version to resume the watch from; undefined: list first. */
  let resumeFrom: string | undefined;
  let failures = 0;
  let failingSince: number | undefined;
  /** Whether a watch connection was open before (the next one is a reconnect). */
  let openedBefore = false;
  /** Counts connections, so a stale connection's callbacks are ignored. */
  let generation = 0;

  const connect = async () => {
    timer = undefined;
    if (stopped) return;
    const mine = ++generation;
    try {
      if (resumeFrom === undefined) {
        const list = await kube.listMetadata(resource, namespace, selector);
        if (stopped || mine !== generation) return;
        resumeFrom = list.resourceVersion;
        handlers.sync(new Map(list.items.map((item) => [item.name, item])));
      }
      const openedAt = Date.now();
      let heard = false;
      let gone = false;
      let serverError: string | undefined;
      const opened = await kube.watchMetadata(resource, namespace, selector, resumeFrom, {
        event(event) {
          if (mine !== generation) return;
          heard = true;
          if (event.type === "BOOKMARK") {
            if (event.resourceVersion !== "") resumeFrom = event.resourceVersion;
          } else if (event.type === "ERROR") {
            // A Status object; the server closes the stream next. 410: the resume version is too old.
            gone ||= event.code === 410;
            serverError = `${event.code} ${event.message}`;
          } else {
            if (event.item.resourceVersion !== "") resumeFrom = event.item.resourceVersion;
            handlers.change(event.type, event.item);
          }
        },
        closed(error) {
          if (mine !== generation || stopped) return;
          connection = undefined;
          if (gone) {
            listAgain();
          } else if (error === undefined && serverError === undefined) {
            const quick = !heard && Date.now() - openedAt < QUICK_END_MS;
            log("debug", "watch ended by the API server, resuming", { watch: what, resume_from: resumeFrom });
            schedule(quick ? QUICK_END_MS : 0);
          } else {
            fail(error ?? new Error(`watch ${what}: ${serverError}`));
          }
        },
      });
      if (stopped || mine !== generation) {
        opened.abort();
        return;
      }
      connection = opened;
      if (failures > 0) log("debug", "watch reconnected", { watch: what, after_failures: failures });
      options.opened?.(openedBefore);
      openedBefore = true;
      failures = 0;
      failingSince = undefined;
    } catch (error) {
      if (mine !== generation) return;
      if (resumeFrom !== undefined && isKubeStatus(error, 410)) {
        listAgain();
      } else {
        fail(error);
      }
    }
  };
  const listAgain = () => {
    log("debug", "watch history expired (410 Gone), listing again", { watch: what });
    resumeFrom = undefined;
    schedule(0);
  };
  const fail = (error: unknown) => {
    options.failed?.();
    failures++;
    failingSince ??= Date.now();
    // A watch that keeps failing (e.g. forbidden) is reported at the 1st, 2nd, 4th, 8th... attempt, not each.
    const level = (failures & (failures - 1)) === 0 ? "warn" : "debug";
    log(level, "list or watch failed, retrying", { watch: what, error, attempt: failures });
    schedule(retryDelay(failures));
  };
  const schedule = (delayMs: number) => {
    if (stopped || timer !== undefined) return;
    timer = setTimeout(connect, delayMs);
  };
  connect();
  return {
    health: () => ({ failing: failures > 0, failingSince, failures }),
    relist() {
      if (stopped) return;
      generation++;
      connection?.abort();
      connection = undefined;
      resumeFrom = undefined;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      schedule(0);
    },
    stop() {
      stopped = true;
      generation++;
      if (timer !== undefined) clearTimeout(timer);
      connection?.abort();
    },
  };
}
