/**
 * coordination.k8s.io/v1 Leases through client-node, in notariat's own type (KubeLease). Kept apart from
 * client.ts so the leader election's API surface is in one place.
 */
import { type CoordinationV1Api, type V1Lease, V1MicroTime } from "@kubernetes/client-node";
import type { KubeLease } from "./types.ts";

/** The three calls leader election makes; errors are client-node's, mapped by the caller. */
export interface LeaseCalls {
  read(namespace: string, name: string): Promise<KubeLease>;
  create(lease: KubeLease): Promise<KubeLease>;
  replace(lease: KubeLease): Promise<KubeLease>;
}

/** Lease calls over `api`. */
export function leaseCalls(api: CoordinationV1Api): LeaseCalls {
  return {
    async read(namespace, name) {
      return toLease(await api.readNamespacedLease({ namespace, name }));
    },
    async create(lease) {
      return toLease(await api.createNamespacedLease({ namespace: lease.namespace, body: fromLease(lease) }));
    },
    async replace(lease) {
      return toLease(
        await api.replaceNamespacedLease({
          namespace: lease.namespace,
          name: lease.name,
          body: fromLease(lease),
        }),
      );
    },
  };
}

function toDate(value: unknown): Date | undefined {
  if (value instanceof Date) return value;
  if (typeof value === "string" && value !== "") return new Date(value);
  return undefined;
}

function toLease(object: V1Lease): KubeLease {
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

// MicroTime wants six fractional digits; client-node's V1MicroTime writes them.
const micro = (date: Date | undefined) => date === undefined ? undefined : new V1MicroTime(date.getTime());

function fromLease(lease: KubeLease): V1Lease {
  return {
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: {
      namespace: lease.namespace,
      name: lease.name,
      resourceVersion: lease.resourceVersion,
      labels: { "app.kubernetes.io/managed-by": "notariat" },
    },
    spec: {
      holderIdentity: lease.holderIdentity,
      leaseDurationSeconds: lease.leaseDurationSeconds,
      acquireTime: micro(lease.acquireTime),
      renewTime: micro(lease.renewTime),
      leaseTransitions: lease.leaseTransitions,
    },
  };
}
