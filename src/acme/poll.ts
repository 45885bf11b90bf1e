/** How often to ask the CA about a pending authorization or a processing order. */
export interface PollPolicy {
  /** First wait; also the floor, so a Retry-After in the past cannot make a tight loop. */
  initialMs: number;
  /** Longest wait between two polls when the CA does not say. */
  maxMs: number;
}

/** The default: quick first look (CAs often validate within a second), then doubling up to 10 s. */
export const DEFAULT_POLL_POLICY: PollPolicy = { initialMs: 500, maxMs: 10_000 };

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
  return Math.min(policy.maxMs, policy.initialMs * 2 ** Math.max(0, attempt));
}
