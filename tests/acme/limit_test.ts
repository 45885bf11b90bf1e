import assert from "node:assert/strict";
import { createLimiter } from "../../src/acme/limit.ts";

Deno.test("the limiter runs at most `size` jobs at once and starts queued jobs in arrival order", async () => {
  const limiter = createLimiter(2);
  const started: number[] = [];
  const gates = [0, 1, 2, 3].map(() => Promise.withResolvers<void>());
  let peak = 0;
  const jobs = [0, 1, 2, 3].map((i) =>
    limiter.run(async () => {
      started.push(i);
      peak = Math.max(peak, limiter.active);
      await gates[i].promise;
      return i * 10;
    })
  );
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(started, [0, 1]);
  assert.equal(limiter.waiting, 2);
  gates[1].resolve();
  await jobs[1];
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(started, [0, 1, 2]);
  gates[0].resolve();
  gates[2].resolve();
  gates[3].resolve();
  assert.deepEqual(await Promise.all(jobs), [0, 10, 20, 30]);
  assert.deepEqual(started, [0, 1, 2, 3]);
  assert.equal(peak, 2);
  assert.equal(limiter.active, 0);
});

Deno.test("a failing job frees its slot", async () => {
  const limiter = createLimiter(1);
  await assert.rejects(limiter.run(() => Promise.reject(new Error("boom"))), { message: "boom" });
  assert.equal(await limiter.run(() => Promise.resolve("next")), "next");
  assert.equal(limiter.active, 0);
});

Deno.test("the limiter refuses a size below one", () => {
  assert.throws(() => createLimiter(0), RangeError);
});
