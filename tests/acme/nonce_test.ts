import assert from "node:assert/strict";
import { createNoncePool } from "../../src/acme/nonce.ts";

function fresh() {
  let fetched = 0;
  return {
    get fetched() {
      return fetched;
    },
    fetch: () => Promise.resolve(`fresh-${++fetched}`),
  };
}

Deno.test("a kept nonce is used before a new one is fetched, and each is handed out once", async () => {
  const pool = createNoncePool();
  const source = fresh();
  pool.put("from-answer");
  assert.equal(await pool.take(source.fetch), "from-answer");
  assert.equal(await pool.take(source.fetch), "fresh-1", "the pool is empty again: a new one");
  assert.equal(source.fetched, 1);
});

Deno.test("the newest nonce goes first, the oldest are dropped beyond the capacity", async () => {
  const pool = createNoncePool(2);
  const source = fresh();
  pool.put("one");
  pool.put("two");
  pool.put("three");
  assert.equal(pool.size, 2);
  assert.equal(await pool.take(source.fetch), "three");
  assert.equal(await pool.take(source.fetch), "two");
  assert.equal(await pool.take(source.fetch), "fresh-1", "'one' was dropped");
});

Deno.test("a nonce given twice (or empty) is kept once (or not at all)", () => {
  const pool = createNoncePool();
  pool.put("same");
  pool.put("same");
  pool.put("");
  assert.equal(pool.size, 1);
});

Deno.test("requests in flight at once each get their own nonce", async () => {
  const pool = createNoncePool();
  const source = fresh();
  pool.put("kept");
  const taken = await Promise.all([
    pool.take(source.fetch),
    pool.take(source.fetch),
    pool.take(source.fetch),
  ]);
  assert.deepEqual(taken, ["kept", "fresh-1", "fresh-2"]);
});
