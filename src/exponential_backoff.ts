/**
 * The one growth rule behind every retry and poll delay: the controller's retries of failed entries
 * (controller/backoff.ts adds jitter and the CA's Retry-After), the watch's reconnects (kube/watch.ts) and the
 * ACME polls (acme/poll.ts adds Retry-After). Pure, so each caller's sequence is tested with plain numbers.
 */

/** A delay that starts at `baseMs` and grows `factor` times per step, never past `capMs`. */
export interface ExponentialBackoff {
  baseMs: number;
  /** Growth per step (2: doubling). */
  factor: number;
  capMs: number;
}

/**
 * The delay of step `step` (0 = the first, `baseMs`): `baseMs * factor ** step`, at most `capMs`. A negative
 * step counts as 0; the exponent stops at 52, so a long run of failures cannot overflow to Infinity or NaN.
 *
 * @example exponentialBackoffMs(3, { baseMs: 500, factor: 2, capMs: 8000 }) // 4000
 */
export function exponentialBackoffMs(step: number, backoff: ExponentialBackoff): number {
  const exponent = Math.min(Math.max(0, step), 52);
  return Math.min(backoff.capMs, backoff.baseMs * backoff.factor ** exponent);
}
