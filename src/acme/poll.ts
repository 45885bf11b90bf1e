import { exponentialBackoffMs } from "../exponential_backoff.ts";

/** How often to ask the CA about a pending authorization or a processing order. */
export interface PollPolicy {
  /** First wait; also the floor, so a Retry-After in the past cannot make a tight loop. */
  initialMs: number;
  /** Longest wait between two polls when the CA does not say. */
  maxMs: number;
}

/**
 * The default: a quick first look, then doubling up to 10 s. A CA near by validates a DNS-01 challenge in tens
 * of milliseconds and Let's Encrypt within a second or two, so 50, 100, 200, 400, 800 ms costs a distant CA
 * five cheap POST-as-GETs and a near one almost no waiting.
 */
export const DEFAULT_POLL_POLICY: PollPolicy = { initialMs: 50, maxMs: 10_000 };

/**
 * Milliseconds to wait before poll number `attempt` (0 = the first): the CA's Retry-After when it gave one
 * (RFC 8555 section 7.5.1 asks clients to honour it), else exponential backoff.
 */
export function pollDelayMs(
  attempt: number,
  retryAfter: Date | undefined,
  now: Date,
  policy: PollPolicy,
): number {
  if (retryAfter) return Math.max(policy.initialMs, retryAfter.getTime() - now.getTime());
  return exponentialBackoffMs(attempt, { baseMs: policy.initialMs, factor: 2, capMs: policy.maxMs });
}

/**
 * The time polling gives up: `limit` (the caller's timeout), or the order's `expires` (RFC 8555 section 7.1.3)
 * when that comes first, since an expired order can no longer become valid. An unreadable `expires` is ignored.
 */
export function pollDeadline(limit: number, expires: unknown): number {
  if (typeof expires !== "string") return limit;
  const at = Date.parse(expires);
  return Number.isNaN(at) ? limit : Math.min(limit, at);
}
