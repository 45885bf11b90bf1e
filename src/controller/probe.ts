/**
 * What /livez and /readyz answer. The control loop reports to a ControllerProbe; the tracker turns those
 * reports (and, with leader election, the leadership state) into answers for a given time. Pure: the caller
 * passes the clock.
 */

/** What the control loop tells the health endpoints. */
export interface ControllerProbe {
  /** The loop made a pass (or woke up); called at least every few minutes while it runs. */
  tick(at: Date): void;
  /** The ConfigMap was read successfully. */
  configLoaded(at: Date): void;
  /** Whether the watches are open (false: known dead, e.g. the API server stopped answering them). */
  watchesHealthy(healthy: boolean): void;
}

/** With leader election: not yet known, leading (this process runs the loop), or standing by. */
export type Leadership = "unknown" | "leader" | "standby";

/** One answer of a health endpoint: ok, and why not. */
export interface ProbeAnswer {
  ok: boolean;
  reason: string;
}

/** The tracker behind /livez and /readyz. */
export interface ProbeTracker extends ControllerProbe {
  /** Leader election's state; without leader election it is never called. */
  leadership(state: Leadership): void;
  /** /livez: false when the loop stopped ticking for longer than `stuckAfterMs`, or the watches are dead. */
  live(now: Date): ProbeAnswer;
  /**
   * /readyz: true once the ConfigMap was read; with leader election, once leader or standby is known (a
   * standby is ready: it is there to take over) and a leader only once it read the ConfigMap.
   */
  ready(now: Date): ProbeAnswer;
}

/**
 * How long the loop may go without a tick before /livez fails: an idle loop wakes every HEARTBEAT_MS (30 s), so
 * five minutes of silence means it is stuck.
 */
export const DEFAULT_STUCK_AFTER_MS = 5 * 60_000;

/** A tracker; `leaderElection` says whether leadership must be known before ready. */
export function createProbeTracker(
  options: { leaderElection: boolean; stuckAfterMs?: number },
): ProbeTracker {
  const stuckAfterMs = options.stuckAfterMs ?? DEFAULT_STUCK_AFTER_MS;
  let lastTick: Date | undefined;
  let loaded: Date | undefined;
  let watchesOk = true;
  let role: Leadership = "unknown";
  return {
    tick(at) {
      lastTick = at;
    },
    configLoaded(at) {
      loaded = at;
    },
    watchesHealthy(healthy) {
      watchesOk = healthy;
    },
    leadership(state) {
      role = state;
      // A new leader starts a new loop: its liveness counts from its own ticks.
      if (state !== "leader") lastTick = undefined;
    },
    live(now) {
      if (!watchesOk) return { ok: false, reason: "the watches are dead" };
      if (lastTick !== undefined && now.getTime() - lastTick.getTime() > stuckAfterMs) {
        const seconds = Math.round((now.getTime() - lastTick.getTime()) / 1000);
        return { ok: false, reason: `the control loop has not run for ${seconds} s` };
      }
      return { ok: true, reason: "ok" };
    },
    ready() {
      if (options.leaderElection) {
        if (role === "unknown") return { ok: false, reason: "leader election has not decided yet" };
        if (role === "standby") return { ok: true, reason: "ok: standing by" };
      }
      if (loaded === undefined) return { ok: false, reason: "the ConfigMap has not been read yet" };
      return { ok: true, reason: options.leaderElection ? "ok: leading" : "ok" };
    },
  };
}
