import assert from "node:assert/strict";
import {
  ariCertId,
  ariCheckTime,
  createRenewalInfoCache,
  parseRenewalInfo,
  stableFraction,
} from "../../src/acme/ari.ts";
import type { AcmeResponse } from "../../src/acme/problem.ts";

const HOUR = 3600_000;
const now = new Date("2026-06-01T00:00:00Z");

function answer(start: string, end: string, retryAfter?: string): AcmeResponse {
  return {
    status: 200,
    headers: retryAfter === undefined ? {} : { "retry-after": retryAfter },
    body: { suggestedWindow: { start, end } },
  };
}

Deno.test("the certificate identifier is RFC 9773's example: AKI and serial with its leading zero", () => {
  const aki = "69885b6b87464041e1b37b847ba0ae2cde01c8d4";
  assert.equal(ariCertId(aki, "87654321"), "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
  assert.equal(ariCertId(aki, "0087654321"), "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
  assert.equal(ariCertId(aki, "000123"), "aYhba4dGQEHhs3uEe6CuLN4ByNQ.ASM");
});

Deno.test("the next check follows Retry-After, at least twice a day, at most once a minute", () => {
  assert.equal(ariCheckTime(new Date(now.getTime() + 3 * HOUR), now).getTime(), now.getTime() + 3 * HOUR);
  assert.equal(ariCheckTime(new Date(now.getTime() + 48 * HOUR), now).getTime(), now.getTime() + 12 * HOUR);
  assert.equal(ariCheckTime(new Date(now.getTime() - HOUR), now).getTime(), now.getTime() + 60_000);
  assert.equal(ariCheckTime(undefined, now).getTime(), now.getTime() + 6 * HOUR);
});

Deno.test("an answer gives the window and, from Retry-After in seconds, the next check", () => {
  const info = parseRenewalInfo("a.b", answer("2026-07-01T00:00:00Z", "2026-07-02T00:00:00Z", "21600"), now);
  assert.equal(info.window.start.toISOString(), "2026-07-01T00:00:00.000Z");
  assert.equal(info.window.end.toISOString(), "2026-07-02T00:00:00.000Z");
  assert.equal(info.checkAt.getTime(), now.getTime() + 6 * HOUR);
});

Deno.test("a window ending before it starts, or an error answer, is an error naming the certificate", () => {
  assert.throws(
    () => parseRenewalInfo("a.b", answer("2026-07-02T00:00:00Z", "2026-07-01T00:00:00Z"), now),
    /renewal information of certificate a\.b: the CA sent an unusable suggestedWindow/,
  );
  const notFound = {
    status: 404,
    headers: {},
    body: { type: "urn:ietf:params:acme:error:malformed", detail: "no such certificate" },
  };
  assert.throws(() => parseRenewalInfo("a.b", notFound, now), /a\.b: the CA answered HTTP 404 malformed/);
});

Deno.test("the cache asks the CA again only after Retry-After, and keeps the last window when a fetch fails", async () => {
  let clock = now.getTime();
  let fetches = 0;
  let fail = false;
  const cache = createRenewalInfoCache((_certId) => {
    fetches++;
    if (fail) return Promise.reject(new Error("connection refused"));
    return Promise.resolve(answer("2026-07-01T00:00:00Z", "2026-07-02T00:00:00Z", "3600"));
  }, () => new Date(clock));
  const first = await cache.get("a.b");
  await cache.get("a.b");
  assert.equal(fetches, 1);
  assert.equal(first.seenAt.getTime(), now.getTime());
  clock += HOUR;
  fail = true;
  const kept = await cache.get("a.b");
  assert.equal(fetches, 2);
  assert.equal(kept.window.start.toISOString(), "2026-07-01T00:00:00.000Z");
  fail = false;
  clock += HOUR;
  const again = await cache.get("a.b");
  assert.equal(again.seenAt.getTime(), now.getTime(), "the same window keeps the time it was first seen");
  fail = true;
  await assert.rejects(cache.get("c.d"), /connection refused/);
  fail = false;
  await assert.rejects(cache.get("c.d"), /connection refused/, "a failure is remembered for an hour");
  assert.equal(fetches, 4);
  clock += HOUR;
  assert.equal((await cache.get("c.d")).certId, "c.d");
  assert.equal(fetches, 5);
});

Deno.test("the random fraction is stable per certificate and spread across certificates", () => {
  assert.equal(stableFraction("a.b"), stableFraction("a.b"));
  const values = Array.from({ length: 200 }, (_, i) => stableFraction(`cert.${i}`));
  assert.ok(values.every((v) => v >= 0 && v < 1));
  assert.ok(Math.min(...values) < 0.1 && Math.max(...values) > 0.9);
});
