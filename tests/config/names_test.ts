import assert from "node:assert/strict";
import { configError } from "../harness/config_error.ts";
import { parseSecretRef, validateEmail, validateLabel, validateSubdomain } from "../../src/config/names.ts";

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
