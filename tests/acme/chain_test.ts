import assert from "node:assert/strict";
import { alternateLinks, chooseChain } from "../../src/acme/chain.ts";

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
