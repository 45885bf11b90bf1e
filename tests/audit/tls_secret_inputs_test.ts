/**
 * Certificate Secrets that hold something other than a sound leaf, key and chain: each must lead the policy to
 * a new certificate, with a message that names the field and what is wrong with it. Certificates are made by
 * openssl (tests/harness/openssl_ca.ts), independently of the code under test.
 */
import assert from "node:assert/strict";
import { inspectSecret } from "../../src/controller/inspect.ts";
import { decide } from "../../src/controller/policy.ts";
import type { KubeSecret } from "../../src/kube/types.ts";
import { createCsr, generatePrivateKey } from "../../src/pki/keys.ts";
import { run } from "../harness/process.ts";
import { createOpensslCa, selfSignedCertificate } from "../harness/openssl_ca.ts";

const renewBeforeMs = 30 * 24 * 3600 * 1000;
const domains = ["a.alpha.test"];

function tls(crt: string | Uint8Array, key: string): KubeSecret {
  const encoder = new TextEncoder();
  return {
    namespace: "web",
    name: "site",
    type: "kubernetes.io/tls",
    labels: {},
    annotations: {},
    data: { "tls.crt": typeof crt === "string" ? encoder.encode(crt) : crt, "tls.key": encoder.encode(key) },
  };
}

/** A self-signed CA certificate that nonetheless names the entry's domain, with its key. */
async function caNamingTheDomain(): Promise<{ cert: string; key: string; der: Uint8Array }> {
  const made = await selfSignedCertificate({
    subject: "/CN=Sneaky CA",
    sans: ["DNS:a.alpha.test"],
    ca: true,
  });
  return { cert: made.certPem, key: made.keyPem, der: made.der };
}

const ca = await createOpensslCa({ name: "Audit" });
const leafKey = await generatePrivateKey("ecdsa-p256");
const leaf = await ca.signCsr(await createCsr(leafKey, domains), 90);
ca.remove();
const sneaky = await caNamingTheDomain();
const issuedAt = new Date();

Deno.test("a sound leaf, key and chain is kept (the baseline of the cases below)", async () => {
  const decision = decide(
    await inspectSecret(tls(leaf + ca.intermediatePem, leafKey), domains, issuedAt, renewBeforeMs),
  );
  assert.equal(decision.action, "renew-later");
});

Deno.test("a CA certificate in tls.crt is not taken for the server's certificate, even with its key and name", async () => {
  const decision = decide(
    await inspectSecret(tls(sneaky.cert, sneaky.key), domains, issuedAt, renewBeforeMs),
  );
  assert.deepEqual(decision, {
    action: "issue",
    reason: "MissingData",
    message:
      "tls.crt begins with a CA certificate (CN=Sneaky CA), not the server's certificate: the leaf must " +
      "come first",
  });
});

Deno.test("a chain in the wrong order (intermediate first) is reissued, naming the order", async () => {
  const decision = decide(
    await inspectSecret(tls(ca.intermediatePem + leaf, leafKey), domains, issuedAt, renewBeforeMs),
  );
  assert.deepEqual(decision, {
    action: "issue",
    reason: "MissingData",
    message:
      "tls.crt begins with a CA certificate (CN=Audit Intermediate), not the server's certificate: the " +
      "leaf must come first",
  });
});

Deno.test("an expired certificate is reissued with its expiry named", async () => {
  const [notAfter] = /notAfter=(.*)/.exec(
    await run("openssl", ["x509", "-noout", "-enddate"], { stdin: leaf }),
  )!
    .slice(1);
  const expiry = new Date(notAfter);
  const later = new Date(expiry.getTime() + 1000);
  const decision = decide(await inspectSecret(tls(leaf, leafKey), domains, later, renewBeforeMs));
  assert.deepEqual(decision, {
    action: "issue",
    reason: "Expiring",
    message: `the certificate expired at ${expiry.toISOString()}`,
  });
});

Deno.test("a key of another type than the certificate's is an invalid pair", async () => {
  for (const type of ["rsa2048", "ecdsa-p384"] as const) {
    const other = await generatePrivateKey(type);
    const decision = decide(await inspectSecret(tls(leaf, other), domains, issuedAt, renewBeforeMs));
    assert.deepEqual(decision, {
      action: "issue",
      reason: "InvalidKeyPair",
      message: "tls.key is not the private key of the certificate in tls.crt",
    });
  }
});

Deno.test("a DER certificate (binary, not UTF-8) in tls.crt is named as not PEM", async () => {
  const decision = decide(await inspectSecret(tls(sneaky.der, sneaky.key), domains, issuedAt, renewBeforeMs));
  assert.deepEqual(decision, {
    action: "issue",
    reason: "MissingData",
    message: "tls.crt is not a PEM certificate",
  });
});

Deno.test("a PEM private key with a damaged body is an invalid pair, not a crash", async () => {
  const damaged = leafKey.replace(/\n[A-Za-z0-9+/]{8}/, "\n!!!!!!!!");
  const decision = decide(await inspectSecret(tls(leaf, damaged), domains, issuedAt, renewBeforeMs));
  assert.deepEqual(decision, {
    action: "issue",
    reason: "InvalidKeyPair",
    message: "tls.key is not the private key of the certificate in tls.crt",
  });
});
