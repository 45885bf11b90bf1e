import assert from "node:assert/strict";
import { exponentialBackoffMs } from "../src/exponential_backoff.ts";

const DOUBLING = { baseMs: 500, factor: 2, capMs: 8000 };

Deno.test("the first step waits the base delay, each further one factor times longer", () => {
  assert.deepEqual([0, 1, 2, 3].map((step) => exponentialBackoffMs(step, DOUBLING)), [500, 1000, 2000, 4000]);
  assert.deepEqual(
    [0, 1, 2].map((step) => exponentialBackoffMs(step, { baseMs: 60_000, factor: 10, capMs: 1e12 })),
    [60_000, 600_000, 6_000_000],
  );
});

Deno.test("the delay never passes the cap", () => {
  assert.deepEqual([4, 5, 20].map((step) => exponentialBackoffMs(step, DOUBLING)), [8000, 8000, 8000]);
  assert.equal(exponentialBackoffMs(3, { baseMs: 500, factor: 2, capMs: 300 }), 300);
});

Deno.test("a negative step is the first, and a huge one stays finite at the cap", () => {
  assert.equal(exponentialBackoffMs(-3, DOUBLING), 500);
  assert.equal(exponentialBackoffMs(1_000_000, DOUBLING), 8000);
  assert.equal(exponentialBackoffMs(1_000_000, { baseMs: 0, factor: 10, capMs: 1000 }), 0);
});
