import assert from "node:assert/strict";
import { chooseNameserver } from "../../src/controller/zone_access.ts";

const SOURCE = 'TSIG Secret dns/k key "nameserver"';

Deno.test("the entry's nameserver wins over the TSIG Secret's", () => {
  const entry = { host: "ns1.alpha.test", port: 5353 };
  assert.deepEqual(chooseNameserver(entry, "127.0.0.1:53", SOURCE), entry);
});

Deno.test("the TSIG Secret's nameserver is used when the entry has none, trimmed, read by the one parser", () => {
  assert.deepEqual(chooseNameserver(undefined, " 127.0.0.1:5300\n", SOURCE), {
    host: "127.0.0.1",
    port: 5300,
  });
  assert.deepEqual(chooseNameserver(undefined, "[::1]", SOURCE), { host: "::1", port: 53 });
});

Deno.test("a bad nameserver in the TSIG Secret is a config error naming the Secret, in the parser's words", () => {
  assert.throws(() => chooseNameserver(undefined, "1.2.3", SOURCE), {
    name: "NotariatError",
    kind: "config",
    message: `${SOURCE}: "1.2.3" is not a valid server address: "1.2.3" is not an IPv4 address`,
  });
});

Deno.test("without either, none is passed on (the zone's SOA MNAME is used)", () => {
  assert.equal(chooseNameserver(undefined, undefined, SOURCE), undefined);
  assert.equal(chooseNameserver(undefined, "\n", SOURCE), undefined);
});
