import assert from "node:assert/strict";
import { Schedule } from "../../src/controller/schedule.ts";

const HOUR = 3600_000;
/** Backoff of 10 s per failure, never before Retry-After. */
const retryAt = (now: number, failures: number, retryAfter?: Date) =>
  Math.max(now + failures * 10_000, retryAfter?.getTime() ?? 0);
/** A schedule whose ConfigMap has been read, so only entries decide the wake-up. */
const make = (parallel = 2, now = 0) => {
  const schedule = new Schedule({ resyncMs: HOUR, parallel, retryAt }, now);
  schedule.configLoaded();
  return schedule;
};

Deno.test("new entries are due at once, at most `parallel` start, the rest when a slot frees", () => {
  const s = make(2);
  for (const key of ["a", "b", "c"]) s.add(key, 0);
  assert.deepEqual(s.takeDue(0), ["a", "b"]);
  assert.deepEqual(s.takeDue(0), []);
  s.finish("a", { failed: false, version: "1", renewAt: new Date(5 * HOUR) }, 100);
  assert.deepEqual(s.takeDue(100), ["c"]);
  assert.equal(s.running, 2);
});

Deno.test("a valid entry sleeps until its renewal time; the wake-up is the earliest due time", () => {
  const s = make();
  s.add("a", 0);
  s.add("b", 0);
  s.takeDue(0);
  s.finish("a", { failed: false, version: "1", renewAt: new Date(5 * HOUR) }, 10);
  s.finish("b", { failed: false, version: "1", renewAt: new Date(HOUR / 2) }, 10);
  assert.equal(s.nextWake(), HOUR / 2);
  assert.deepEqual(s.takeDue(HOUR / 2 - 1), []);
  assert.deepEqual(s.takeDue(HOUR / 2), ["b"]);
});

Deno.test("failures back off and honour Retry-After; a success resets the count", () => {
  const s = make();
  s.add("a", 0);
  s.takeDue(0);
  s.finish("a", { failed: true }, 0);
  assert.equal(s.dueAt("a"), 10_000);
  s.takeDue(10_000);
  s.finish("a", { failed: true }, 10_000);
  assert.equal(s.dueAt("a"), 30_000);
  s.takeDue(30_000);
  s.finish("a", { failed: true, retryAfter: new Date(HOUR) }, 30_000);
  assert.equal(s.dueAt("a"), HOUR);
  s.takeDue(HOUR);
  s.finish("a", { failed: false, version: "9", renewAt: new Date(2 * HOUR) }, HOUR);
  assert.equal(s.failing("a"), false);
  assert.equal(s.dueAt("a"), 2 * HOUR);
});

Deno.test("a Secret change makes the entry due, except the version its own last run left", () => {
  const s = make();
  s.add("a", 0);
  s.takeDue(0);
  s.finish("a", { failed: false, version: "7", renewAt: new Date(HOUR) }, 0);
  assert.equal(s.changed("a", "7", 50), false);
  assert.equal(s.dueAt("a"), HOUR);
  assert.equal(s.changed("a", "8", 50), true);
  assert.equal(s.dueAt("a"), 50);
  assert.equal(s.changed("unknown", "1", 50), false);
});

Deno.test("a deletion (no version) always makes the entry due", () => {
  const s = make();
  s.add("a", 0);
  s.takeDue(0);
  s.finish("a", { failed: false, version: "7", renewAt: new Date(HOUR) }, 0);
  assert.equal(s.changed("a", undefined, 5), true);
  assert.equal(s.dueAt("a"), 5);
});

Deno.test("a change seen while running re-runs the entry at once, unless it is the run's own write", () => {
  const s = make();
  s.add("a", 0);
  s.add("b", 0);
  s.takeDue(0);
  s.changed("a", "8", 1); // its own write, seen before the run ended
  s.finish("a", { failed: false, version: "8", renewAt: new Date(HOUR) }, 2);
  assert.equal(s.dueAt("a"), HOUR);
  s.changed("b", "3", 1); // someone else's write
  s.finish("b", { failed: false, version: "2", renewAt: new Date(HOUR) }, 2);
  assert.equal(s.dueAt("b"), 2);
});

Deno.test("an edited entry is due at once with its backoff reset; while running, right after", () => {
  const s = make();
  s.add("a", 0);
  s.takeDue(0);
  s.finish("a", { failed: true }, 0);
  s.edited("a", 5);
  assert.equal(s.dueAt("a"), 5);
  assert.equal(s.failing("a"), false);
  s.takeDue(5);
  s.edited("a", 6);
  s.finish("a", { failed: false, version: "1", renewAt: new Date(HOUR) }, 7);
  assert.equal(s.dueAt("a"), 7);
});

Deno.test("a removed entry is never started, even if it was due; a running one frees its slot", () => {
  const s = make(1);
  s.add("a", 0);
  s.add("b", 0);
  assert.deepEqual(s.takeDue(0), ["a"]);
  s.remove("a");
  s.remove("b");
  assert.deepEqual(s.takeDue(0), []);
  assert.equal(s.running, 0);
  s.finish("a", { failed: false }, 0);
  assert.equal(s.has("a"), false);
});

Deno.test("retryNow makes only failing idle entries due", () => {
  const s = make();
  s.add("ok", 0);
  s.add("bad", 0);
  s.takeDue(0);
  s.finish("ok", { failed: false, version: "1", renewAt: new Date(HOUR) }, 0);
  s.finish("bad", { failed: true }, 0);
  s.retryNow("ok", 3);
  s.retryNow("bad", 3);
  assert.equal(s.dueAt("ok"), HOUR);
  assert.equal(s.dueAt("bad"), 3);
});

Deno.test("the resync is due once per interval and makes the ConfigMap due; config failures back off", () => {
  const s = new Schedule({ resyncMs: HOUR, parallel: 2, retryAt }, 1000);
  assert.equal(s.configDue(1000), true);
  s.configLoaded();
  assert.equal(s.configDue(1000), false);
  assert.equal(s.resyncDue(1000 + HOUR - 1), false);
  assert.equal(s.resyncDue(1000 + HOUR), true);
  assert.equal(s.resyncDue(1000 + HOUR), false);
  assert.equal(s.configDue(1000 + HOUR), true);
  assert.equal(s.configFailed(1000 + HOUR), 1000 + HOUR + 10_000);
  assert.equal(s.configDue(1000 + HOUR + 9_999), false);
  assert.equal(s.nextWake(), 1000 + HOUR + 10_000);
  s.configChanged();
  assert.equal(s.configDue(1000 + HOUR + 1), true);
});

Deno.test("a ConfigMap read has its own backoff when one is given; entries keep theirs", () => {
  const configRetryAt = (now: number, failures: number) => now + 1_000 * 2 ** (failures - 1);
  const s = new Schedule({ resyncMs: HOUR, parallel: 2, retryAt, configRetryAt }, 0);
  assert.equal(s.configFailed(0), 1_000);
  assert.equal(s.configFailed(1_000), 3_000);
  assert.equal(s.configDue(2_999), false);
  assert.equal(s.configDue(3_000), true);
  s.configLoaded();
  s.add("a", 3_000);
  assert.deepEqual(s.takeDue(3_000), ["a"]);
  s.finish("a", { failed: true, version: "1" }, 3_000);
  assert.equal(s.dueAt("a"), 13_000, "the entry's failure follows retryAt");
});

Deno.test("10,000 entries: rescheduling keeps the order and the heap small", () => {
  const s = make(10_000);
  for (let i = 0; i < 10_000; i++) s.add(`e${i}`, 0);
  assert.equal(s.takeDue(0).length, 10_000);
  for (let i = 0; i < 10_000; i++) {
    s.finish(`e${i}`, { failed: false, version: "1", renewAt: new Date(HOUR + (i * 7919) % 10_000) }, 0);
  }
  // Many changes of the same versions push nothing; changes of new versions reschedule.
  for (let round = 0; round < 5; round++) for (let i = 0; i < 10_000; i++) s.changed(`e${i}`, "1", 1);
  assert.equal(s.nextWake(), HOUR);
  const due = s.takeDue(HOUR + 9);
  const expected = [...Array(10_000).keys()].filter((i) => (i * 7919) % 10_000 <= 9)
    .sort((a, b) => (a * 7919) % 10_000 - (b * 7919) % 10_000).map((i) => `e${i}`);
  assert.deepEqual(due, expected);
});
