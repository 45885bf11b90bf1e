import assert from "node:assert/strict";
import { caIdentity, normalizeDirectory } from "../../src/controller/ca_identity.ts";
import { decide, type PolicyInput } from "../../src/controller/policy.ts";

Deno.test("a CA is known by its issuing certificate's organization, the same across its intermediates", () => {
  assert.equal(caIdentity("CN=R10, O=Let's Encrypt, C=US"), "O=Let's Encrypt");
  assert.equal(caIdentity("C=US, O=Let's Encrypt, CN=E6"), "O=Let's Encrypt");
  assert.equal(
    caIdentity("C=US, O=(STAGING) Let's Encrypt, CN=(STAGING) Wannabe Watercress R11"),
    "O=(STAGING) Let's Encrypt",
  );
  assert.equal(caIdentity("CN=Pebble Intermediate CA 4cbd1a"), "CN=Pebble Intermediate CA 4cbd1a");
});

Deno.test("directory URLs compare without a trailing slash or case in the host", () => {
  assert.equal(
    normalizeDirectory("https://ACME-v02.api.letsencrypt.org/directory/"),
    normalizeDirectory("https://acme-v02.api.letsencrypt.org/directory"),
  );
});

Deno.test("IssuerChanged: by the recorded directory, else by the issuer once the CA is known", () => {
  const now = new Date("2026-01-01T00:00:00Z");
  const base: PolicyInput = {
    domains: ["a.example"],
    now,
    renewBeforeMs: 30 * 86_400_000,
    exists: true,
    type: "kubernetes.io/tls",
    keyMatches: true,
    certificate: {
      notBefore: new Date("2025-12-01T00:00:00Z"),
      notAfter: new Date("2026-03-01T00:00:00Z"),
      dnsNames: ["a.example"],
    },
  };
  const production = "https://acme-v02.api.letsencrypt.org/directory";
  const staging = "https://acme-staging-v02.api.letsencrypt.org/directory";
  const le = "O=Let's Encrypt";
  const decideWith = (origin: PolicyInput["origin"], known: string[]) =>
    decide({ ...base, acme: { directory: production, knownCaIdentities: known }, origin }).reason;
  assert.equal(
    decideWith({ directory: staging, caIdentity: "O=(STAGING) Let's Encrypt" }, [le]),
    "IssuerChanged",
  );
  assert.equal(decideWith({ directory: `${production}/`, caIdentity: le }, []), "Valid");
  assert.equal(decideWith({ caIdentity: "O=(STAGING) Let's Encrypt" }, [le]), "IssuerChanged");
  assert.equal(decideWith({ caIdentity: le }, [le]), "Valid");
  assert.equal(decideWith({ caIdentity: "O=(STAGING) Let's Encrypt" }, []), "Valid", "unknown CA: no guess");
  assert.equal(decide(base).reason, "Valid", "no expectation: any CA");
});
