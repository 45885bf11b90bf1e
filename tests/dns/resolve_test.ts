import assert from "node:assert/strict";
import { extendChain, MAX_CNAME_LINKS } from "../../src/dns/resolve.ts";

Deno.test("a CNAME chain grows by the lower-cased target", () => {
  assert.deepEqual(extendChain(["_acme-challenge.a.test"], "B.test."), ["_acme-challenge.a.test", "b.test"]);
});

Deno.test("a target already in the chain is a loop, shown in full", () => {
  assert.throws(() => extendChain(["a.test", "b.test"], "A.test"), {
    name: "NotariatError",
    kind: "dns",
    message: "CNAME loop: a.test -> b.test -> a.test",
  });
});

Deno.test(`a chain of ${MAX_CNAME_LINKS} links is allowed and one more is too long`, () => {
  let chain = ["n0.test"];
  for (let i = 1; i <= MAX_CNAME_LINKS; i++) chain = extendChain(chain, `n${i}.test`);
  assert.equal(chain.length, MAX_CNAME_LINKS + 1);
  assert.throws(() => extendChain(chain, "n9.test"), {
    kind: "dns",
    message: `CNAME chain from n0.test is longer than 8 links: ${[...chain, "n9.test"].join(" -> ")}`,
  });
});
