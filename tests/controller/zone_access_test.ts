import assert from "node:assert/strict";
import { chooseNameserver } from "../../src/controller/zone_access.ts";

Deno.test("the entry's nameserver wins over the TSIG Secret's", () => {
  assert.equal(chooseNameserver("ns1.alpha.test:5353", "127.0.0.1:53"), "ns1.alpha.test:5353");
});

Deno.test("the TSIG Secret's nameserver is used when the entry has none, trimmed", () => {
  assert.equal(chooseNameserver(undefined, " 127.0.0.1:5300\n"), "127.0.0.1:5300");
  assert.equal(chooseNameserver("", "127.0.0.1:5300"), "127.0.0.1:5300");
});

Deno.test("without either, none is passed on (the zone's SOA MNAME is used)", () => {
  assert.equal(chooseNameserver(undefined, undefined), undefined);
  assert.equal(chooseNameserver(" ", "\n"), undefined);
});
