/**
 * The controller end to end, on one stack for the whole file: a real kube-apiserver (RBAC from manifests/),
 * Knot taking signed updates, and pebble validating over DNS-01. notariat runs in-process with a kubeconfig
 * for a service-account token minted under the manifests' RBAC, so what it may do is exactly what it gets.
 */
import assert from "node:assert/strict";
import type { Issuer } from "../../src/acme/issuer.ts";
import type { RunOptions } from "../../src/cli/options.ts";
import { runController } from "../../src/controller/controller.ts";
import { renewalTime } from "../../src/controller/renewal.ts";
import { createKubeAccountStore } from "../../src/kube/account_key_secrets.ts";
import { createKube } from "../../src/kube/client.ts";
import type { Kube } from "../../src/kube/types.ts";
import { createLogger } from "../../src/observe/log.ts";
import {
  parseCertificateChain,
  privateKeyMatchesCertificate,
  verifyChain,
} from "../../src/pki/certificate.ts";
import { generatePrivateKey } from "../../src/pki/keys.ts";
import {
  b64,
  certificatesConfigMap,
  type Json,
  loadManifests,
  RBAC_MANIFESTS,
  tsigSecret,
  unb64,
  waitFor,
} from "../harness/cluster_objects.ts";
import { startStack } from "../harness/stack.ts";
import { createTestIssuer } from "../harness/test_issuer.ts";

const MANIFESTS = [...RBAC_MANIFESTS, "deployment"];
const manifests = () => loadManifests(MANIFESTS);

Deno.test("the controller keeps Secrets valid against kube-apiserver, Knot and pebble", async (t) => {
  const stack = await startStack();
  const { cluster, knot, pebble } = stack;
  let kube: Kube | undefined;
  const lines: string[] = [];
  try {
    const admin = cluster.request;
    const apply = cluster.apply;
    const nameserver = `127.0.0.1:${knot.address.port}`;
    const knotTsig = (namespace: string, name: string, withNameserver: boolean) =>
      tsigSecret(knot.keys["hmac-sha256"].text, withNameserver ? nameserver : undefined, { namespace, name });
    const secretsAccess = manifests().find((m) =>
      m.kind === "RoleBinding" && m.metadata.name === "notariat-secrets"
    );
    await apply(manifests());
    await apply([
      { apiVersion: "v1", kind: "Namespace", metadata: { name: "web" } },
      { apiVersion: "v1", kind: "Namespace", metadata: { name: "private" } },
      // An administrator grants notariat the Secrets of "web" as manifests/secrets-access.yaml says; not "private".
      { ...secretsAccess, metadata: { ...secretsAccess.metadata, namespace: "web" } },
      knotTsig("notariat", "tsig", true),
      knotTsig("web", "tsig-web", false),
      knotTsig("private", "tsig", true),
      {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { namespace: "notariat", name: "opaque" },
        data: { a: b64("b") },
      },
    ]);

    const entries = (siteDomains: string[]) => [
      { secret: "web/site-tls", domains: siteDomains, email: "ops@alpha.test", tsigSecretName: "tsig" },
      {
        secret: "wild-tls",
        domains: ["*.beta.test", "beta.test"],
        email: "ops@alpha.test",
        tsigSecretName: "web/tsig-web",
        nameserver,
      },
      { secret: "no-tsig-tls", domains: ["n.alpha.test"], email: "ops@alpha.test", tsigSecretName: "absent" },
      {
        secret: "private/hidden-tls",
        domains: ["h.alpha.test"],
        email: "ops@alpha.test",
        tsigSecretName: "tsig",
      },
      { secret: "opaque", domains: ["o.alpha.test"], email: "ops@alpha.test", tsigSecretName: "tsig" },
    ];
    const setConfig = (list: unknown[]) => apply([certificatesConfigMap(list)]);
    const invalidEntry = {
      secret: "bad-tls",
      domains: ["not a domain"],
      email: "ops@alpha.test",
      tsigSecretName: "tsig",
    };
    await setConfig([...entries(["site.alpha.test", "www.alpha.test"]), invalidEntry]);

    const token = await cluster.mintToken("notariat", "notariat");
    kube = await createKube({ kubeconfig: cluster.kubeconfigFor(token, "notariat") });
    const real = createTestIssuer(pebble, knot.address, {
      accounts: createKubeAccountStore(kube, kube.namespace),
    });
    let issueCalls = 0;
    const issuer: Issuer = {
      ...real,
      issue(request) {
        issueCalls++;
        return real.issue(request);
      },
    };
    const options: RunOptions = {
      acme: pebble.directoryUrl,
      config: "notariat",
      propagationCheck: "update-server",
      propagationTimeoutMs: 10_000,
      dnsTimeoutMs: 2_000,
      concurrency: 2,
      renewBeforeMs: 30 * 24 * 3600 * 1000,
      // Long, so every change below is seen through the watches, not the periodic pass.
      resyncMs: 3600 * 1000,
      logFormat: "json",
      logLevel: "debug",
      httpAddress: "",
      leaderElect: false,
      shutdownTimeoutMs: 10_000,
      once: true,
      dryRun: false,
    };
    const logger = createLogger({ format: "json", level: "debug", write: (line) => lines.push(line) });
    const root = await pebble.issuingRoot();

    const readSecret = async (ns: string, name: string): Promise<Json | undefined> => {
      const response = await admin("GET", `/api/v1/namespaces/${ns}/secrets/${name}`);
      return response.status === 200 ? response.body : undefined;
    };
    const events = async (): Promise<Json[]> =>
      (await admin("GET", "/api/v1/namespaces/notariat/events")).body.items;
    const accountSecrets = async (): Promise<string[]> =>
      (await admin("GET", "/api/v1/namespaces/notariat/secrets")).body.items
        .map((s: Json) => s.metadata.name)
        .filter((n: string) => n.startsWith("notariat-acme-"));
    const assertValidTls = async (secret: Json, domains: string[]) => {
      assert.equal(secret.type, "kubernetes.io/tls");
      const crt = unb64(secret.data["tls.crt"]);
      const key = unb64(secret.data["tls.key"]);
      assert.equal(await verifyChain(crt, root), true, "chain verifies against pebble's root");
      assert.equal(await privateKeyMatchesCertificate(key, crt), true, "tls.key matches");
      assert.deepEqual(parseCertificateChain(crt)[0].dnsNames.sort(), [...domains].sort());
      assert.equal(secret.metadata.labels["app.kubernetes.io/managed-by"], "notariat");
      assert.equal(secret.metadata.annotations["notariat.io/domains"], domains.join(","));
    };

    await t.step("the manifests' Deployment is accepted by the API server as written", async () => {
      const deployment = (await admin("GET", "/apis/apps/v1/namespaces/notariat/deployments/notariat")).body;
      assert.deepEqual(deployment.spec.template.spec.containers[0].args, [
        "-config",
        "notariat",
        "-leader-elect",
      ]);
      assert.equal(deployment.spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem, true);
    });

    await t.step("the manifests' RBAC grants what notariat needs and nothing more", async () => {
      const can = async (verb: string, resource: string, namespace: string | undefined, name?: string) => {
        const review = await admin("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", {
          apiVersion: "authorization.k8s.io/v1",
          kind: "SubjectAccessReview",
          spec: {
            user: "system:serviceaccount:notariat:notariat",
            groups: ["system:serviceaccounts", "system:serviceaccounts:notariat", "system:authenticated"],
            resourceAttributes: { verb, resource, namespace, name },
          },
        });
        return `${verb} ${resource} ${namespace ?? "*"}/${name ?? "*"}: ${
          review.body.status.allowed === true
        }`;
      };
      const checks = await Promise.all([
        can("get", "configmaps", "notariat", "notariat"),
        can("watch", "configmaps", "notariat", "notariat"),
        can("create", "events", "notariat"),
        can("patch", "events", "notariat"),
        can("create", "secrets", "notariat"),
        can("get", "secrets", "web", "site-tls"),
        can("watch", "secrets", "web", "site-tls"),
        can("patch", "secrets", "web", "site-tls"),
        can("get", "configmaps", "notariat", "other"),
        can("list", "configmaps", "notariat"),
        can("update", "configmaps", "notariat", "notariat"),
        can("get", "secrets", "private", "hidden-tls"),
        can("get", "secrets", "default", "x"),
        can("list", "secrets", undefined),
        can("delete", "secrets", "web", "site-tls"),
        can("update", "secrets", "web", "site-tls"),
        can("create", "events", "web"),
        can("list", "namespaces", undefined),
      ]);
      assert.deepEqual(checks, [
        "get configmaps notariat/notariat: true",
        "watch configmaps notariat/notariat: true",
        "create events notariat/*: true",
        "patch events notariat/*: true",
        "create secrets notariat/*: true",
        "get secrets web/site-tls: true",
        "watch secrets web/site-tls: true",
        "patch secrets web/site-tls: true",
        "get configmaps notariat/other: false",
        "list configmaps notariat/*: false",
        "update configmaps notariat/notariat: false",
        "get secrets private/hidden-tls: false",
        "get secrets default/x: false",
        "list secrets */*: false",
        "delete secrets web/site-tls: false",
        "update secrets web/site-tls: false",
        "create events web/*: false",
        "list namespaces */*: false",
      ]);
    });

    await t.step("-dry-run -once reports what it would do and writes nothing, calls no CA", async () => {
      const code = await runController({
        kube: kube!,
        issuer,
        options: { ...options, dryRun: true },
        logger,
      });
      assert.equal(code, 1, "failing entries and the invalid entry make -once fail");
      assert.equal(issueCalls, 0);
      assert.equal(await readSecret("web", "site-tls"), undefined);
      assert.equal(await readSecret("notariat", "wild-tls"), undefined);
      assert.deepEqual(await accountSecrets(), []);
      assert.deepEqual(await events(), []);
      const wouldIssue = lines.map((l) => JSON.parse(l)).filter((l) =>
        l.msg.startsWith("dry run: would request")
      );
      assert.deepEqual(wouldIssue.map((l) => [l.secret, l.reason]).sort(), [
        ["notariat/wild-tls", "DoesNotExist"],
        ["web/site-tls", "DoesNotExist"],
      ]);
    });

    await t.step("-once issues the good entries, reports the bad ones, and exits 1", async () => {
      const code = await runController({ kube: kube!, issuer, options, logger });
      assert.equal(code, 1);
      assert.equal(issueCalls, 2);
      await assertValidTls(await readSecret("web", "site-tls"), ["site.alpha.test", "www.alpha.test"]);
      await assertValidTls(await readSecret("notariat", "wild-tls"), ["*.beta.test", "beta.test"]);
      assert.equal((await accountSecrets()).length, 1, "one ACME account for the one email");
      const seen = (await events()).map((e: Json) => [e.reason, e.type, e.involvedObject.name, e.message]);
      const find = (reason: string, text: string) =>
        seen.filter(([r, , , m]) => r === reason && m.includes(text));
      assert.equal(find("Issued", "certificates[0] (secret web/site-tls): DoesNotExist").length, 1);
      assert.equal(find("Issued", "certificates[1] (secret notariat/wild-tls): DoesNotExist").length, 1);
      assert.deepEqual(find("Failed", "certificates[2] (secret notariat/no-tsig-tls)").map((e) => e[3]), [
        "certificates[2] (secret notariat/no-tsig-tls): failed (config): TSIG Secret notariat/absent does not exist; " +
        "the issuance was attempted because of DoesNotExist (the Secret does not exist)",
      ]);
      const forbidden = find("Failed", "certificates[3] (secret private/hidden-tls)");
      assert.equal(forbidden.length, 1);
      assert.match(forbidden[0][3], /get Secret private\/hidden-tls: 403 secrets "hidden-tls" is forbidden/);
      const wrongType = find("Failed", "certificates[4] (secret notariat/opaque): failed (WrongType)");
      assert.equal(wrongType.length, 1);
      assert.match(wrongType[0][3], /type "Opaque", not kubernetes\.io\/tls; notariat does not convert it/);
      const opaque = await readSecret("notariat", "opaque");
      assert.deepEqual([opaque.type, opaque.data], ["Opaque", { a: b64("b") }]);
      const invalid = find("InvalidConfig", "certificates[5]");
      assert.equal(invalid.length, 1);
      assert.match(invalid[0][3], /^certificates\[5\] \(secret notariat\/bad-tls\): domains\[0\]/);
      for (const [, , subject] of seen) assert.equal(subject, "notariat");
      const tsigSecretText = knot.keys["hmac-sha256"].text.split(":")[2];
      for (const line of lines) {
        assert.doesNotMatch(line, /PRIVATE KEY|BEGIN CERT/);
        assert.equal(line.includes(tsigSecretText), false, "the TSIG secret never reaches a log line");
      }
      for (const [, , , message] of seen) assert.equal(message.includes(tsigSecretText), false);
    });

    await t.step("-once with only valid Secrets touches nothing and exits 0", async () => {
      await setConfig(entries(["site.alpha.test", "www.alpha.test"]).slice(0, 2));
      const before = [
        (await readSecret("web", "site-tls")).metadata.resourceVersion,
        (await readSecret("notariat", "wild-tls")).metadata.resourceVersion,
      ];
      const code = await runController({ kube: kube!, issuer, options, logger });
      assert.equal(code, 0);
      assert.equal(issueCalls, 2, "no ACME request");
      assert.deepEqual(
        [
          (await readSecret("web", "site-tls")).metadata.resourceVersion,
          (await readSecret("notariat", "wild-tls")).metadata.resourceVersion,
        ],
        before,
        "no write",
      );
    });

    await t.step("-once inside the renewal window renews, with a Renewed Event", async () => {
      const before = await readSecret("notariat", "wild-tls");
      const notAfter = parseCertificateChain(unb64(before.data["tls.crt"]))[0].notAfter;
      const insideWindow = new Date(notAfter.getTime() - 10 * 24 * 3600 * 1000);
      const code = await runController({ kube: kube!, issuer, options, logger, now: () => insideWindow });
      assert.equal(code, 0);
      assert.equal(issueCalls, 4, "both certificates are inside the window at that time");
      const after = await readSecret("notariat", "wild-tls");
      assert.notEqual(after.data["tls.crt"], before.data["tls.crt"]);
      await assertValidTls(after, ["*.beta.test", "beta.test"]);
      const renewed = (await events()).filter((e: Json) =>
        e.reason === "Renewed" &&
        e.message.startsWith("certificates[1] (secret notariat/wild-tls): Expiring: renewed")
      );
      assert.equal(renewed.length, 1);
    });

    // From here on notariat runs as a service; every step changes something and waits for the fix.
    let armConflict = false;
    let conflictsProvoked = 0;
    const racing: Kube = {
      ...kube,
      namespace: kube.namespace,
      async updateSecret(secret) {
        if (armConflict && secret.name === "site-tls") {
          armConflict = false;
          // Someone else writes the Secret between notariat's read and its write: the API server answers 409.
          const patched = await admin("PATCH", "/api/v1/namespaces/web/secrets/site-tls", {
            metadata: { annotations: { "example.com/racer": "was here" } },
          }, "application/merge-patch+json");
          assert.equal(patched.status, 200);
          conflictsProvoked++;
        }
        return kube!.updateSecret(secret);
      },
    };
    const stop = new AbortController();
    const running = runController({
      kube: racing,
      issuer,
      options: { ...options, once: false },
      logger,
      signal: stop.signal,
    });
    try {
      await t.step("a running controller leaves valid Secrets alone", async () => {
        await new Promise((r) => setTimeout(r, 1500));
        assert.equal(issueCalls, 4);
      });

      await t.step("a changed domain list in the ConfigMap reissues the certificate", async () => {
        const domains = ["site.alpha.test", "www.alpha.test", "api.alpha.test"];
        await setConfig(entries(domains).slice(0, 2));
        const secret = await waitFor("reissue with api.alpha.test", async () => {
          const s = await readSecret("web", "site-tls");
          return s.metadata.annotations["notariat.io/domains"] === domains.join(",") ? s : undefined;
        });
        await assertValidTls(secret, domains);
        assert.equal(issueCalls, 5);
      });

      await t.step("a deleted Secret is recreated", async () => {
        assert.equal((await admin("DELETE", "/api/v1/namespaces/notariat/secrets/wild-tls")).status, 200);
        const secret = await waitFor("wild-tls recreated", () => readSecret("notariat", "wild-tls"));
        await assertValidTls(secret, ["*.beta.test", "beta.test"]);
        assert.equal(issueCalls, 6);
      });

      await t.step(
        "a corrupted tls.key is reissued through a real 409, keeping what users added",
        async () => {
          const before = await readSecret("web", "site-tls");
          const otherKey = await generatePrivateKey("ecdsa-p256");
          armConflict = true;
          const patched = await admin("PATCH", "/api/v1/namespaces/web/secrets/site-tls", {
            metadata: { labels: { team: "web" }, annotations: { "example.com/owner": "web" } },
            data: { "tls.key": b64(otherKey), "extra.txt": b64("kept") },
          }, "application/merge-patch+json");
          assert.equal(patched.status, 200);
          const secret = await waitFor("site-tls reissued", async () => {
            const s = await readSecret("web", "site-tls");
            return s.data["tls.crt"] !== before.data["tls.crt"] ? s : undefined;
          });
          assert.equal(conflictsProvoked, 1);
          await assertValidTls(secret, ["site.alpha.test", "www.alpha.test", "api.alpha.test"]);
          assert.equal(unb64(secret.data["extra.txt"]), "kept");
          assert.equal(secret.metadata.labels.team, "web");
          assert.equal(secret.metadata.annotations["example.com/owner"], "web");
          assert.equal(secret.metadata.annotations["example.com/racer"], "was here");
          assert.equal(issueCalls, 7);
          // The Event is written after the Secret: wait for it rather than race it.
          const issued = await waitFor("the Issued Event naming the conflict", async () => {
            const found = (await events()).filter((e: Json) =>
              e.reason === "Issued" && e.message.includes("InvalidKeyPair") &&
              e.message.includes("1 write conflict")
            );
            return found.length > 0 ? found : undefined;
          });
          assert.equal(issued.length, 1);
        },
      );

      await t.step("after all that, a quiet controller makes no further ACME request", async () => {
        await new Promise((r) => setTimeout(r, 1500));
        assert.equal(issueCalls, 7);
      });
    } finally {
      stop.abort();
      assert.equal(await running, 0);
    }

    await t.step(
      "a running controller renews a certificate when its renewal time comes, not before",
      async () => {
        // One entry, so no other certificate's time interferes.
        await setConfig(entries(["site.alpha.test", "www.alpha.test", "api.alpha.test"]).slice(0, 1));
        const [leaf] = parseCertificateChain(unb64((await readSecret("web", "site-tls")).data["tls.crt"]));
        const renewAt = renewalTime(leaf.notBefore, leaf.notAfter, options.renewBeforeMs).getTime();
        const renewedEvents = async (): Promise<string[]> =>
          (await events()).filter((e: Json) => e.reason === "Renewed").map((e: Json) => e.message);
        const renewedBefore = await renewedEvents();
        // The clock is set 1.5 s before the first renewal time, and back to real time once issuance starts (so
        // the renewed certificate, and the other one, are years away again).
        let offset = renewAt - Date.now() - 1500;
        const before = issueCalls;
        const renewing: Issuer = {
          ...issuer,
          issue(request) {
            offset = 0;
            return issuer.issue(request);
          },
        };
        const stopRenewing = new AbortController();
        const loop = runController({
          kube: kube!,
          issuer: renewing,
          options: { ...options, once: false },
          logger,
          signal: stopRenewing.signal,
          now: () => new Date(Date.now() + offset),
        });
        try {
          await new Promise((r) => setTimeout(r, 1000));
          assert.equal(issueCalls, before, "nothing happens before the renewal time");
          const renewed = await waitFor("a new Renewed Event", async () => {
            const messages = (await renewedEvents()).filter((m) => !renewedBefore.includes(m));
            return messages.length > 0 ? messages : undefined;
          }, 10_000);
          assert.equal(renewed.length, 1);
          assert.match(renewed[0], /^certificates\[0\] \(secret web\/site-tls\): Expiring: renewed/);
          await new Promise((r) => setTimeout(r, 500));
          assert.equal(issueCalls, before + 1, "one renewal, then quiet");
        } finally {
          stopRenewing.abort();
          assert.equal(await loop, 0);
        }
      },
    );

    await t.step(
      "the periodic pass retries an entry whose TSIG Secret appeared later, before its backoff ends",
      async () => {
        const late = {
          secret: "late-tls",
          domains: ["late.alpha.test"],
          email: "ops@alpha.test",
          tsigSecretName: "late-tsig",
        };
        await setConfig([late]);
        const before = issueCalls;
        const stopLate = new AbortController();
        const loop = runController({
          kube: kube!,
          issuer,
          options: { ...options, once: false, resyncMs: 1000 },
          logger,
          signal: stopLate.signal,
        });
        try {
          await waitFor("the Failed Event", async () => {
            const failed = (await events()).filter((e: Json) =>
              e.reason === "Failed" && e.message.includes("TSIG Secret notariat/late-tsig does not exist")
            );
            return failed.length > 0 ? true : undefined;
          });
          await apply([knotTsig("notariat", "late-tsig", true)]);
          // The first retry after a failure is 12-18 s away; the 1 s periodic pass comes first.
          const secret = await waitFor("late-tls issued", () => readSecret("notariat", "late-tls"), 5000);
          await assertValidTls(secret, ["late.alpha.test"]);
          assert.equal(issueCalls, before + 1);
        } finally {
          stopLate.abort();
          assert.equal(await loop, 0);
        }
      },
    );
  } catch (err) {
    console.error(lines.slice(-40).join("\n"));
    throw err;
  } finally {
    await kube?.close();
    await stack.stop();
  }
});
