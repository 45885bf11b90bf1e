import assert from "node:assert/strict";
import { decide, type PolicyInput, stillServing } from "../../src/controller/policy.ts";

const DAY = 24 * 60 * 60 * 1000;
const now = new Date("2026-02-01T00:00:00Z");
const notBefore = new Date("2026-01-01T00:00:00Z");
const notAfter = new Date(notBefore.getTime() + 90 * DAY);

function valid(overrides: Partial<PolicyInput> = {}): PolicyInput {
  return {
    domains: ["a.alpha.test", "*.alpha.test"],
    now,
    renewBeforeMs: 30 * DAY,
    exists: true,
    type: "kubernetes.io/tls",
    certificate: { notBefore, notAfter, dnsNames: ["*.alpha.test", "a.alpha.test"] },
    keyMatches: true,
    ...overrides,
  };
}

Deno.test("a valid Secret is kept until its renewal time", () => {
  const decision = decide(valid());
  assert.equal(decision.action, "renew-later");
  assert.equal(decision.reason, "Valid");
  assert.equal(
    decision.action === "renew-later" && decision.renewAt.toISOString(),
    "2026-03-02T00:00:00.000Z",
  );
});

Deno.test("a missing Secret is issued with reason DoesNotExist", () => {
  const decision = decide(valid({ exists: false, type: undefined, certificate: undefined }));
  assert.deepEqual([decision.action, decision.reason], ["issue", "DoesNotExist"]);
});

Deno.test("a Secret of another type is refused, never converted", () => {
  const decision = decide(valid({ type: "Opaque" }));
  assert.deepEqual([decision.action, decision.reason], ["refuse", "WrongType"]);
  assert.match(decision.message, /"Opaque", not kubernetes\.io\/tls/);
});

Deno.test("missing or non-PEM data is reissued with reason MissingData", () => {
  const decision = decide(valid({ certificate: undefined, dataProblem: "tls.key is missing" }));
  assert.deepEqual([decision.action, decision.reason, decision.message], [
    "issue",
    "MissingData",
    "tls.key is missing",
  ]);
  const noCert = decide(valid({ certificate: undefined }));
  assert.deepEqual([noCert.action, noCert.reason], ["issue", "MissingData"]);
});

Deno.test("a key that does not match the certificate is reissued with reason InvalidKeyPair", () => {
  const decision = decide(valid({ keyMatches: false }));
  assert.deepEqual([decision.action, decision.reason], ["issue", "InvalidKeyPair"]);
});

Deno.test("an added domain is reissued with reason DomainsMismatch", () => {
  const decision = decide(valid({ domains: ["a.alpha.test", "*.alpha.test", "b.alpha.test"] }));
  assert.deepEqual([decision.action, decision.reason], ["issue", "DomainsMismatch"]);
  assert.match(decision.message, /missing b\.alpha\.test/);
});

Deno.test("a removed domain is reissued with reason DomainsMismatch", () => {
  const decision = decide(valid({ domains: ["a.alpha.test"] }));
  assert.deepEqual([decision.action, decision.reason], ["issue", "DomainsMismatch"]);
  assert.match(decision.message, /not configured \*\.alpha\.test/);
});

Deno.test("the order of domains does not matter", () => {
  assert.equal(decide(valid({ domains: ["*.alpha.test", "a.alpha.test"] })).action, "renew-later");
});

Deno.test("a certificate inside the renewal window is reissued with reason Expiring", () => {
  const decision = decide(valid({ now: new Date("2026-03-02T00:00:00Z") }));
  assert.deepEqual([decision.action, decision.reason], ["issue", "Expiring"]);
  assert.match(decision.message, /inside the renewal window/);
});

Deno.test("an expired certificate is reissued with reason Expiring", () => {
  const decision = decide(valid({ now: new Date("2026-04-02T00:00:00Z") }));
  assert.deepEqual([decision.action, decision.reason], ["issue", "Expiring"]);
  assert.match(decision.message, /expired at 2026-04-01T00:00:00\.000Z/);
});

Deno.test("the first failing check decides", () => {
  const decision = decide(
    valid({ keyMatches: false, domains: ["other.test"], now: new Date("2027-01-01T00:00:00Z") }),
  );
  assert.equal(decision.reason, "InvalidKeyPair");
});

Deno.test("a certificate whose key is of another type than configured is reissued with reason KeyTypeMismatch", () => {
  const decision = decide(valid({
    keyType: "rsa3072",
    certificate: { notBefore, notAfter, dnsNames: ["*.alpha.test", "a.alpha.test"], keyType: "ecdsa-p256" },
  }));
  assert.equal(decision.action, "issue");
  assert.equal(decision.reason, "KeyTypeMismatch");
  assert.equal(decision.message, "the certificate's key is ecdsa-p256, the entry asks for rsa3072");
});

Deno.test("a certificate with the configured key type is kept", () => {
  const decision = decide(valid({
    keyType: "ecdsa-p384",
    certificate: { notBefore, notAfter, dnsNames: ["*.alpha.test", "a.alpha.test"], keyType: "ecdsa-p384" },
  }));
  assert.equal(decision.action, "renew-later");
});

Deno.test("a change of profile is reissued with reason ProfileChanged, both ways", () => {
  const toShort = decide(valid({ profile: "shortlived" }));
  assert.deepEqual([toShort.action, toShort.reason], ["issue", "ProfileChanged"]);
  assert.equal(
    toShort.message,
    `the certificate was issued under the CA's default profile, the entry asks for profile "shortlived"`,
  );
  const back = decide(valid({ issuedProfile: "shortlived" }));
  assert.deepEqual([back.action, back.reason], ["issue", "ProfileChanged"]);
  assert.equal(decide(valid({ profile: "shortlived", issuedProfile: "shortlived" })).action, "renew-later");
});

Deno.test("the CA's renewal window decides over the rule: kept before it, RenewalSuggested inside it", () => {
  const later = new Date("2026-03-20T00:00:00Z");
  const kept = decide(valid({ renewal: { at: later, source: "ari" } }));
  assert.equal(kept.action === "renew-later" && kept.renewAt.toISOString(), later.toISOString());
  assert.match(kept.message, /the CA's renewal information/);
  const moved = decide(valid({
    renewal: { at: new Date("2026-01-31T00:00:00Z"), source: "ari", explanationUrl: "https://ca/incident" },
  }));
  assert.deepEqual([moved.action, moved.reason], ["issue", "RenewalSuggested"]);
  assert.match(
    moved.message,
    /suggests renewing since 2026-01-31T00:00:00.000Z \(explanation: https:\/\/ca\/incident\)/,
  );
});

Deno.test("a 6-day certificate just issued is kept until half-way, with any -renew-before", () => {
  const issued = new Date("2026-02-01T00:00:00Z");
  const sixDays = {
    notBefore: issued,
    notAfter: new Date(issued.getTime() + 6 * DAY),
    dnsNames: ["*.alpha.test", "a.alpha.test"],
  };
  for (const renewBeforeMs of [0, 30 * DAY]) {
    const decision = decide(valid({ now: issued, certificate: sixDays, renewBeforeMs }));
    assert.equal(
      decision.action === "renew-later" && decision.renewAt.toISOString(),
      "2026-02-04T00:00:00.000Z",
    );
  }
});

Deno.test("renewal is due from the renewal time on, not a millisecond before", () => {
  const at = new Date("2026-03-02T00:00:00Z");
  const before = decide(valid({ now: new Date(at.getTime() - 1) }));
  assert.equal(before.action, "renew-later");
  const on = decide(valid({ now: at }));
  assert.deepEqual([on.action, on.reason], ["issue", "Expiring"]);
});

Deno.test("a certificate up to date is still serving until it expires", () => {
  assert.deepEqual(stillServing(valid()), { serving: true, until: notAfter });
});

Deno.test("a certificate due for renewal but not expired is still serving", () => {
  const inWindow = new Date(notAfter.getTime() - 10 * DAY);
  assert.equal(decide(valid({ now: inWindow })).action, "issue");
  assert.deepEqual(stillServing(valid({ now: inWindow })), { serving: true, until: notAfter });
  const suggested = valid({ renewal: { at: new Date(now.getTime() - DAY), source: "ari" } });
  assert.equal(decide(suggested).reason, "RenewalSuggested");
  assert.deepEqual(stillServing(suggested), { serving: true, until: notAfter });
});

Deno.test("an expired certificate, or one for other names or another key, is not serving, with the policy's reason", () => {
  const expired = stillServing(valid({ now: notAfter }));
  assert.deepEqual(expired, {
    serving: false,
    reason: "Expiring",
    message: `the certificate expired at ${notAfter.toISOString()}`,
  });
  const fewer = stillServing(valid({ domains: ["a.alpha.test", "*.alpha.test", "b.alpha.test"] }));
  assert.equal(fewer.serving === false && fewer.reason, "DomainsMismatch");
  const otherKey = stillServing(valid({ keyMatches: false }));
  assert.equal(otherKey.serving === false && otherKey.reason, "InvalidKeyPair");
  const missing = stillServing(valid({ exists: false, certificate: undefined }));
  assert.equal(missing.serving === false && missing.reason, "DoesNotExist");
  const refused = stillServing(valid({ type: "Opaque" }));
  assert.equal(refused.serving === false && refused.reason, "WrongType");
});
