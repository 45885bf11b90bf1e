import assert from "node:assert/strict";
import {
  ariRenewalTime,
  DEFAULT_RENEW_BEFORE_MS,
  planRenewal,
  renewalTime,
} from "../../src/controller/renewal.ts";

const DAY = 24 * 60 * 60 * 1000;
const notBefore = new Date("2026-01-01T00:00:00Z");
const days = (n: number) => new Date(notBefore.getTime() + n * DAY);

Deno.test("a 90-day certificate is renewed when a third of its lifetime remains: 30 days before expiry", () => {
  assert.equal(
    renewalTime(notBefore, days(90), DEFAULT_RENEW_BEFORE_MS).toISOString(),
    days(60).toISOString(),
  );
});

Deno.test("a 45-day certificate is renewed 15 days before expiry", () => {
  assert.equal(
    renewalTime(notBefore, days(45), DEFAULT_RENEW_BEFORE_MS).toISOString(),
    days(30).toISOString(),
  );
});

Deno.test("a 6-day certificate is renewed at half its lifetime, 3 days before expiry", () => {
  assert.equal(renewalTime(notBefore, days(6), DEFAULT_RENEW_BEFORE_MS).toISOString(), days(3).toISOString());
});

Deno.test("a 10-day certificate is short-lived (half), an 11-day one gets the third", () => {
  assert.equal(renewalTime(notBefore, days(10), 0).toISOString(), days(5).toISOString());
  assert.equal(renewalTime(notBefore, days(11), 0).getTime(), days(11).getTime() - (11 * DAY) / 3);
});

Deno.test("-renew-before renews earlier than the rule, never later", () => {
  assert.equal(renewalTime(notBefore, days(90), 40 * DAY).toISOString(), days(50).toISOString());
  assert.equal(renewalTime(notBefore, days(90), 10 * DAY).toISOString(), days(60).toISOString());
});

Deno.test("a -renew-before longer than the lifetime stops at half-way, so a 6-day certificate never loops", () => {
  const at = renewalTime(notBefore, days(6), 30 * DAY);
  assert.equal(at.toISOString(), days(3).toISOString());
  // Issued at `notBefore`: the renewal time lies after issuance, half-way through the lifetime.
  assert.ok(at.getTime() > notBefore.getTime());
});

Deno.test("the ARI renewal time lies inside the window, at the given fraction", () => {
  const window = { start: days(58), end: days(60) };
  assert.equal(ariRenewalTime(window, 0).toISOString(), days(58).toISOString());
  assert.equal(ariRenewalTime(window, 0.5).toISOString(), days(59).toISOString());
  assert.ok(ariRenewalTime(window, 0.999999).getTime() < days(60).getTime());
});

Deno.test("the plan follows ARI when the CA gave a window, and looks again at the next check", () => {
  const window = { start: days(70), end: days(72) };
  const plan = planRenewal({
    notBefore,
    notAfter: days(90),
    renewBeforeMs: 0,
    ari: { window, checkAt: days(1), random: 0.5 },
  });
  assert.deepEqual(plan, { at: days(71), source: "ari", nextLookAt: days(1) });
});

Deno.test("a window moved into the past makes renewal due at once", () => {
  const now = days(10);
  const plan = planRenewal({
    notBefore,
    notAfter: days(90),
    renewBeforeMs: 0,
    ari: { window: { start: days(8), end: days(9) }, checkAt: days(10.25), random: 0.3 },
  });
  assert.equal(plan.source, "ari");
  assert.ok(plan.at.getTime() <= now.getTime());
});

Deno.test("a window seen only once it had begun means renewing now; one seen ahead keeps its random time", () => {
  const window = { start: days(58), end: days(60) };
  assert.equal(ariRenewalTime(window, 0.9, days(58.5)).toISOString(), days(58.5).toISOString());
  assert.equal(ariRenewalTime(window, 0.5, days(30)).toISOString(), days(59).toISOString());
  const plan = planRenewal({
    notBefore,
    notAfter: days(90),
    renewBeforeMs: 0,
    ari: { window, checkAt: days(58.75), random: 0.9, seenAt: days(58.5) },
  });
  assert.deepEqual([plan.at, plan.source], [days(58.5), "ari"]);
});

Deno.test("without ARI the plan is the rule's", () => {
  const plan = planRenewal({ notBefore, notAfter: days(6), renewBeforeMs: 0 });
  assert.deepEqual(plan, { at: days(3), source: "rule", nextLookAt: days(3) });
});
