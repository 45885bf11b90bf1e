import assert from "node:assert/strict";
import { configError } from "../harness/config_error.ts";
import { formatServer, isAddressLiteral, parseServerAddress } from "../../src/dns/address.ts";

Deno.test("formats IPv6 servers in brackets", () => {
  assert.equal(formatServer({ host: "192.0.2.1", port: 53 }), "192.0.2.1:53");
  assert.equal(formatServer({ host: "2001:db8::1", port: 5353 }), "[2001:db8::1]:5353");
});

Deno.test("tells address literals from names", () => {
  assert.equal(isAddressLiteral("127.0.0.1"), true);
  assert.equal(isAddressLiteral("::1"), true);
  assert.equal(isAddressLiteral("ns1.example.com"), false);
  assert.equal(isAddressLiteral("1.2.3"), false);
});

Deno.test("parseServerAddress reads IPv4, IPv6 and host names, with or without a port", () => {
  const cases: [string, { host: string; port: number }][] = [
    ["192.0.2.1", { host: "192.0.2.1", port: 53 }],
    ["192.0.2.1:5353", { host: "192.0.2.1", port: 5353 }],
    ["[::1]:53", { host: "::1", port: 53 }],
    ["[2001:db8::1]", { host: "2001:db8::1", port: 53 }],
    ["::1", { host: "::1", port: 53 }],
    ["2001:db8::53", { host: "2001:db8::53", port: 53 }],
    ["ns1.example.com:53", { host: "ns1.example.com", port: 53 }],
    ["NS1.Example.com.", { host: "ns1.example.com", port: 53 }],
    ["knot:1053", { host: "knot", port: 1053 }],
    ["127.0.0.1:65535", { host: "127.0.0.1", port: 65535 }],
  ];
  for (const [text, expected] of cases) assert.deepEqual(parseServerAddress(text), expected, text);
  assert.deepEqual(parseServerAddress("10.0.0.1", { defaultPort: 5300 }), { host: "10.0.0.1", port: 5300 });
});

Deno.test("parseServerAddress refuses malformed addresses with the reason", () => {
  const cases: [string, string][] = [
    ["", "the host is empty"],
    [":53", "the host is empty"],
    ["10.0.0.1:", 'port "" is not a number from 1 to 65535'],
    ["10.0.0.1:0", 'port "0" is not a number from 1 to 65535'],
    ["10.0.0.1:65536", 'port "65536" is not a number from 1 to 65535'],
    ["10.0.0.1:dns", 'port "dns" is not a number from 1 to 65535'],
    ["10.0.0.256", '"10.0.0.256" is not an IPv4 address'],
    ["10.0.0", '"10.0.0" is not an IPv4 address'],
    ["[::1", "missing ']' after the IPv6 address"],
    ["[::1]53", "expected ':port' after ']'"],
    ["[10.0.0.1]:53", '"10.0.0.1" in brackets is not an IPv6 address'],
    ["::g", "not an IPv6 address (write an IPv6 address with a port as [address]:port)"],
    [
      "ns_1.example.com",
      '"ns_1.example.com" is not a valid host name: label "ns_1" may hold only letters, digits and hyphens',
    ],
  ];
  for (const [text, reason] of cases) {
    configError(
      () => parseServerAddress(text),
      `${JSON.stringify(text)} is not a valid server address: ${reason}`,
    );
  }
});

Deno.test("a resolver must be an address: a name is refused with the same wording as any bad address", () => {
  configError(
    () => parseServerAddress("ns1.example.com", { addressOnly: true }),
    '"ns1.example.com" is not a valid server address: it must be an IP address, not a name ' +
      "(a resolver cannot be found by name)",
  );
  assert.deepEqual(parseServerAddress("[::1]:5353", { addressOnly: true }), { host: "::1", port: 5353 });
});

Deno.test("a key pasted as an address is not repeated, and a long value is cut", () => {
  const key = "hmac-sha256:k:QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=";
  assert.throws(() => parseServerAddress(key), (err: Error) => {
    assert.ok(!err.message.includes("QUJD"), err.message);
    assert.ok(!err.message.includes("hmac-sha256:k"), err.message);
    return true;
  });
  assert.throws(() => parseServerAddress("a".repeat(1_000_000)), (err: Error) => {
    assert.ok(err.message.length < 400, `${err.message.length} characters`);
    assert.ok(err.message.includes("(1000000 characters)"), err.message);
    return true;
  });
});
