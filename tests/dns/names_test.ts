import assert from "node:assert/strict";
import { configError } from "../harness/config_error.ts";
import { normalizeDomain, normalizeHostName } from "../../src/dns/names.ts";

Deno.test("domains are lower-cased, lose the trailing dot and keep a leading wildcard", () => {
  assert.equal(normalizeDomain("Example.COM."), "example.com");
  assert.equal(normalizeDomain("www.example.com"), "www.example.com");
  assert.equal(normalizeDomain("*.Example.com"), "*.example.com");
  assert.equal(normalizeDomain("a-1.b2.example"), "a-1.b2.example");
  const longest = ["a".repeat(63), "b".repeat(63), "c".repeat(63), "d".repeat(61)].join(".");
  assert.equal(normalizeDomain(longest), longest);
});

Deno.test("international domains become punycode", () => {
  assert.equal(normalizeDomain("Bücher.example"), "xn--bcher-kva.example");
  assert.equal(normalizeDomain("*.bücher.example."), "*.xn--bcher-kva.example");
  assert.equal(normalizeDomain("\u2603.net"), "xn--n3h.net");
  assert.equal(normalizeDomain("xn--bcher-kva.example"), "xn--bcher-kva.example");
  configError(
    () => normalizeDomain("xn--zz.example"),
    '"xn--zz.example" is not a valid internationalized name: it cannot be converted to punycode',
  );
  configError(
    () => normalizeDomain("\u06611.example"),
    '"\u06611.example" is not a valid internationalized name: it cannot be converted to punycode',
  );
});

Deno.test("invalid domain names are refused with the reason", () => {
  const cases: [string, string][] = [
    ["", "it is empty"],
    ["example", "it has a single label, and a CA will not issue for it"],
    ["*.com", "it has a single label, and a CA will not issue for it"],
    ["a..example.com", "it has an empty label (two dots in a row, or a leading dot)"],
    [".example.com", "it has an empty label (two dots in a row, or a leading dot)"],
    ["example.com..", "it has an empty label (two dots in a row, or a leading dot)"],
    ["ex_ample.com", 'label "ex_ample" may hold only letters, digits and hyphens'],
    ["exa mple.com", 'label "exa mple" may hold only letters, digits and hyphens'],
    ["-a.example.com", 'label "-a" starts or ends with a hyphen'],
    ["a-.example.com", 'label "a-" starts or ends with a hyphen'],
    ["a.*.example.com", "a wildcard is allowed only as the whole leftmost label, as in *.example.com"],
    ["*example.com", "a wildcard is allowed only as the whole leftmost label, as in *.example.com"],
    ["**.example.com", "a wildcard is allowed only as the whole leftmost label, as in *.example.com"],
    [`${"a".repeat(64)}.com`, `label "${"a".repeat(64)}" is longer than 63 characters`],
    [
      ["a".repeat(63), "b".repeat(63), "c".repeat(63), "d".repeat(62)].join("."),
      "longer than 253 characters",
    ],
  ];
  for (const [name, reason] of cases) {
    configError(() => normalizeDomain(name), `${JSON.stringify(name)} is not a valid domain name: ${reason}`);
  }
});

Deno.test("host names may be a single label", () => {
  assert.equal(normalizeHostName("Knot."), "knot");
  assert.equal(normalizeHostName("ns1.Example.com"), "ns1.example.com");
});
