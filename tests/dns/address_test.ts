import assert from "node:assert/strict";
import { formatServer, isAddressLiteral, parseNameserver } from "../../src/dns/address.ts";

Deno.test("formats IPv6 servers in brackets", () => {
  assert.equal(formatServer({ host: "192.0.2.1", port: 53 }), "192.0.2.1:53");
  assert.equal(formatServer({ host: "2001:db8::1", port: 5353 }), "[2001:db8::1]:5353");
});

Deno.test("reads host, host:port, bracketed and bare IPv6 nameservers", () => {
  assert.deepEqual(parseNameserver("ns1.example.com"), { host: "ns1.example.com", port: 53 });
  assert.deepEqual(parseNameserver("ns1.example.com.:5353"), { host: "ns1.example.com", port: 5353 });
  assert.deepEqual(parseNameserver("192.0.2.1:53"), { host: "192.0.2.1", port: 53 });
  assert.deepEqual(parseNameserver("[2001:db8::1]:5353"), { host: "2001:db8::1", port: 5353 });
  assert.deepEqual(parseNameserver("[::1]"), { host: "::1", port: 53 });
  assert.deepEqual(parseNameserver("2001:db8::1"), { host: "2001:db8::1", port: 53 });
});

Deno.test("rejects a bad port or host with a message naming the input", () => {
  assert.deepEqual(parseNameserver("ns1:0"), { error: "'ns1:0' has an invalid port '0'" });
  assert.deepEqual(parseNameserver("ns1:99999"), { error: "'ns1:99999' has an invalid port '99999'" });
  assert.deepEqual(parseNameserver(":53"), { error: "':53' has no host" });
  assert.deepEqual(parseNameserver("ns 1"), { error: "'ns 1' has an invalid host" });
});

Deno.test("tells address literals from names", () => {
  assert.equal(isAddressLiteral("127.0.0.1"), true);
  assert.equal(isAddressLiteral("::1"), true);
  assert.equal(isAddressLiteral("ns1.example.com"), false);
});
