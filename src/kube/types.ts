import { NotariatError } from "../errors.ts";
import type { MetadataItem, WatchEvent } from "./watch_events.ts";

export type { MetadataItem, WatchEvent };

/** The metadata notariat reads and writes; labels and annotations are never undefined here. */
export interface ObjectMeta {
  namespace: string;
  name: string;
  uid?: string;
  /** The version a replace is checked against (optimistic concurrency); absent on objects not yet created. */
  resourceVersion?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** A core/v1 Secret with its data decoded to bytes. */
export interface KubeSecret extends ObjectMeta {
  type: string;
  data: Record<string, Uint8Array>;
}

/** A core/v1 ConfigMap (string data only; binaryData is not used by notariat). */
export interface KubeConfigMap extends ObjectMeta {
  data: Record<string, string>;
}

/** The object a core/v1 Event is about. */
export interface EventSubject {
  kind: string;
  apiVersion: string;
  namespace: string;
  name: string;
  uid?: string;
}

/** A core/v1 Event as notariat records it. */
export interface KubeEvent {
  /** The Event's own namespace (the subject's). */
  namespace: string;
  subject: EventSubject;
  type: "Normal" | "Warning";
  reason: string;
  message: string;
  count: number;
  firstTimestamp: Date;
  lastTimestamp: Date;
}

/** A coordination.k8s.io/v1 Lease, as leader election reads and writes it. */
export interface KubeLease {
  namespace: string;
  name: string;
  /** The version a replace is checked against; absent on a Lease not yet created. */
  resourceVersion?: string;
  /** Who holds it; "" once released. */
  holderIdentity: string;
  leaseDurationSeconds: number;
  acquireTime?: Date;
  renewTime?: Date;
  leaseTransitions: number;
}

/** One open watch connection. */
export interface WatchConnection {
  /** Closes the connection; `closed` is not called afterwards. */
  abort(): void;
}

/** Callbacks of one metadata watch connection. */
export interface WatchHandlers {
  /** Each event as the server sent it (changes, bookmarks, and ERROR Status objects such as 410 Gone). */
  event(event: WatchEvent): void;
  /**
   * The stream ended: undefined when the server ended it (its timeout: a normal reconnect), else why it failed
   * (connection lost, the server stopped answering, no data for longer than the server's timeout).
   */
  closed(error: unknown | undefined): void;
}

/** The kinds notariat lists and watches. */
export type WatchedResource = "configmaps" | "secrets";

/** The objects of a list, and the version to start watching from. */
export interface ListResult<T> {
  items: T[];
  resourceVersion: string;
}

/** Which objects a list or watch covers: a label and/or field selector (e.g. `metadata.name=x`). */
export interface Selector {
  labelSelector?: string;
  fieldSelector?: string;
}

/**
 * Everything notariat asks of Kubernetes, in its own types. The Kubernetes adapter implements it
 * (src/kube/client.ts); tests may wrap it to provoke races against the real API server.
 * Failures throw KubeError.
 */
export interface Kube {
  /** notariat's own namespace (its ConfigMap, account Secrets, Events, and Secret references without one). */
  readonly namespace: string;
  readConfigMap(namespace: string, name: string): Promise<KubeConfigMap | undefined>;
  /** The Secret, or undefined when it does not exist (404). */
  readSecret(namespace: string, name: string): Promise<KubeSecret | undefined>;
  /** Creates a Secret; KubeError status 409 when one of that name exists. */
  createSecret(secret: KubeSecret): Promise<KubeSecret>;
  /**
   * Writes `secret`'s type, data, labels and annotations onto the stored Secret, checked against
   * `secret.resourceVersion` (KubeError status 409 when it changed meanwhile). A merge: data keys, labels and
   * annotations the Secret has and `secret` does not mention are kept, as are owner references and finalizers.
   */
  updateSecret(secret: KubeSecret): Promise<KubeSecret>;
  /**
   * Sets (bytes) or removes (null) single data keys of a stored Secret, leaving its other keys as they are; a
   * merge patch without a version check, so writers of different keys never conflict. KubeError 404 when the
   * Secret does not exist.
   */
  patchSecretData(namespace: string, name: string, data: Record<string, Uint8Array | null>): Promise<void>;
  /** Creates an Event; returns its name (for `updateEventCount`). */
  createEvent(event: KubeEvent): Promise<string>;
  /** Bumps the count and last timestamp of a recorded Event (aggregation of repeats); 404 when it expired. */
  updateEventCount(namespace: string, name: string, count: number, lastTimestamp: Date): Promise<void>;
  /** The names, versions and labels of a namespace's objects (metadata only: no data crosses the wire). */
  listMetadata(
    resource: WatchedResource,
    namespace: string,
    selector?: Selector,
  ): Promise<ListResult<MetadataItem>>;
  /** Whole Secrets (with data) of a namespace that match `selector`, e.g. the ones notariat labelled. */
  listSecrets(namespace: string, selector: Selector): Promise<ListResult<KubeSecret>>;
  /**
   * Opens one metadata-only watch of a namespace's objects from `resourceVersion` (with bookmarks).
   * Reconnection and relisting are the caller's job (see `listAndWatch`).
   */
  watchMetadata(
    resource: WatchedResource,
    namespace: string,
    selector: Selector,
    resourceVersion: string,
    handlers: WatchHandlers,
  ): Promise<WatchConnection>;
  /** Closes idle connections to the API server; call after stopping every watch, before exiting. */
  close(): Promise<void>;
  /** The Lease, or undefined when it does not exist (404). */
  readLease(namespace: string, name: string): Promise<KubeLease | undefined>;
  /** Creates a Lease; KubeError status 409 when one of that name exists. */
  createLease(lease: KubeLease): Promise<KubeLease>;
  /** Replaces a Lease, checked against `lease.resourceVersion` (KubeError status 409 when it changed). */
  replaceLease(lease: KubeLease): Promise<KubeLease>;
  /** The Events of `namespace` about the object `subject` (kind and name), oldest first. */
  listEvents(namespace: string, subject: { kind: string; name: string }): Promise<KubeEvent[]>;
}

/** A failed Kubernetes API call; `status` is the HTTP status (0 when no response came). */
export class KubeError extends NotariatError {
  readonly status: number;

  constructor(status: number, message: string, options?: { cause?: unknown }) {
    super("kube", message, options);
    this.name = "KubeError";
    this.status = status;
  }
}

/** Whether `err` is a KubeError with this HTTP status. */
export function isKubeStatus(err: unknown, status: number): boolean {
  return err instanceof KubeError && err.status === status;
}

/** The label every object notariat creates carries, and the one it selects its own objects by. */
export const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
/** The value of MANAGED_BY_LABEL on notariat's objects. */
export const MANAGED_BY_VALUE = "notariat";
/** Which part of notariat an object belongs to ("certificate", "acme-account"). */
export const COMPONENT_LABEL = "app.kubernetes.io/component";
/** Prefix of notariat's annotations. */
export const ANNOTATION_PREFIX = "notariat.io/";
