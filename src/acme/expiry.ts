/**
 * How long polling may go on: notariat's own timeout, bounded by the lifetimes the CA gave the order and its
 * authorizations (RFC 8555 sections 7.1.3 and 7.1.4, `expires`). A short-lived profile's one-hour challenge
 * window ends the wait with a message saying so, rather than polling a dead order until the timeout.
 */

/** Where polling must stop, and what set that limit (for the message when it is reached). */
export interface PollLimit {
  /** ms since epoch. */
  deadline: number;
  /** "after 180000 ms", or "the order expires at 2026-...Z" when the CA's lifetime comes first. */
  reason: string;
}

/** One CA-given lifetime: what it belongs to ("the order", "the authorization for www.example.com"). */
export interface Lifetime {
  what: string;
  /** The `expires` field as the CA sent it (RFC 3339), or undefined when it sent none. */
  expires?: unknown;
}

/** The earliest of `now + timeoutMs` and every readable `expires`. */
export function pollLimit(now: number, timeoutMs: number, lifetimes: readonly Lifetime[]): PollLimit {
  let limit: PollLimit = { deadline: now + timeoutMs, reason: `after ${timeoutMs} ms` };
  for (const { what, expires } of lifetimes) {
    if (typeof expires !== "string") continue;
    const at = new Date(expires).getTime();
    if (Number.isNaN(at) || at >= limit.deadline) continue;
    limit = { deadline: at, reason: `${what} expires at ${new Date(at).toISOString()}` };
  }
  return limit;
}
