import assert from "node:assert/strict";
import { DEFAULT_RENEW_BEFORE_MS, isRenewalDue, renewalTime } from "../../src/controller/renewal.ts";

const DAY = 24 * 60 * 60 * 1000;
const notBefore = new Date("2026-01-01T00:00:00Z");

Deno.test("a 90-day certificate is renewed 30 days before expiry", () => {
  const notAfter = new Date(notBefore.getTime() + 90 * DAY);
  assert.equal(
    renewalTime(notBefore, notAfter, DEFAULT_RENEW_BEFORE_MS).toISOString(),
    "2026-03-02T00:00:00.000Z",
  );
});

Deno.test("a 6-day certificate is renewed a third of its lifetime before expiry, not at once", () => {
  const notAfter = new Date(notBefore.getTime() + 6 * DAY);
  assert.equal(
    renewalTime(notBefore, notAfter, DEFAULT_RENEW_BEFORE_MS).toISOString(),
    "2026-01-05T00:00:00.000Z",
  );
});

Deno.test("a shorter renew-before wins over a third of the lifetime", () => {
  const notAfter = new Date(notBefore.getTime() + 90 * DAY);
  assert.equal(renewalTime(notBefore, notAfter, 10 * DAY).toISOString(), "2026-03-22T00:00:00.000Z");
});

Deno.test("renewal is due from the renewal time on, not a millisecond before", () => {
  const notAfter = new Date(notBefore.getTime() + 90 * DAY);
  const at = renewalTime(notBefore, notAfter, DEFAULT_RENEW_BEFORE_MS);
  assert.equal(isRenewalDue(notBefore, notAfter, DEFAULT_RENEW_BEFORE_MS, new Date(at.getTime() - 1)), false);
  assert.equal(isRenewalDue(notBefore, notAfter, DEFAULT_RENEW_BEFORE_MS, at), true);
});
