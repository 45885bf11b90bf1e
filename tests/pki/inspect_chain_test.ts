import assert from "node:assert/strict";
import type { KeyType } from "../../src/config/types.ts";
import { parseCertificateChain } from "../../src/pki/certificate.ts";
import { inspectChain } from "../../src/pki/inspect_chain.ts";
import { createCsr, generatePrivateKey } from "../../src/pki/keys.ts";
import { run } from "../harness/process.ts";
import { createOpensslCa } from "../harness/openssl_ca.ts";

const ca = await createOpensslCa({ name: "Inspect" });

Deno.test({
  name: "inspectChain reads what the JavaScript parser reads, and matches keys of every configured type",
  sanitizeResources: false,
  fn: async (t) => {
    for (const type of ["ecdsa-p256", "ecdsa-p384", "rsa2048"] as KeyType[]) {
      await t.step(type, async () => {
        const key = await generatePrivateKey(type);
        const other = await generatePrivateKey(type);
        const chain = (await ca.signCsr(await createCsr(key, ["a.alpha.test", "B.alpha.test"]))) +
          ca.intermediatePem;
        const fast = inspectChain(chain, key);
        const slow = parseCertificateChain(chain);
        assert.equal(fast.keyMatches, true);
        assert.equal(inspectChain(chain, other).keyMatches, false);
        assert.deepEqual(fast.chain.map((c) => c.dnsNames), slow.map((c) => c.dnsNames));
        assert.deepEqual(fast.chain.map((c) => c.keyType), slow.map((c) => c.keyType));
        assert.deepEqual(fast.chain.map((c) => c.isCa), [false, true]);
        assert.deepEqual(fast.chain.map((c) => c.notAfter.getTime()), slow.map((c) => c.notAfter.getTime()));
        assert.deepEqual(fast.chain.map((c) => c.issuer), slow.map((c) => c.issuer));
        assert.deepEqual(fast.chain.map((c) => c.subject), slow.map((c) => c.subject));
      });
    }
  },
});

Deno.test("inspectChain: keys in other encodings (SEC 1, PKCS#1) match through the derived public key", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "notariat-inspect-" });
  try {
    await run("openssl", ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", `${dir}/ec.key`]);
    await run("openssl", ["genrsa", "-traditional", "-out", `${dir}/rsa.key`, "2048"]);
    for (const file of ["ec.key", "rsa.key"]) {
      const key = Deno.readTextFileSync(`${dir}/${file}`);
      assert.match(key, /BEGIN (EC|RSA) PRIVATE KEY/);
      const pkcs8 = await run("openssl", ["pkcs8", "-topk8", "-nocrypt", "-in", `${dir}/${file}`]);
      const chain = await ca.signCsr(await createCsr(pkcs8, ["x.alpha.test"]));
      assert.equal(inspectChain(chain, key).keyMatches, true, file);
      assert.equal(inspectChain(chain, pkcs8).keyMatches, true, `${file} as PKCS#8`);
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("inspectChain: an unreadable key is a mismatch, an unreadable certificate an error", async () => {
  const key = await generatePrivateKey("ecdsa-p256");
  const chain = await ca.signCsr(await createCsr(key, ["x.alpha.test"]));
  for (const bad of ["", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----", key.slice(0, 60)]) {
    assert.equal(inspectChain(chain, bad).keyMatches, false);
  }
  assert.throws(() => inspectChain("no pem", key), /no PEM certificate found/);
  assert.throws(
    () => inspectChain("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----", key),
    /certificate 1 of 1 is not valid DER/,
  );
});

Deno.test({
  name: "inspectChain: cleanup",
  fn: () => ca.remove(),
});
