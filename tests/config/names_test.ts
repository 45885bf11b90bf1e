import assert from "node:assert/strict";
import {
  normalizeDomain,
  normalizeHostName,
  parseSecretRef,
  validateEmail,
  validateLabel,
  validateSubdomain,
} from "../../src/config/names.ts";
import { NotariatError } from "../../src/errors.ts";

function configError(fn: () => unknown, message: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof NotariatError);
    assert.equal(err.kind, "config");
    assert.equal(err.message, message);
    return true;
  }, message);
}

const SUBDOMAIN_RULE = "must be a lowercase RFC 1123 subdomain: letters a-z, digits, '-' and '.', " +
  "starting and ending with a letter or digit (e.g. 'example-tls')";
const LABEL_RULE = "must be a lowercase RFC 1123 label: letters a-z, digits and '-', " +
  "starting and ending with a letter or digit (e.g. 'my-namespace')";

Deno.test("Secret names are DNS-1123 subdomains of at most 253 characters", () => {
  for (
    const name of ["example-tls", "a", "0", "web.example-tls.v2", "a".repeat(63) + "." + "b".repeat(189)]
  ) {
    assert.equal(validateSubdomain(name, "Secret name"), undefined, name);
  }
  for (const name of ["Example", "a_b", "-a", "a-", "a..b", ".a", "a.", "a b", "é"]) {
    configError(
      () => validateSubdomain(name, "Secret name"),
      `${JSON.stringify(name)} is not a valid Secret name: ${SUBDOMAIN_RULE}`,
    );
  }
  configError(() => validateSubdomain("", "Secret name"), '"" is not a valid Secret name: must not be empty');
  const long = "a".repeat(254);
  configError(
    () => validateSubdomain(long, "Secret name"),
    `"${long}" is not a valid Secret name: must be at most 253 characters, not 254`,
  );
});

Deno.test("namespaces are DNS-1123 labels of at most 63 characters", () => {
  assert.equal(validateLabel("kube-system", "namespace"), undefined);
  assert.equal(validateLabel("a".repeat(63), "namespace"), undefined);
  configError(() => validateLabel("a.b", "namespace"), `"a.b" is not a valid namespace: ${LABEL_RULE}`);
  configError(() => validateLabel("Web", "namespace"), `"Web" is not a valid namespace: ${LABEL_RULE}`);
  const long = "a".repeat(64);
  configError(
    () => validateLabel(long, "namespace"),
    `"${long}" is not a valid namespace: must be at most 63 characters, not 64`,
  );
});

Deno.test("a Secret reference is name or namespace/name", () => {
  assert.deepEqual(parseSecretRef("example-tls", "notariat"), { namespace: "notariat", name: "example-tls" });
  assert.deepEqual(parseSecretRef("dns/tsig", "notariat"), { namespace: "dns", name: "tsig" });
  configError(
    () => parseSecretRef("a/b/c", "n"),
    '"a/b/c" is not a Secret reference: expected name or namespace/name',
  );
  configError(() => parseSecretRef("Web/tls", "n"), `"Web" is not a valid namespace: ${LABEL_RULE}`);
  configError(() => parseSecretRef("/tls", "n"), '"" is not a valid namespace: must not be empty');
  configError(() => parseSecretRef("web/", "n"), '"" is not a valid Secret name: must not be empty');
  configError(() => parseSecretRef("web/TLS", "n"), `"TLS" is not a valid Secret name: ${SUBDOMAIN_RULE}`);
});

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

Deno.test("e-mail contacts are checked loosely and returned unchanged", () => {
  assert.equal(validateEmail("admin@example.com"), "admin@example.com");
  assert.equal(validateEmail("Ops.Team+tls@Sub.Example.org"), "Ops.Team+tls@Sub.Example.org");
  assert.equal(validateEmail("admin@bücher.example"), "admin@bücher.example");
  configError(() => validateEmail("admin"), '"admin" is not a valid e-mail address: expected local@domain');
  configError(
    () => validateEmail("admin@localhost"),
    '"admin@localhost" is not a valid e-mail address: expected local@domain.tld',
  );
  configError(
    () => validateEmail("mailto:admin@example.com"),
    '"mailto:admin@example.com" is not a valid e-mail address: the part before @ may hold only letters, digits, dots and !#$%&\'*+/=?^_`{|}~-',
  );
  configError(
    () => validateEmail("@example.com"),
    '"@example.com" is not a valid e-mail address: the part before @ may hold only letters, digits, dots and !#$%&\'*+/=?^_`{|}~-',
  );
  configError(
    () => validateEmail("admin@exa_mple.com"),
    '"admin@exa_mple.com" is not a valid e-mail address: label "exa_mple" may hold only letters, digits and hyphens',
  );
});
