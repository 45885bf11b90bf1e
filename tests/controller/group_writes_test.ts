import assert from "node:assert/strict";
import { groupWrites } from "../../src/controller/challenge_journal.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

Deno.test("groupWrites: one patch in flight, what comes meanwhile goes out together, failures reach their callers", async () => {
  const sent: string[][] = [];
  let release: (() => void)[] = [];
  let fail = false;
  const write = groupWrites(async (data) => {
    sent.push(Object.keys(data));
    await new Promise<void>((resolve) => release.push(resolve));
    if (fail) throw new Error("refused");
  });
  const first = write({ a: bytes("1") });
  assert.deepEqual(sent, [["a"]], "the first write goes out at once");
  const second = write({ b: bytes("2") });
  const third = write({ c: null });
  assert.equal(sent.length, 1, "nothing else while one is in flight");
  release.shift()!();
  await first;
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(sent[1], ["b", "c"], "the writes made meanwhile share the next patch");
  fail = true;
  const fourth = write({ d: bytes("4") });
  release.shift()!();
  await assert.rejects(second, /refused/);
  await assert.rejects(third, /refused/);
  fail = false;
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(sent[2], ["d"]);
  release.shift()!();
  await fourth;
  release = [];
});
