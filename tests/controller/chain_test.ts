/**
 * A tls.crt that does not carry the intermediate its leaf was issued by is served as it is, and clients without
 * that intermediate cached reject it: the policy reissues with IncompleteChain. Certificates are made by
 * openssl (tests/harness/openssl_ca.ts), independently of the code under test.
 */
import assert from "node:assert/strict";
import { inspectSecret } from "../../src/controller/inspect.ts";
import { decide } from "../../src/controller/policy.ts";
import type { KubeSecret } from "../../src/kube/types.ts";
import { createCsr, generatePrivateKey } from "../../src/pki/keys.ts";
import { createOpensslCa } from "../harness/openssl_ca.ts";

const renewBeforeMs = 30 * 24 * 3600 * 1000;
const domains = ["a.alpha.test"];

function tls(crt: string, key: string): KubeSecret {
  const encoder = new TextEncoder();
  return {
    namespace: "web",
    name: "site",
    type: "kubernetes.io/tls",
    labels: {},
    annotations: {},
    data: { "tls.crt": encoder.encode(crt), "tls.key": encoder.encode(key) },
  };
}

async function judge(crt: string, key: string) {
  return decide(await inspectSecret(tls(crt, key), domains, new Date(), renewBeforeMs));
}

Deno.test("a tls.crt cut to the leaf, or with the wrong intermediate, is reissued as IncompleteChain", async () => {
  const ca = await createOpensslCa({ name: "Chain" });
  // Another CA with the same names: its intermediate has the subject the leaf names as issuer, not its key.
  const impostor = await createOpensslCa({ name: "Chain" });
  try {
    const key = await generatePrivateKey("ecdsa-p256");
    const leaf = await ca.signCsr(await createCsr(key, domains), 60);

    for (const full of [leaf + ca.intermediatePem, leaf + ca.intermediatePem + ca.rootPem]) {
      const decision = await judge(full, key);
      assert.equal(decision.action, "renew-later", decision.message);
    }

    const cut = await judge(leaf, key);
    assert.deepEqual([cut.action, cut.reason, cut.message], [
      "issue",
      "IncompleteChain",
      "tls.crt is not a full chain: it holds the server's certificate alone: the intermediate that issued it " +
      "(CN=Chain Intermediate) is missing",
    ]);

    const rootOnly = await judge(leaf + ca.rootPem, key);
    assert.deepEqual([rootOnly.reason, rootOnly.message], [
      "IncompleteChain",
      "tls.crt is not a full chain: the intermediate that issued the server's certificate (CN=Chain Intermediate) " +
      "is not in it",
    ]);

    const wrong = await judge(leaf + impostor.intermediatePem, key);
    assert.deepEqual([wrong.reason, wrong.message], [
      "IncompleteChain",
      "tls.crt is not a full chain: the certificate in the chain named as its issuer (CN=Chain Intermediate) " +
      "did not sign it: the intermediate is another CA's",
    ]);
  } finally {
    ca.remove();
    impostor.remove();
  }
});
