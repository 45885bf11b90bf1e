import assert from "node:assert/strict";
import { backoffDelay, DEFAULT_BACKOFF, nextAttemptTime } from "../../src/controller/backoff.ts";

const plain = { baseMs: 1000, factor: 2, capMs: 60_000, jitter: 0 };
const MINUTE = 60_000;

Deno.test("the delay grows by the factor with each consecutive failure", () => {
  assert.deepEqual([1, 2, 3, 4].map((n) => backoffDelay(n, 0.5, plain)), [1000, 2000, 4000, 8000]);
});

Deno.test("the delay is capped, even after very many failures", () => {
  assert.equal(backoffDelay(7, 0.5, plain), 60_000);
  assert.equal(backoffDelay(5000, 0.5, plain), 60_000);
  assert.equal(backoffDelay(100, 0.999, DEFAULT_BACKOFF), 24 * 60 * MINUTE);
});

Deno.test("jitter spreads the delay by the configured fraction either way", () => {
  const options = { ...plain, jitter: 0.2 };
  assert.equal(backoffDelay(1, 0, options), 800);
  assert.equal(backoffDelay(1, 0.5, options), 1000);
  assert.equal(backoffDelay(1, 0.75, options), 1100);
});

Deno.test("the default follows Let's Encrypt's guide: 1 min, 10 min, 100 min, then at most once a day", () => {
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, 0.5) / MINUTE),
    [1, 10, 100, 1000, 1440, 1440],
  );
  assert.ok(backoffDelay(5, 0.999) <= 24 * 60 * MINUTE, "jitter never goes past a day");
});

Deno.test("a Retry-After later than the backoff is honoured", () => {
  const now = new Date("2026-01-01T00:00:00Z");
  const retryAfter = new Date("2026-01-01T02:00:00Z");
  assert.equal(nextAttemptTime(now, 1, 0.5, retryAfter, plain).toISOString(), "2026-01-01T02:00:00.000Z");
  assert.equal(nextAttemptTime(now, 1, 0.5, retryAfter).toISOString(), "2026-01-01T02:00:00.000Z");
});

Deno.test("a Retry-After earlier than the backoff does not shorten it", () => {
  const now = new Date("2026-01-01T00:00:00Z");
  const retryAfter = new Date("2026-01-01T00:00:00.500Z");
  assert.equal(nextAttemptTime(now, 2, 0.5, retryAfter, plain).toISOString(), "2026-01-01T00:00:02.000Z");
  assert.equal(nextAttemptTime(now, 2, 0.5, undefined, plain).toISOString(), "2026-01-01T00:00:02.000Z");
});
