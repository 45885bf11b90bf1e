import assert from "node:assert/strict";
import { createPrivateKey } from "node:crypto";
import { KEY_TYPES, type KeyType } from "../../src/config/types.ts";
import { NotariatError } from "../../src/errors.ts";
import { createCsr, generatePrivateKey } from "../../src/pki/keys.ts";
import { run } from "../harness/process.ts";

const EXPECTED: Record<KeyType, { type: string; curve?: string; bits?: number }> = {
  "ecdsa-p256": { type: "ec", curve: "prime256v1" },
  "ecdsa-p384": { type: "ec", curve: "secp384r1" },
  "rsa2048": { type: "rsa", bits: 2048 },
  "rsa3072": { type: "rsa", bits: 3072 },
  "rsa4096": { type: "rsa", bits: 4096 },
};

for (const keyType of KEY_TYPES) {
  Deno.test(`generatePrivateKey makes a PKCS#8 ${keyType} key`, async () => {
    const pem = await generatePrivateKey(keyType);
    assert.match(pem, /^-----BEGIN PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+-----END PRIVATE KEY-----\n?$/);
    const key = createPrivateKey(pem);
    const expected = EXPECTED[keyType];
    assert.equal(key.asymmetricKeyType, expected.type);
    if (expected.curve) assert.equal(key.asymmetricKeyDetails?.namedCurve, expected.curve);
    if (expected.bits) assert.equal(key.asymmetricKeyDetails?.modulusLength, expected.bits);
  });
}

Deno.test("generatePrivateKey returns a different key each time", async () => {
  assert.notEqual(await generatePrivateKey("ecdsa-p256"), await generatePrivateKey("ecdsa-p256"));
});

async function opensslCsr(csrPem: string): Promise<{ subject: string; sans: string[] }> {
  // -verify checks the CSR's self-signature; a bad signature makes openssl fail.
  const text = await run("openssl", ["req", "-noout", "-verify", "-subject", "-text"], { stdin: csrPem });
  const subject = text.match(/^subject=(.*)$/m)?.[1].trim() ?? "";
  const sanLine = text.match(/X509v3 Subject Alternative Name:\s*\n\s*(.*)\n/)?.[1] ?? "";
  return { subject, sans: sanLine.split(",").map((s) => s.trim()).filter((s) => s !== "") };
}

Deno.test("createCsr asks for exactly the domains, in order, with the first as common name (ECDSA P-384)", async () => {
  const key = await generatePrivateKey("ecdsa-p384");
  const csr = await createCsr(key, ["*.alpha.test", "alpha.test", "www.beta.test"]);
  assert.match(csr, /^-----BEGIN CERTIFICATE REQUEST-----/);
  assert.deepEqual(await opensslCsr(csr), {
    subject: "CN = *.alpha.test",
    sans: ["DNS:*.alpha.test", "DNS:alpha.test", "DNS:www.beta.test"],
  });
});

Deno.test("createCsr signs with an RSA key", async () => {
  const key = await generatePrivateKey("rsa2048");
  const csr = await createCsr(key, ["www.alpha.test"]);
  assert.deepEqual(await opensslCsr(csr), { subject: "CN = www.alpha.test", sans: ["DNS:www.alpha.test"] });
});

Deno.test("createCsr leaves the common name out when the first domain is longer than 64 characters", async () => {
  const key = await generatePrivateKey("ecdsa-p256");
  const long = `${"a".repeat(60)}.alpha.test`;
  const csr = await createCsr(key, [long, "alpha.test"]);
  assert.deepEqual(await opensslCsr(csr), { subject: "", sans: [`DNS:${long}`, "DNS:alpha.test"] });
});

Deno.test("createCsr rejects an unreadable key without quoting it", async () => {
  const garbage = "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWJ5dGVz\n-----END PRIVATE KEY-----\n";
  await assert.rejects(createCsr(garbage, ["alpha.test"]), (err: unknown) => {
    assert.ok(err instanceof NotariatError);
    assert.equal(err.kind, "pki");
    assert.match(err.message, /^private key is not a readable PEM key/);
    assert.ok(!err.message.includes("c2VjcmV0LWJ5dGVz"));
    return true;
  });
});

Deno.test("createCsr rejects an empty domain list", async () => {
  const key = await generatePrivateKey("ecdsa-p256");
  await assert.rejects(createCsr(key, []), { name: "NotariatError", kind: "pki" });
});
