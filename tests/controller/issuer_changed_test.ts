/**
 * Switching `-acme` to another CA (Let's Encrypt staging to production) must reissue valid certificates of the
 * old CA, not keep them until renewal. Two real pebble instances play the two CAs (each has its own root and
 * intermediate), with a real kube-apiserver and Knot; reconcileEntry runs as the controller runs it.
 */
import assert from "node:assert/strict";
import type { Issuer } from "../../src/acme/issuer.ts";
import type { CertificateSpec } from "../../src/config/types.ts";
import { reconcileEntry } from "../../src/controller/reconcile.ts";
import { createKubeAccountStore } from "../../src/kube/account_key_secrets.ts";
import { createKube } from "../../src/kube/client.ts";
import type { Kube } from "../../src/kube/types.ts";
import { parseCertificateChain, verifyChain } from "../../src/pki/certificate.ts";
import { startKnot } from "../harness/dns_servers.ts";
import { startKube } from "../harness/kube.ts";
import { type PebbleHandle, startPebble } from "../harness/pebble.ts";
import { createTestIssuer } from "../harness/test_issuer.ts";
import { tsigSecret } from "../harness/cluster_objects.ts";

Deno.test("a certificate from another CA than -acme is reissued with IssuerChanged", async (t) => {
  const [cluster, knot] = await Promise.all([startKube(), startKnot()]);
  const pebbles: PebbleHandle[] = [];
  let kube: Kube | undefined;
  try {
    const staging = await startPebble({ dnsServer: knot.address });
    pebbles.push(staging);
    const production = await startPebble({ dnsServer: knot.address });
    pebbles.push(production);
    await cluster.apply([
      { apiVersion: "v1", kind: "Namespace", metadata: { name: "notariat" } },
      tsigSecret(knot.keys["hmac-sha256"].text, `127.0.0.1:${knot.address.port}`),
    ]);
    kube = await createKube({ kubeconfig: cluster.kubeconfigFor(cluster.adminToken, "notariat") });
    const k = kube;
    const issuerFor = (pebble: PebbleHandle): Issuer =>
      createTestIssuer(pebble, knot.address, { accounts: createKubeAccountStore(k, k.namespace) });
    const reconcile = (spec: CertificateSpec, issuer: Issuer, pebble: PebbleHandle) =>
      reconcileEntry(spec, {
        kube: k,
        issuer,
        now: () => new Date(),
        renewBeforeMs: 30 * 24 * 3600 * 1000,
        dryRun: false,
        acmeDirectory: pebble.directoryUrl,
      });
    const spec = (index: number, name: string, domain: string): CertificateSpec => ({
      index,
      secret: { namespace: "notariat", name },
      domains: [domain],
      email: "ops@alpha.test",
      tsigSecret: { namespace: "notariat", name: "tsig" },
      keyType: "ecdsa-p256",
    });
    const chainOf = async (name: string) => {
      const secret = await k.readSecret("notariat", name);
      return { pem: new TextDecoder().decode(secret!.data["tls.crt"]), version: secret!.resourceVersion };
    };
    /** A Secret another tool wrote: the certificate and key of `issuer`, none of notariat's annotations. */
    const adopt = async (name: string, domain: string, issuer: Issuer) => {
      const issued = await issuer.issue({
        label: name,
        domains: [domain],
        email: "ops@alpha.test",
        keyType: "ecdsa-p256",
        zoneAccess: { key: knot.keys["hmac-sha256"].key, nameserver: knot.address },
      });
      await cluster.apply([{
        apiVersion: "v1",
        kind: "Secret",
        type: "kubernetes.io/tls",
        metadata: { namespace: "notariat", name },
        stringData: { "tls.crt": issued.certificatePem, "tls.key": issued.privateKeyPem },
      }]);
    };

    const fromStaging = issuerFor(staging);
    const fromProduction = issuerFor(production);
    const site = spec(0, "site-tls", "site.alpha.test");

    await t.step(
      "a certificate notariat wrote from the old directory is reissued from the new one",
      async () => {
        assert.equal((await reconcile(site, fromStaging, staging)).result, "issued");
        assert.ok(await verifyChain((await chainOf("site-tls")).pem, await staging.issuingRoot()));
        assert.equal((await reconcile(site, fromStaging, staging)).result, "valid", "same CA: kept");
        const outcome = await reconcile(site, fromProduction, production);
        assert.deepEqual([outcome.result, outcome.reason], ["issued", "IssuerChanged"], outcome.message);
        assert.match(outcome.message, new RegExp(`came from ${staging.directoryUrl}; notariat now uses`));
        assert.ok(await verifyChain((await chainOf("site-tls")).pem, await production.issuingRoot()));
      },
    );

    await t.step("an adopted Secret from the same CA stays untouched", async () => {
      await adopt("same-ca-tls", "same.alpha.test", fromProduction);
      const before = await chainOf("same-ca-tls");
      const outcome = await reconcile(spec(1, "same-ca-tls", "same.alpha.test"), fromProduction, production);
      assert.deepEqual([outcome.result, outcome.reason], ["valid", "Valid"], outcome.message);
      assert.deepEqual(await chainOf("same-ca-tls"), before);
    });

    await t.step("an adopted Secret from another CA is judged by its issuer and reissued", async () => {
      await adopt("other-ca-tls", "other.alpha.test", fromStaging);
      const stagingIssuer = parseCertificateChain((await chainOf("other-ca-tls")).pem)[0].issuer;
      const outcome = await reconcile(
        spec(2, "other-ca-tls", "other.alpha.test"),
        fromProduction,
        production,
      );
      assert.deepEqual([outcome.result, outcome.reason], ["issued", "IssuerChanged"], outcome.message);
      assert.ok(
        outcome.message.includes(`issued by ${stagingIssuer}, not by the CA of ${production.directoryUrl}`),
      );
      assert.ok(await verifyChain((await chainOf("other-ca-tls")).pem, await production.issuingRoot()));
    });
  } finally {
    await kube?.close();
    await Promise.all([cluster.stop(), knot.stop(), ...pebbles.map((p) => p.stop())]);
  }
});
