import { type ExponentialBackoff, exponentialBackoffMs } from "../exponential_backoff.ts";

/**
 * How failed entries are retried: `baseMs` after the first failure, `factor` times longer after each further
 * one, at most `capMs`, spread by ±`jitter`.
 */
export interface BackoffOptions extends ExponentialBackoff {
  /** Fraction of the delay by which attempts are spread, so entries failing together do not retry together. */
  jitter: number;
}

/**
 * Let's Encrypt's integration guide: about 1 minute, 10 minutes, 100 minutes, then at most once a day
 * (1000 minutes, then the one-day cap). A CA's Retry-After comes on top (see `nextAttemptTime`).
 */
export const DEFAULT_BACKOFF: BackoffOptions = {
  baseMs: 60_000,
  factor: 10,
  capMs: 24 * 60 * 60 * 1000,
  jitter: 0.1,
};

/**
 * The delay before the next attempt after `failures` consecutive failures (1 = the first failure).
 * `random` is a number in [0, 1) (Math.random() in production, fixed in tests; 0.5 is no jitter).
 */
export function backoffDelay(
  failures: number,
  random: number,
  options: BackoffOptions = DEFAULT_BACKOFF,
): number {
  const raw = exponentialBackoffMs(failures - 1, options);
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
