import assert from "node:assert/strict";
import { accountSecretName } from "../../src/acme/account.ts";

const LE = "https://acme-v02.api.letsencrypt.org/directory";
const STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory";
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

Deno.test("account Secret names are readable, stable and valid DNS-1123 subdomains", () => {
  const name = accountSecretName(LE, "Ops@Example.com");
  assert.match(name, /^notariat-acme-ops-example-com-[0-9a-f]{10}$/);
  assert.equal(accountSecretName(LE, "Ops@Example.com"), name);
  assert.match(name, DNS1123_SUBDOMAIN);
});

Deno.test("account Secret names differ per CA and per exact email, even when the readable parts coincide", () => {
  const names = new Set([
    accountSecretName(LE, "a.b@x.test"),
    accountSecretName(LE, "a-b@x.test"),
    accountSecretName(LE, "A.B@x.test"),
    accountSecretName(STAGING, "a.b@x.test"),
  ]);
  assert.equal(names.size, 4);
});

Deno.test("account Secret names stay within 63 characters and valid for long or odd emails", () => {
  for (
    const email of [
      `${"very.long.local.part".repeat(5)}@example.com`,
      "___@___",
      "-x-@-y-.test",
      "üñí@çødé.test",
    ]
  ) {
    const name = accountSecretName(LE, email);
    assert.ok(name.length <= 63, name);
    assert.match(name, DNS1123_SUBDOMAIN);
    assert.ok(name.startsWith("notariat-acme-"), name);
  }
});
