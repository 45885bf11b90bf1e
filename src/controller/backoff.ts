/** How failed entries are retried: exponential from `baseMs`, at most `capMs`, spread by ±`jitter`. */
export interface BackoffOptions {
  baseMs: number;
  capMs: number;
  /** Fraction of the delay by which attempts are spread, so entries failing together do not retry together. */
  jitter: number;
}

/** 15 s after the first failure, doubling up to one hour. */
export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 15_000, capMs: 60 * 60 * 1000, jitter: 0.2 };

/**
 * The delay before the next attempt after `failures` consecutive failures (1 = the first failure).
 * `random` is a number in [0, 1) (Math.random() in production, fixed in tests).
 */
export function backoffDelay(
  failures: number,
  random: number,
  options: BackoffOptions = DEFAULT_BACKOFF,
): number {
  const exponent = Math.max(0, failures - 1);
  const raw = Math.min(options.capMs, options.baseMs * 2 ** Math.min(exponent, 52));
  const spread = 1 - options.jitter + 2 * options.jitter * random;
  return Math.round(Math.min(options.capMs, raw * spread));
}

/**
 * When a failed entry is tried again: after the backoff delay, and never before the time the remote side
 * asked for (an ACME Retry-After), even when that is later than the cap.
 */
export function nextAttemptTime(
  now: Date,
  failures: number,
  random: number,
  retryAfter?: Date,
  options: BackoffOptions = DEFAULT_BACKOFF,
): Date {
  const backoff = now.getTime() + backoffDelay(failures, random, options);
  return new Date(Math.max(backoff, retryAfter?.getTime() ?? 0));
}
