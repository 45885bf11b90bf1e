import type { EventSubject, Kube } from "./types.ts";

/** Kubernetes Event reasons notariat records on its ConfigMap. */
export type EventReason = "Issued" | "Renewed" | "Failed" | "InvalidConfig";

/** Records Kubernetes Events about notariat's work on its ConfigMap. */
export interface EventRecorder {
  /** Records an Event; never throws (a failed Event is logged by `onError` and dropped). */
  record(type: "Normal" | "Warning", reason: EventReason, message: string): Promise<void>;
  /** The object Events are recorded on; changes when the ConfigMap is recreated (new uid). */
  setSubject(subject: EventSubject): void;
}

/** How long a repeated Event (same type, reason, message) bumps the count of the first instead of a new one. */
export const EVENT_AGGREGATION_MS = 10 * 60 * 1000;

/** Event messages are capped by the API server (1 KiB is kubectl's guidance); longer ones are cut. */
const MAX_MESSAGE = 1024;

/**
 * Creates Events through `kube`, aggregating repeats the way kubelet's recorder does: the same Event within
 * EVENT_AGGREGATION_MS bumps `count` and `lastTimestamp` of the first, so a retrying failure does not flood
 * the namespace.
 */
export function createEventRecorder(
  kube: Kube,
  subject: EventSubject,
  options: { now?: () => Date; onError?: (err: unknown) => void } = {},
): EventRecorder {
  const now = options.now ?? (() => new Date());
  let current = subject;
  const recent = new Map<string, { name: string; count: number; first: Date }>();
  return {
    setSubject(next) {
      if (next.uid !== current.uid) recent.clear();
      current = next;
    },
    async record(type, reason, message) {
      const text = message.length > MAX_MESSAGE ? message.slice(0, MAX_MESSAGE - 3) + "..." : message;
      const key = `${type}\u0000${reason}\u0000${text}`;
      const at = now();
      for (const [k, v] of recent) {
        if (at.getTime() - v.first.getTime() > EVENT_AGGREGATION_MS) recent.delete(k);
      }
      try {
        const previous = recent.get(key);
        if (previous !== undefined) {
          try {
            await kube.updateEventCount(current.namespace, previous.name, previous.count + 1, at);
            previous.count++;
            return;
          } catch {
            // gone (Events expire) or not patchable: record a new one
            recent.delete(key);
          }
        }
        const name = await kube.createEvent({
          namespace: current.namespace,
          subject: current,
          type,
          reason,
          message: text,
          count: 1,
          firstTimestamp: at,
          lastTimestamp: at,
        });
        recent.set(key, { name, count: 1, first: at });
      } catch (err) {
        options.onError?.(err);
      }
    },
  };
}
