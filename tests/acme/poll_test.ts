import assert from "node:assert/strict";
import { DEFAULT_POLL_POLICY, pollDelayMs, pollLimit } from "../../src/acme/poll.ts";

const POLICY = { initialMs: 500, maxMs: 10_000 };
const NOW = new Date("2026-01-02T03:04:05Z");

Deno.test("polling backs off exponentially up to the maximum when the CA gives no Retry-After", () => {
  const delays = [0, 1, 2, 3, 4, 5, 6].map((attempt) => pollDelayMs(attempt, undefined, NOW, POLICY));
  assert.deepEqual(delays, [500, 1000, 2000, 4000, 8000, 10_000, 10_000]);
});

Deno.test("polling waits exactly as long as Retry-After says, even beyond the backoff maximum", () => {
  assert.equal(pollDelayMs(0, new Date(NOW.getTime() + 3000), NOW, POLICY), 3000);
  assert.equal(pollDelayMs(5, new Date(NOW.getTime() + 60_000), NOW, POLICY), 60_000);
});

Deno.test("a Retry-After in the past cannot make a tight loop", () => {
  assert.equal(pollDelayMs(3, new Date(NOW.getTime() - 5000), NOW, POLICY), 500);
});

Deno.test("the default policy looks first after 50 ms and doubles", () => {
  const delays = [0, 1, 2, 3].map((attempt) => pollDelayMs(attempt, undefined, NOW, DEFAULT_POLL_POLICY));
  assert.deepEqual(delays, [50, 100, 200, 400]);
});

Deno.test("polling stops at the order's expires when that comes before the caller's limit", () => {
  const deadline = (expires: unknown) =>
    pollLimit(NOW.getTime(), 180_000, [{ what: "the order", expires }]).deadline;
  const limit = NOW.getTime() + 180_000;
  assert.equal(deadline(new Date(NOW.getTime() + 60_000).toISOString()), NOW.getTime() + 60_000);
  assert.equal(deadline(new Date(NOW.getTime() + 3_600_000).toISOString()), limit);
  assert.equal(deadline(undefined), limit);
  assert.equal(deadline("not a date"), limit);
});

Deno.test("polling ends at the earliest of the timeout and the CA's expires, saying which", () => {
  const now = Date.parse("2026-06-01T00:00:00Z");
  assert.deepEqual(pollLimit(now, 180_000, [{ what: "the order", expires: "2026-06-02T00:00:00Z" }]), {
    deadline: now + 180_000,
    reason: "after 180000 ms",
  });
  assert.deepEqual(
    pollLimit(now, 3_600_000, [
      { what: "the order", expires: "2026-06-01T00:50:00Z" },
      { what: "the authorization for a.test", expires: "2026-06-01T00:30:00Z" },
      { what: "unreadable", expires: "soon" },
    ]),
    {
      deadline: Date.parse("2026-06-01T00:30:00Z"),
      reason: "the authorization for a.test expires at 2026-06-01T00:30:00.000Z",
    },
  );
});
