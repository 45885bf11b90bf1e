/**
 * Leader election's decisions, pure: what to do with the Lease given what was last seen of it and when.
 * controller-runtime's (client-go's) rules and timings: a candidate may take the Lease only when its holder
 * has not renewed it for the lease duration as measured on the candidate's own clock (from when it saw the
 * record change), never on the holder's timestamps; a holder that cannot renew within the renew deadline
 * stops leading.
 */
import type { KubeLease } from "../kube/types.ts";

/** How long a Lease holds without renewal (controller-runtime's LeaseDuration). */
export const LEASE_DURATION_MS = 15_000;
/** How long the leader keeps trying to renew before it gives up leading (RenewDeadline). */
export const RENEW_DEADLINE_MS = 10_000;
/** How often candidates try to acquire and the leader renews (RetryPeriod). */
export const RETRY_PERIOD_MS = 2_000;

/** The Lease as last read, and when (on the local clock) its holder or renew time last changed. */
export interface Observed {
  lease: KubeLease;
  changedAt: number;
}

/** The next write, if any: create the Lease, renew it (holder), take it over, or wait for it to expire. */
export type LeaseStep =
  | { action: "create"; lease: KubeLease }
  | { action: "renew" | "take"; lease: KubeLease }
  | { action: "wait"; holder: string; expiresAt: number };

/** Updates the observation with a fresh read: the clock restarts only when the holder renewed or changed. */
export function observe(previous: Observed | undefined, lease: KubeLease, now: number): Observed {
  const same = previous !== undefined &&
    previous.lease.holderIdentity === lease.holderIdentity &&
    previous.lease.renewTime?.getTime() === lease.renewTime?.getTime();
  return { lease, changedAt: same ? previous.changedAt : now };
}

/**
 * What `identity` does next. `observed` undefined means the Lease does not exist. A released Lease (holder
 * "") may be taken at once.
 */
export function nextStep(
  identity: string,
  where: { namespace: string; name: string },
  observed: Observed | undefined,
  now: number,
): LeaseStep {
  const at = new Date(now);
  const durationSeconds = LEASE_DURATION_MS / 1000;
  if (observed === undefined) {
    return {
      action: "create",
      lease: {
        ...where,
        holderIdentity: identity,
        leaseDurationSeconds: durationSeconds,
        acquireTime: at,
        renewTime: at,
        leaseTransitions: 0,
      },
    };
  }
  const { lease } = observed;
  const holder = lease.holderIdentity;
  const durationMs = lease.leaseDurationSeconds > 0 ? lease.leaseDurationSeconds * 1000 : LEASE_DURATION_MS;
  const expiresAt = observed.changedAt + durationMs;
  if (holder !== "" && holder !== identity && now < expiresAt) return { action: "wait", holder, expiresAt };
  if (holder === identity) {
    return { action: "renew", lease: { ...lease, leaseDurationSeconds: durationSeconds, renewTime: at } };
  }
  return {
    action: "take",
    lease: {
      ...lease,
      holderIdentity: identity,
      leaseDurationSeconds: durationSeconds,
      acquireTime: at,
      renewTime: at,
      leaseTransitions: lease.leaseTransitions + 1,
    },
  };
}

/** The Lease as the leader leaves it on shutdown: no holder, expiring at once, so a standby takes over now. */
export function releasedLease(lease: KubeLease, now: number): KubeLease {
  return { ...lease, holderIdentity: "", leaseDurationSeconds: 1, renewTime: new Date(now) };
}

/** Whether a leader whose last successful renewal was at `renewedAt` must stop leading. */
export function leadershipLost(renewedAt: number, now: number): boolean {
  return now - renewedAt > RENEW_DEADLINE_MS;
}
