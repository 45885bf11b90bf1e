import assert from "node:assert/strict";
import { NotariatError } from "../src/errors.ts";
import { checkStopped, sleep, untilStopped } from "../src/stop.ts";

const stopped = (err: unknown) => err instanceof NotariatError && err.kind === "stopped";

Deno.test("a sleep ends with a stopped error when the signal aborts, and at once if it already has", async () => {
  const controller = new AbortController();
  const waiting = sleep(60_000, controller.signal, "polling");
  controller.abort();
  await assert.rejects(waiting, (err) => stopped(err) && /^polling: stopped/.test((err as Error).message));
  await assert.rejects(sleep(60_000, controller.signal, "again"), stopped);
  await sleep(1, undefined, "no signal");
});

Deno.test("untilStopped gives up a long step when the signal aborts, and passes results through otherwise", async () => {
  const controller = new AbortController();
  let finish: (value: string) => void = () => {};
  const slow = new Promise<string>((resolve) => finish = resolve);
  const raced = untilStopped(slow, controller.signal, "querying");
  controller.abort();
  await assert.rejects(raced, stopped);
  finish("late");
  assert.equal(await untilStopped(Promise.resolve(1), new AbortController().signal, "x"), 1);
  await assert.rejects(untilStopped(Promise.reject(new Error("own")), undefined, "x"), /own/);
});

Deno.test("checkStopped throws only once the signal aborted", () => {
  const controller = new AbortController();
  checkStopped(controller.signal, "before the order");
  controller.abort();
  assert.throws(() => checkStopped(controller.signal, "before the order"), stopped);
});
