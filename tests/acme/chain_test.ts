import assert from "node:assert/strict";
import { alternateLinks, chooseChain } from "../../src/acme/chain.ts";
import { pollLimit } from "../../src/acme/expiry.ts";

Deno.test("alternate links are read from a joined Link header; other relations are not", () => {
  const header = '<https://ca/dir>;rel="index", <https://ca/cert/1/1>;rel="alternate", ' +
    "<https://ca/cert/1/2>; rel=alternate";
  assert.deepEqual(alternateLinks(header), ["https://ca/cert/1/1", "https://ca/cert/1/2"]);
  assert.deepEqual(alternateLinks(undefined), []);
  assert.deepEqual(alternateLinks('<https://ca/dir>;rel="index"'), []);
});

Deno.test("the preferred issuer picks its chain; none matching falls back to the default", () => {
  const chains = [{ topIssuerCommonName: "Root A" }, { topIssuerCommonName: "Root B" }, {}];
  assert.equal(chooseChain(chains, "Root B"), 1);
  assert.equal(chooseChain(chains, "Root A"), 0);
  assert.equal(chooseChain(chains, "Root C"), 0);
  assert.equal(chooseChain(chains, undefined), 0);
});

Deno.test("polling ends at the earliest of the timeout and the CA's expires, saying which", () => {
  const now = Date.parse("2026-06-01T00:00:00Z");
  assert.deepEqual(pollLimit(now, 180_000, [{ what: "the order", expires: "2026-06-02T00:00:00Z" }]), {
    deadline: now + 180_000,
    reason: "after 180000 ms",
  });
  assert.deepEqual(
    pollLimit(now, 3_600_000, [
      { what: "the order", expires: "2026-06-01T00:50:00Z" },
      { what: "the authorization for a.test", expires: "2026-06-01T00:30:00Z" },
      { what: "unreadable", expires: "soon" },
    ]),
    {
      deadline: Date.parse("2026-06-01T00:30:00Z"),
      reason: "the authorization for a.test expires at 2026-06-01T00:30:00.000Z",
    },
  );
});
