/**
 * Leader election on a coordination.k8s.io/v1 Lease: the I/O around the decisions of leader.ts. Candidates
 * try every retry period; the leader renews at the same pace and stops leading when it could not renew
 * within the renew deadline (or found another holder). On release the leader hands the Lease back, so a
 * standby takes over at once instead of after the lease duration.
 */
import { errorMessage } from "../errors.ts";
import type { Kube, KubeLease } from "../kube/types.ts";
import type { Logger } from "../observe/log.ts";
import type { Leadership } from "./probe.ts";
import {
  leadershipLost,
  nextStep,
  observe,
  type Observed,
  releasedLease,
  RENEW_DEADLINE_MS,
  RETRY_PERIOD_MS,
} from "./leader.ts";

/** The Lease's name in notariat's namespace (manifests/base/rbac.yaml grants it by this name). */
export const LEASE_NAME = "notariat-leader";

/** Where the Lease is, who this process is, and whom to tell. */
export interface ElectionOptions {
  kube: Kube;
  namespace: string;
  name: string;
  /** Unique per process: the pod name and a random suffix. */
  identity: string;
  logger: Logger;
  /** Aborting it before leadership was won stops trying (acquired resolves false). */
  signal: AbortSignal;
  /** Told of each change between leader and standby. */
  onLeadership?: (state: Leadership) => void;
  now?: () => number;
}

/** A running election. */
export interface LeaderElection {
  /** Resolves true once this process leads, false when `signal` aborted first. */
  readonly acquired: Promise<boolean>;
  /** Aborted when leadership is lost: the leader must stop its work and exit. */
  readonly lost: AbortSignal;
  /** Stops renewing and, if leading, releases the Lease. */
  release(): Promise<void>;
}

/** Starts campaigning for the Lease at once. */
export function startLeaderElection(options: ElectionOptions): LeaderElection {
  const { kube, logger, identity } = options;
  const now = options.now ?? Date.now;
  const where = { namespace: options.namespace, name: options.name };
  const lost = new AbortController();
  let observed: Observed | undefined;
  let held: KubeLease | undefined;
  let renewedAt = 0;
  let role = "unknown" as Leadership;
  let released = false;
  let wake: (() => void) | undefined;
  let won: (leading: boolean) => void = () => {};
  const acquired = new Promise<boolean>((resolve) => won = resolve);
  const stopWaiting = () => wake?.();
  options.signal.addEventListener("abort", stopWaiting);

  const become = (state: Leadership) => {
    if (state === role) return;
    role = state;
    options.onLeadership?.(state);
  };

  /** One read-decide-write round; returns whether this process holds the Lease afterwards. */
  const attempt = async (): Promise<boolean> => {
    const lease = await kube.readLease(where.namespace, where.name);
    observed = lease === undefined ? undefined : observe(observed, lease, now());
    const step = nextStep(identity, where, observed, now());
    if (step.action === "wait") {
      if (role === "unknown" || role === "standby") {
        if (role === "unknown") {
          logger.info("leader election: standing by", { lease: where.name, holder: step.holder });
        }
        become("standby");
      }
      return false;
    }
    const written = step.action === "create"
      ? await kube.createLease(step.lease)
      : await kube.replaceLease(step.lease);
    held = written;
    observed = observe(observed, written, now());
    renewedAt = now();
    if (step.action !== "renew") {
      logger.info("leader election: leading", {
        lease: where.name,
        identity,
        transitions: written.leaseTransitions,
      });
    }
    return true;
  };

  const withDeadline = <T>(work: Promise<T>): Promise<T> => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer within ${RENEW_DEADLINE_MS} ms`)),
        RENEW_DEADLINE_MS,
      );
    });
    return Promise.race([work, expired]).finally(() => clearTimeout(timer));
  };

  const loop = (async () => {
    while (!released && !lost.signal.aborted) {
      if (role !== "leader" && options.signal.aborted) break;
      let holding = false;
      try {
        holding = await withDeadline(attempt());
      } catch (err) {
        logger.debug("leader election: attempt failed", { lease: where.name, error: errorMessage(err) });
      }
      if (holding && role !== "leader") {
        become("leader");
        won(true);
      } else if (
        role === "leader" && !holding && (observed?.lease.holderIdentity !== identity ||
          leadershipLost(renewedAt, now()))
      ) {
        logger.error("leader election: leadership lost", {
          lease: where.name,
          holder: observed?.lease.holderIdentity,
          last_renewal: new Date(renewedAt),
        });
        held = undefined;
        lost.abort();
        break;
      }
      if (released) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, RETRY_PERIOD_MS);
        wake = done;
        function done() {
          clearTimeout(timer);
          wake = undefined;
          resolve();
        }
      });
    }
    options.signal.removeEventListener("abort", stopWaiting);
    won(false);
  })();

  return {
    acquired,
    lost: lost.signal,
    async release() {
      released = true;
      wake?.();
      await loop;
      if (held === undefined || role !== "leader") return;
      try {
        await withDeadline(kube.replaceLease(releasedLease(held, now())));
        logger.info("leader election: Lease released", { lease: where.name });
      } catch (err) {
        logger.warn("leader election: could not release the Lease; it expires on its own", {
          lease: where.name,
          error: errorMessage(err),
        });
      }
      held = undefined;
    },
  };
}

/** This process's identity in the Lease: the host (pod) name and a random suffix, as controller-runtime. */
export function electionIdentity(): string {
  let host = "notariat";
  try {
    host = Deno.hostname();
  } catch {
    // without --allow-sys=hostname the suffix alone keeps identities apart
  }
  return `${host}_${crypto.randomUUID()}`;
}
