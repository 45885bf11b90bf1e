import assert from "node:assert/strict";
import { type CoalescerOptions, createCoalescer, mergeValues } from "../../src/dns/batch.ts";

/** A schedule the test fires by hand, so "within the window" and "after it" are exact. */
function manualClock() {
  const due: (() => void)[] = [];
  return {
    schedule: (flush: () => void) => void due.push(flush),
    fire() {
      for (const flush of due.splice(0)) flush();
    },
  };
}

class MaybeApplied extends Error {}

function options(clock: ReturnType<typeof manualClock>): CoalescerOptions<string> {
  return {
    windowMs: 5,
    maxValues: 4,
    identity: (v) => v,
    possiblyApplied: (err) => err instanceof MaybeApplied,
    schedule: clock.schedule,
  };
}

/** A sender that records every message and fails those holding a value in `refused`. */
function recorder(refused: Set<string> = new Set(), failure = (v: string) => new Error(`refused ${v}`)) {
  const sent: string[][] = [];
  return {
    sent,
    send: (values: string[]) => {
      sent.push(values);
      const bad = values.find((v) => refused.has(v));
      return bad === undefined ? Promise.resolve() : Promise.reject(failure(bad));
    },
  };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("values are merged in order of first appearance, each once", () => {
  assert.deepEqual(mergeValues([["a", "b"], ["b", "c"], ["a", "d"]], (v) => v), ["a", "b", "c", "d"]);
});

Deno.test("submissions of one group within the window go out as one message, and each caller is told", async () => {
  const clock = manualClock();
  const coalescer = createCoalescer(options(clock));
  const target = recorder();
  const first = coalescer.submit("zone", ["a"], target.send);
  const second = coalescer.submit("zone", ["b", "a"], recorder().send);
  assert.equal(coalescer.open, 1);
  assert.deepEqual(target.sent, [], "nothing is sent before the window closes");
  clock.fire();
  await Promise.all([first, second]);
  assert.deepEqual(
    target.sent,
    [["a", "b"]],
    "one message with the union, sent by the first caller's sender",
  );
  assert.equal(coalescer.open, 0);
});

Deno.test("a submission after the window closed starts a message of its own", async () => {
  const clock = manualClock();
  const coalescer = createCoalescer(options(clock));
  const target = recorder();
  const first = coalescer.submit("zone", ["a"], target.send);
  clock.fire();
  await first;
  const second = coalescer.submit("zone", ["b"], target.send);
  clock.fire();
  await second;
  assert.deepEqual(target.sent, [["a"], ["b"]]);
});

Deno.test("different groups (zone, server, key or operation) are never merged", async () => {
  const clock = manualClock();
  const coalescer = createCoalescer(options(clock));
  const target = recorder();
  const done = [
    coalescer.submit("add alpha", ["a"], target.send),
    coalescer.submit("add beta", ["b"], target.send),
    coalescer.submit("delete alpha", ["c"], target.send),
  ];
  clock.fire();
  await Promise.all(done);
  assert.deepEqual(target.sent.sort(), [["a"], ["b"], ["c"]]);
});

Deno.test("a batch that reaches the size limit is sent at once; the next submission opens a new one", async () => {
  const clock = manualClock();
  const coalescer = createCoalescer(options(clock));
  const target = recorder();
  const first = coalescer.submit("zone", ["a", "b"], target.send);
  const second = coalescer.submit("zone", ["c", "d"], target.send);
  await Promise.all([first, second]);
  assert.deepEqual(target.sent, [["a", "b", "c", "d"]], "sent without waiting for the window");
  const third = coalescer.submit("zone", ["e", "f", "g"], target.send);
  const fourth = coalescer.submit("zone", ["h", "i"], target.send);
  await tick();
  assert.deepEqual(
    target.sent.at(-1),
    ["e", "f", "g"],
    "a submission that would overflow flushes the open batch",
  );
  clock.fire();
  await Promise.all([third, fourth]);
  assert.deepEqual(target.sent.at(-1), ["h", "i"]);
});

Deno.test("a lone caller's failure is its own error, sent once", async () => {
  const clock = manualClock();
  const coalescer = createCoalescer(options(clock));
  const target = recorder(new Set(["a"]));
  const only = coalescer.submit("zone", ["a"], target.send);
  clock.fire();
  await assert.rejects(only, { message: "refused a" });
  assert.deepEqual(target.sent, [["a"]]);
});

Deno.test("a shared message that fails is resent per caller: only the caller whose values fail is failed", async () => {
  const clock = manualClock();
  const coalescer = createCoalescer(options(clock));
  const target = recorder(new Set(["bad"]));
  const good = coalescer.submit("zone", ["a"], target.send);
  const bad = coalescer.submit("zone", ["bad"], target.send);
  const alsoGood = coalescer.submit("zone", ["b"], target.send);
  clock.fire();
  const outcomes = await Promise.allSettled([good, bad, alsoGood]);
  assert.deepEqual(outcomes.map((o) => o.status), ["fulfilled", "rejected", "fulfilled"]);
  assert.equal((outcomes[1] as PromiseRejectedResult).reason.message, "refused bad");
  assert.deepEqual(target.sent, [["a", "bad", "b"], ["a"], ["bad"], ["b"]]);
});

Deno.test("after a shared message that may have been applied, a caller whose resend is refused gets that doubt", async () => {
  const clock = manualClock();
  const coalescer = createCoalescer(options(clock));
  let call = 0;
  const send = (values: string[]) => {
    call++;
    if (call === 1) return Promise.reject(new MaybeApplied("no answer"));
    return values.includes("bad") ? Promise.reject(new Error("refused bad")) : Promise.resolve();
  };
  const good = coalescer.submit("zone", ["a"], send);
  const bad = coalescer.submit("zone", ["bad"], send);
  clock.fire();
  await good;
  // The shared message may have added "bad": its caller must treat it as added (and remove it), not as refused.
  const err = await bad.then(() => undefined, (e) => e);
  assert.ok(err instanceof MaybeApplied, `got ${err}`);
});
