/**
 * Certificate lifetimes end to end against pebble 2.10 (profiles, renewal information), a real kube-apiserver
 * and Knot: reconcileEntry with a settable clock, so a 6-day certificate's schedule and a CA moving its
 * renewal window can be followed without waiting days.
 */
import assert from "node:assert/strict";
import { certIdOf } from "../../src/acme/ari.ts";
import type { Issuer } from "../../src/acme/issuer.ts";
import type { CertificateSpec } from "../../src/config/types.ts";
import { type Outcome, type ReconcileDeps, reconcileEntry } from "../../src/controller/reconcile.ts";
import { createKube } from "../../src/kube/client.ts";
import type { Kube } from "../../src/kube/types.ts";
import { parseCertificateChain } from "../../src/pki/certificate.ts";
import { type Json, tsigSecret, unb64 } from "../harness/cluster_objects.ts";
import { startKnot } from "../harness/dns_servers.ts";
import { startKube } from "../harness/kube.ts";
import { startPebble } from "../harness/pebble.ts";
import { createTestIssuer, type LogLine } from "../harness/test_issuer.ts";
import { sentReplaces } from "../acme/expect.ts";

const DAY = 24 * 3600 * 1000;
const PROFILES = {
  default: { description: "90 days", validityPeriod: 90 * 86400 },
  shortlived: { description: "6 days", validityPeriod: 6 * 86400 },
};

function spec(index: number, name: string, domain: string, profile?: string): CertificateSpec {
  return {
    index,
    secret: { namespace: "web", name },
    domains: [domain],
    email: "ops@alpha.test",
    tsigSecret: { namespace: "web", name: "tsig" },
    keyType: "ecdsa-p256",
    ...(profile === undefined ? {} : { profile }),
  };
}

function lifetimeDays(outcome: Outcome, secret: Json): number {
  const [leaf] = parseCertificateChain(unb64(secret.data["tls.crt"]));
  assert.ok(outcome.renewal, "the outcome carries the renewal plan");
  return Math.round((leaf.notAfter.getTime() - leaf.notBefore.getTime()) / DAY);
}

Deno.test("45/90-day and 6-day certificates: profiles, ARI windows, the lifetime rule", async (t) => {
  const [cluster, knot] = await Promise.all([startKube(), startKnot()]);
  const stops: (() => Promise<void>)[] = [() => cluster.stop(), () => knot.stop()];
  let kube: Kube | undefined;
  try {
    const pebble = await startPebble({
      dnsServer: knot.address,
      version: "2.10",
      config: { profiles: PROFILES },
    });
    stops.push(() => pebble.stop());
    await cluster.apply([
      { apiVersion: "v1", kind: "Namespace", metadata: { name: "web" } },
      tsigSecret(knot.keys["hmac-sha256"].text, `127.0.0.1:${knot.address.port}`, { namespace: "web" }),
    ]);
    kube = await createKube({ kubeconfig: cluster.adminKubeconfig, namespace: "web" });
    let clock = Date.now();
    const now = () => new Date(clock);
    const logs: LogLine[] = [];
    const issuer = createTestIssuer(pebble, knot.address, { now, logs });
    const deps: ReconcileDeps = {
      kube,
      issuer,
      now,
      renewBeforeMs: 0,
      dryRun: false,
      acmeDirectory: pebble.directoryUrl,
    };
    const readSecret = async (name: string): Promise<Json> =>
      (await cluster.request("GET", `/api/v1/namespaces/web/secrets/${name}`)).body;
    const ordersCreated = () => logs.filter((l) => l.message === "ACME order created");

    const short = spec(0, "short-tls", "short.alpha.test", "shortlived");
    let shortPem = "";
    await t.step(
      "the shortlived profile: a 6-day certificate, its renewal time from the CA's window",
      async () => {
        const outcome = await reconcileEntry(short, deps);
        assert.equal(outcome.result, "issued", outcome.message);
        const secret = await readSecret("short-tls");
        assert.equal(lifetimeDays(outcome, secret), 6);
        shortPem = unb64(secret.data["tls.crt"]);
        const annotations = secret.metadata.annotations;
        assert.equal(annotations["notariat.io/profile"], "shortlived");
        assert.equal(annotations["notariat.io/renewal-source"], "ari");
        assert.equal(annotations["notariat.io/renew-at"], outcome.renewal!.at.toISOString());
        assert.equal(outcome.renewal!.source, "ari");
        const [leaf] = parseCertificateChain(shortPem);
        const info = await issuer.renewalInfo(certIdOf(leaf)!);
        assert.ok(outcome.renewal!.at >= info!.window.start && outcome.renewal!.at <= info!.window.end);
        assert.ok(outcome.renewAt! <= outcome.renewal!.at, "looked at again no later than the renewal time");
      },
    );

    await t.step(
      "looked at again with the clock standing still: valid, nothing written, no order",
      async () => {
        const version = (await readSecret("short-tls")).metadata.resourceVersion;
        const orders = ordersCreated().length;
        for (let i = 0; i < 3; i++) {
          const outcome = await reconcileEntry(short, deps);
          assert.equal(outcome.result, "valid", outcome.message);
          assert.equal(outcome.renewal?.source, "ari");
        }
        assert.equal((await readSecret("short-tls")).metadata.resourceVersion, version);
        assert.equal(ordersCreated().length, orders);
      },
    );

    await t.step(
      "the CA moves the window into the past: renewed at once, replacing the old certificate",
      async () => {
        const past = {
          suggestedWindow: {
            start: new Date(Date.now() - 2 * 3600_000).toISOString(),
            end: new Date(Date.now() - 3600_000).toISOString(),
          },
        };
        const moved = await pebble.management("/set-renewal-info/", {
          method: "POST",
          body: JSON.stringify({ certificate: shortPem, ariResponse: JSON.stringify(past) }),
        });
        assert.equal(moved.status, 200, await moved.text());
        // The next look is at the CA's Retry-After; jump there.
        const valid = await reconcileEntry(short, deps);
        clock = valid.renewAt!.getTime();
        const outcome = await reconcileEntry(short, deps);
        assert.equal(outcome.result, "renewed", outcome.message);
        assert.equal(outcome.reason, "RenewalSuggested");
        const [old] = parseCertificateChain(shortPem);
        assert.ok(sentReplaces(logs, certIdOf(old)!), "the new order named the certificate it replaces");
        const secret = await readSecret("short-tls");
        assert.notEqual(unb64(secret.data["tls.crt"]), shortPem);
        assert.equal(lifetimeDays(outcome, secret), 6);
        const again = await reconcileEntry(short, deps);
        assert.equal(again.result, "valid", "the new certificate's window lies ahead");
      },
    );

    await t.step("a change of profile reissues with reason ProfileChanged: 6 days to 90", async () => {
      const outcome = await reconcileEntry({ ...short, profile: "default" }, deps);
      assert.equal(outcome.result, "issued", outcome.message);
      assert.equal(outcome.reason, "ProfileChanged");
      const secret = await readSecret("short-tls");
      assert.equal(lifetimeDays(outcome, secret), 90);
      assert.equal(secret.metadata.annotations["notariat.io/profile"], "default");
      assert.equal(ordersCreated().at(-1)?.fields.profile, "default");
    });

    await t.step(
      "a profile the CA does not offer fails that entry, named; the next entry is served",
      async () => {
        const bad = await reconcileEntry(spec(1, "odd-tls", "odd.alpha.test", "nonesuch"), deps);
        assert.equal(bad.result, "failed");
        assert.equal(bad.reason, "config");
        assert.equal(
          bad.message,
          'profile: profile "nonesuch" is not offered by the CA (offered: default, shortlived)',
        );
        assert.equal((await cluster.request("GET", "/api/v1/namespaces/web/secrets/odd-tls")).status, 404);
        const good = await reconcileEntry(spec(2, "good-tls", "good.alpha.test", "default"), deps);
        assert.equal(good.result, "issued", good.message);
      },
    );

    await t.step(
      "a window that has begun but runs for days (a mass revocation ahead): renewed at the next check",
      async () => {
        const entry = spec(2, "good-tls", "good.alpha.test", "default");
        const pem = unb64((await readSecret("good-tls")).data["tls.crt"]);
        const begun = {
          suggestedWindow: {
            start: new Date(Date.now() - 3600_000).toISOString(),
            end: new Date(Date.now() + 2 * DAY).toISOString(),
          },
        };
        const moved = await pebble.management("/set-renewal-info/", {
          method: "POST",
          body: JSON.stringify({ certificate: pem, ariResponse: JSON.stringify(begun) }),
        });
        assert.equal(moved.status, 200, await moved.text());
        const valid = await reconcileEntry(entry, deps);
        assert.equal(valid.result, "valid", "the old window is cached until the CA's Retry-After");
        clock = valid.renewAt!.getTime();
        const outcome = await reconcileEntry(entry, deps);
        assert.deepEqual([outcome.result, outcome.reason], ["renewed", "RenewalSuggested"], outcome.message);
      },
    );

    await t.step(
      "without renewal information (a CA without ARI), a 6-day certificate follows the rule and never loops",
      async () => {
        const withoutAri: Issuer = {
          ...issuer,
          directoryInfo: async () => ({ ...(await issuer.directoryInfo()), renewalInfo: undefined }),
        };
        const ruleDeps = { ...deps, issuer: withoutAri, renewBeforeMs: 30 * DAY };
        const entry = spec(3, "rule-tls", "rule.alpha.test", "shortlived");
        clock = Date.now();
        const issued = await reconcileEntry(entry, ruleDeps);
        assert.equal(issued.result, "issued", issued.message);
        const [leaf] = parseCertificateChain(unb64((await readSecret("rule-tls")).data["tls.crt"]));
        // Half-way through the lifetime (pebble's notAfter is inclusive: 6 days less a second).
        const halfway = new Date((leaf.notBefore.getTime() + leaf.notAfter.getTime()) / 2);
        assert.deepEqual(issued.renewal, { at: halfway, source: "rule" });
        assert.equal(
          (await readSecret("rule-tls")).metadata.annotations["notariat.io/renewal-source"],
          "rule",
        );
        const orders = ordersCreated().length;
        for (let i = 0; i < 3; i++) {
          assert.equal((await reconcileEntry(entry, ruleDeps)).result, "valid");
        }
        clock = halfway.getTime() - 1;
        assert.equal((await reconcileEntry(entry, ruleDeps)).result, "valid", "not a millisecond early");
        assert.equal(ordersCreated().length, orders, "no order while the certificate is not due");
        clock = halfway.getTime();
        const renewed = await reconcileEntry(entry, ruleDeps);
        assert.deepEqual([renewed.result, renewed.reason], ["renewed", "Expiring"]);
        assert.equal(ordersCreated().at(-1)?.fields.replaces, undefined, "no replaces to a CA without ARI");
      },
    );
  } finally {
    await kube?.close();
    for (const stop of stops.reverse()) await stop();
  }
});
