import assert from "node:assert/strict";
import { NotariatError } from "../../src/errors.ts";
import {
  parseCertificateChain,
  privateKeyMatchesCertificate,
  verifyChain,
} from "../../src/pki/certificate.ts";
import { createCsr, generatePrivateKey } from "../../src/pki/keys.ts";
import { run } from "../harness/process.ts";
import { createOpensslCa } from "../harness/openssl_ca.ts";

Deno.test("certificates: parse, key match and chain verification against an openssl-made CA", async (t) => {
  const ca = await createOpensslCa({ name: "Alpha" });
  const other = await createOpensslCa({ name: "Other" });
  try {
    const ecKey = await generatePrivateKey("ecdsa-p256");
    const leafPem = await ca.signCsr(await createCsr(ecKey, ["WWW.Alpha.test", "*.beta.test"]), 10);
    const chainPem = leafPem + ca.intermediatePem;

    await t.step(
      "parseCertificateChain lists leaf then intermediate with names, serial and validity",
      async () => {
        const chain = parseCertificateChain(chainPem);
        assert.equal(chain.length, 2);
        const [leaf, intermediate] = chain;
        assert.equal(leaf.subject, "CN=WWW.Alpha.test");
        assert.equal(leaf.issuer, "CN=Alpha Intermediate");
        assert.deepEqual(leaf.dnsNames, ["www.alpha.test", "*.beta.test"]);
        const serial = (await run("openssl", ["x509", "-noout", "-serial"], { stdin: leafPem })).trim();
        assert.equal(`serial=${leaf.serialNumber.toUpperCase()}`, serial);
        const days = (leaf.notAfter.getTime() - leaf.notBefore.getTime()) / 86_400_000;
        assert.equal(days, 10);
        assert.equal(intermediate.subject, "CN=Alpha Intermediate");
        assert.equal(intermediate.issuer, "CN=Alpha Root");
        assert.deepEqual(intermediate.dnsNames, []);
      },
    );

    await t.step(
      "the authority key id and issuer common name match openssl's view of each certificate",
      async () => {
        const chain = parseCertificateChain(chainPem + ca.rootPem);
        const pems = [leafPem, ca.intermediatePem, ca.rootPem];
        for (const [i, info] of chain.entries()) {
          const text = await run("openssl", ["x509", "-noout", "-ext", "authorityKeyIdentifier"], {
            stdin: pems[i],
          });
          const keyId = /keyid:([0-9A-F:]+)|^\s+([0-9A-F]{2}(?::[0-9A-F]{2})+)\s*$/m.exec(text);
          const expected = keyId === null
            ? undefined
            : (keyId[1] ?? keyId[2]).replaceAll(":", "").toLowerCase();
          assert.equal(info.authorityKeyId, expected, `certificate ${i + 1}`);
        }
        assert.ok(chain[0].authorityKeyId, "openssl's leaf carries an Authority Key Identifier");
        assert.equal(chain[0].issuerCommonName, "Alpha Intermediate");
        assert.equal(chain[1].issuerCommonName, "Alpha Root");
      },
    );

    await t.step("a certificate without a subject (a name too long for a common name) parses", async () => {
      const long = `${"a".repeat(60)}.alpha.test`;
      const pem = await ca.signCsr(await createCsr(ecKey, [long]), 10);
      const [leaf] = parseCertificateChain(pem);
      assert.equal(leaf.subject, "");
      assert.deepEqual(leaf.dnsNames, [long]);
    });

    await t.step("parseCertificateChain rejects text without a certificate", () => {
      assert.throws(() => parseCertificateChain("hello"), (err: unknown) => {
        assert.ok(err instanceof NotariatError);
        assert.equal(err.kind, "pki");
        assert.equal(err.message, "no PEM certificate found");
        return true;
      });
    });

    await t.step("parseCertificateChain rejects a PEM block that is not a certificate", () => {
      const broken = leafPem + "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
      assert.throws(() => parseCertificateChain(broken), (err: unknown) => {
        assert.ok(err instanceof NotariatError);
        assert.equal(err.kind, "pki");
        assert.match(err.message, /^certificate 2 of 2 is not valid DER/);
        return true;
      });
    });

    await t.step("privateKeyMatchesCertificate: the leaf's key matches, another key does not", async () => {
      assert.equal(await privateKeyMatchesCertificate(ecKey, chainPem), true);
      assert.equal(
        await privateKeyMatchesCertificate(await generatePrivateKey("ecdsa-p256"), chainPem),
        false,
      );
      assert.equal(await privateKeyMatchesCertificate(await generatePrivateKey("rsa2048"), chainPem), false);
    });

    await t.step("privateKeyMatchesCertificate: an RSA leaf matches its key", async () => {
      const rsaKey = await generatePrivateKey("rsa2048");
      const rsaLeaf = await ca.signCsr(await createCsr(rsaKey, ["rsa.alpha.test"]));
      assert.equal(await privateKeyMatchesCertificate(rsaKey, rsaLeaf), true);
      assert.equal(await privateKeyMatchesCertificate(await generatePrivateKey("rsa2048"), rsaLeaf), false);
    });

    await t.step("privateKeyMatchesCertificate: an unreadable key is a mismatch, not an error", async () => {
      assert.equal(await privateKeyMatchesCertificate("not a key", chainPem), false);
    });

    await t.step(
      "privateKeyMatchesCertificate: a SEC1 (EC PRIVATE KEY) form of the same key matches",
      async () => {
        const sec1 = await run("openssl", ["ec", "-outform", "PEM"], { stdin: ecKey });
        assert.match(sec1, /^-----BEGIN EC PRIVATE KEY-----/);
        assert.equal(await privateKeyMatchesCertificate(sec1, chainPem), true);
      },
    );

    await t.step("verifyChain: leaf + intermediate verify against their root", async () => {
      assert.equal(await verifyChain(chainPem, ca.rootPem), true);
      assert.equal(await verifyChain(chainPem + ca.rootPem, ca.rootPem), true);
    });

    await t.step("verifyChain: another root, a missing intermediate or a later date fail", async () => {
      assert.equal(await verifyChain(chainPem, other.rootPem), false);
      assert.equal(await verifyChain(leafPem, ca.rootPem), false);
      assert.equal(await verifyChain(leafPem + other.intermediatePem, ca.rootPem), false);
      assert.equal(await verifyChain(chainPem, ca.rootPem, new Date(Date.now() + 11 * 86_400_000)), false);
      assert.equal(await verifyChain(chainPem, ca.rootPem, new Date(Date.now() + 9 * 86_400_000)), true);
    });

    await t.step("verifyChain: a leaf cannot act as an issuer", async () => {
      const key = await generatePrivateKey("ecdsa-p256");
      const sibling = await ca.signCsr(await createCsr(key, ["sibling.alpha.test"]));
      assert.equal(await verifyChain(leafPem + sibling + ca.intermediatePem, ca.rootPem), false);
    });
  } finally {
    ca.remove();
    other.remove();
  }
});
