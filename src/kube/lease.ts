/**
 * coordination.k8s.io/v1 Leases, in notariat's own type (KubeLease). Kept apart from client.ts so the leader
 * election's API surface is in one place.
 */
import type { Rest } from "./rest.ts";
import type { KubeLease } from "./types.ts";

/** The three calls leader election makes; errors are KubeErrors whose message starts with `action`. */
export interface LeaseCalls {
  read(action: string, namespace: string, name: string): Promise<KubeLease>;
  create(action: string, lease: KubeLease): Promise<KubeLease>;
  replace(action: string, lease: KubeLease): Promise<KubeLease>;
}

const collection = (namespace: string) =>
  `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases`;

/** Lease calls over `rest`. */
export function leaseCalls(rest: Rest): LeaseCalls {
  return {
    async read(action, namespace, name) {
      return toLease(await rest.json(action, `${collection(namespace)}/${encodeURIComponent(name)}`));
    },
    async create(action, lease) {
      return toLease(
        await rest.json(action, collection(lease.namespace), { method: "POST", body: fromLease(lease) }),
      );
    },
    async replace(action, lease) {
      const path = `${collection(lease.namespace)}/${encodeURIComponent(lease.name)}`;
      return toLease(await rest.json(action, path, { method: "PUT", body: fromLease(lease) }));
    },
  };
}

function toDate(value: unknown): Date | undefined {
  return typeof value === "string" && value !== "" ? new Date(value) : undefined;
}

interface LeaseObject {
  metadata?: { namespace?: string; name?: string; resourceVersion?: string };
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

function toLease(body: unknown): KubeLease {
  const object = (body ?? {}) as LeaseObject;
  const spec = object.spec ?? {};
  return {
    namespace: object.metadata?.namespace ?? "",
    name: object.metadata?.name ?? "",
    resourceVersion: object.metadata?.resourceVersion,
    holderIdentity: spec.holderIdentity ?? "",
    leaseDurationSeconds: spec.leaseDurationSeconds ?? 0,
    acquireTime: toDate(spec.acquireTime),
    renewTime: toDate(spec.renewTime),
    leaseTransitions: spec.leaseTransitions ?? 0,
  };
}

/** A MicroTime: RFC 3339 with exactly six fractional digits, as the API server's schema wants. */
export function microTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

function fromLease(lease: KubeLease): LeaseObject & Record<string, unknown> {
  return {
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: {
      namespace: lease.namespace,
      name: lease.name,
      resourceVersion: lease.resourceVersion,
      labels: { "app.kubernetes.io/managed-by": "notariat" },
    } as LeaseObject["metadata"],
    spec: {
      holderIdentity: lease.holderIdentity,
      leaseDurationSeconds: lease.leaseDurationSeconds,
      acquireTime: lease.acquireTime && microTime(lease.acquireTime),
      renewTime: lease.renewTime && microTime(lease.renewTime),
      leaseTransitions: lease.leaseTransitions,
    },
  };
}
