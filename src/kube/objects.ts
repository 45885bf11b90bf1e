/**
 * core/v1 objects as the API server sends and takes them (JSON), to and from notariat's own types: Secrets
 * (data base64 on the wire, bytes here), ConfigMaps, Events. Pure, apart from the pod name an Event carries.
 */
import { decodeBase64, encodeBase64 } from "./base64.ts";
import type { KubeConfigMap, KubeEvent, KubeSecret, ObjectMeta } from "./types.ts";

/** The metadata fields notariat reads off an object. */
interface WireMeta {
  namespace?: string;
  name?: string;
  generateName?: string;
  uid?: string;
  resourceVersion?: string;
  creationTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** A JSON object from the API server, with its metadata. */
export type WireObject = { metadata?: WireMeta } & Record<string, unknown>;

function meta(object: WireObject): ObjectMeta {
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

/** A ConfigMap's metadata and string data. */
export function toConfigMap(object: unknown): KubeConfigMap {
  const o = object as WireObject & { data?: Record<string, string> };
  return { ...meta(o), data: { ...(o.data ?? {}) } };
}

/** A Secret with its data decoded to bytes. */
export function toSecret(object: unknown): KubeSecret {
  const o = object as WireObject & { type?: string; data?: Record<string, string> };
  const data: Record<string, Uint8Array> = {};
  for (const [key, value] of Object.entries(o.data ?? {})) data[key] = decodeBase64(value);
  return { ...meta(o), type: o.type ?? "Opaque", data };
}

/** Secret data as the wire carries it (base64). */
export function encodeData(data: Record<string, Uint8Array>): Record<string, string> {
  return Object.fromEntries(Object.entries(data).map(([key, value]) => [key, encodeBase64(value)]));
}

/** The body that creates `secret`. */
export function fromSecret(secret: KubeSecret): WireObject {
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

/** The body that creates `event` (named by the server after its subject). */
export function fromEvent(event: KubeEvent): WireObject {
  return {
    apiVersion: "v1",
    kind: "Event",
    metadata: { namespace: event.namespace, generateName: `${event.subject.name}.` },
    involvedObject: { ...event.subject },
    type: event.type,
    reason: event.reason,
    message: event.message,
    count: event.count,
    firstTimestamp: event.firstTimestamp.toISOString(),
    lastTimestamp: event.lastTimestamp.toISOString(),
    source: { component: "notariat" },
    reportingComponent: "notariat",
    reportingInstance: hostname(),
  };
}

interface WireEvent extends WireObject {
  involvedObject?: { kind?: string; apiVersion?: string; namespace?: string; name?: string; uid?: string };
  type?: string;
  reason?: string;
  message?: string;
  count?: number;
  firstTimestamp?: string | null;
  lastTimestamp?: string | null;
  eventTime?: string | null;
}

/** An Event as notariat reads it; an Event without timestamps (events.k8s.io writers) uses eventTime. */
export function toEvent(object: unknown): KubeEvent {
  const event = object as WireEvent;
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
    lastTimestamp: event.lastTimestamp ? toTime(event.lastTimestamp) : first,
  };
}

function toTime(value: unknown): Date {
  return typeof value === "string" ? new Date(value) : new Date(0);
}

// The pod name in a cluster; optional, since it needs --allow-sys=hostname.
function hostname(): string | undefined {
  try {
    return Deno.hostname();
  } catch {
    return undefined;
  }
}
