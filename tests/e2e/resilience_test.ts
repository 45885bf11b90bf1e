/**
 * The running controller outlives the servers it depends on: kube-apiserver restarting under it (etcd kept),
 * and its DNS server (Knot) going down and coming back. One stack for the file: kube-apiserver + etcd under the
 * manifests' RBAC, Knot taking signed updates, pebble validating over DNS-01; notariat runs in-process.
 */
import assert from "node:assert/strict";
import type { RunOptions } from "../../src/cli/options.ts";
import { runController } from "../../src/controller/controller.ts";
import { createKubeAccountStore } from "../../src/kube/account_key_secrets.ts";
import { createKube } from "../../src/kube/client.ts";
import type { Kube } from "../../src/kube/types.ts";
import { createLogger } from "../../src/observe/log.ts";
import { parseCertificateChain, verifyChain } from "../../src/pki/certificate.ts";
import {
  certificatesConfigMap,
  type Json,
  loadManifests,
  RBAC_MANIFESTS,
  tsigSecret,
  unb64,
  waitFor,
} from "../harness/cluster_objects.ts";
import { queryTxt } from "../harness/dns_servers.ts";
import { startStack } from "../harness/stack.ts";
import { createTestIssuer, type IssueStart, recordingStarts } from "../harness/test_issuer.ts";

const manifests = () => loadManifests(RBAC_MANIFESTS);

Deno.test("the controller survives an API server restart and a DNS server outage", async (t) => {
  const stack = await startStack();
  const { cluster, knot, pebble } = stack;
  let kube: Kube | undefined;
  const lines: { at: number; record: Json }[] = [];
  let token = "";
  try {
    const admin = cluster.request;
    const nameserver = `127.0.0.1:${knot.address.port}`;
    const tsigText = knot.keys["hmac-sha256"].text;
    await cluster.apply([
      ...manifests(),
      tsigSecret(tsigText, nameserver),
    ]);
    const site = (domains: string[]) => ({
      secret: "site-tls",
      domains,
      email: "ops@alpha.test",
      tsigSecretName: "tsig",
    });
    const other = {
      secret: "other-tls",
      domains: ["other.beta.test"],
      email: "ops@alpha.test",
      tsigSecretName: "tsig",
    };
    const setConfig = (list: unknown[], annotations: Record<string, string> = {}) =>
      cluster.apply([certificatesConfigMap(list, { annotations })]);
    await setConfig([site(["site.alpha.test"]), other]);

    token = await cluster.mintToken("notariat", "notariat");
    kube = await createKube({ kubeconfig: cluster.kubeconfigFor(token, "notariat") });
    const issueStarts: IssueStart[] = [];
    const issuer = recordingStarts(
      createTestIssuer(pebble, knot.address, {
        accounts: createKubeAccountStore(kube, kube.namespace),
        dns: { timeoutMs: 1_000 },
      }),
      issueStarts,
    );
    const issuesOf = (secret: string) => issueStarts.filter((s) => s.secret === secret);
    const options: RunOptions = {
      acme: pebble.directoryUrl,
      config: "notariat",
      propagationCheck: "update-server",
      propagationTimeoutMs: 10_000,
      dnsTimeoutMs: 1_000,
      concurrency: 2,
      renewBeforeMs: 30 * 24 * 3600 * 1000,
      // Long, so every change below is seen through the watches (or the backoff), not the periodic pass.
      resyncMs: 3600 * 1000,
      logFormat: "json",
      logLevel: "debug",
      httpAddress: "",
      leaderElect: false,
      shutdownTimeoutMs: 10_000,
      once: false,
      dryRun: false,
    };
    const logger = createLogger({
      format: "json",
      level: "debug",
      write: (line) => lines.push({ at: performance.now(), record: JSON.parse(line) }),
    });
    const logged = (msg: string, secret?: string) =>
      lines.filter((l) => l.record.msg === msg && (secret === undefined || l.record.secret === secret));
    const root = await pebble.issuingRoot();

    const readSecret = async (name: string): Promise<Json | undefined> => {
      const response = await admin("GET", `/api/v1/namespaces/notariat/secrets/${name}`);
      return response.status === 200 ? response.body : undefined;
    };
    const withDomains = (name: string, domains: string[]) => async () => {
      const secret = await readSecret(name);
      return secret?.metadata.annotations?.["notariat.io/domains"] === domains.join(",") ? secret : undefined;
    };
    const events = async (): Promise<Json[]> =>
      (await admin("GET", "/api/v1/namespaces/notariat/events")).body.items;
    const assertValidTls = async (secret: Json, domains: string[]) => {
      assert.equal(secret.type, "kubernetes.io/tls");
      assert.equal(await verifyChain(unb64(secret.data["tls.crt"]), root), true);
      assert.deepEqual(
        parseCertificateChain(unb64(secret.data["tls.crt"]))[0].dnsNames.sort(),
        [...domains].sort(),
      );
    };
    // A label on other-tls: the watch makes notariat look at it, and finding it valid proves the loop has run
    // since (so it has also looked at every other entry's due time on the clock as it then was).
    let touches = 0;
    const touchOther = async () => {
      const before = logged("certificate is valid", "notariat/other-tls").length;
      const patched = await admin("PATCH", "/api/v1/namespaces/notariat/secrets/other-tls", {
        metadata: { labels: { touched: String(++touches) } },
      }, "application/merge-patch+json");
      assert.equal(patched.status, 200);
      await waitFor(
        "other-tls found valid",
        () =>
          Promise.resolve(logged("certificate is valid", "notariat/other-tls").length > before || undefined),
        10_000,
      );
    };

    // The controller's clock: real time plus `offset`, so a backoff can be waited out without waiting.
    let offset = 0;
    const stop = new AbortController();
    const running = runController({
      kube,
      issuer,
      options,
      logger,
      signal: stop.signal,
      now: () => new Date(Date.now() + offset),
      random: () => 0.5,
    });
    try {
      await t.step("at start both certificates are issued", async () => {
        await assertValidTls(await waitFor("site-tls", withDomains("site-tls", ["site.alpha.test"])), [
          "site.alpha.test",
        ]);
        await assertValidTls(await waitFor("other-tls", withDomains("other-tls", ["other.beta.test"])), [
          "other.beta.test",
        ]);
        assert.equal(issueStarts.length, 2);
      });

      await t.step(
        "after kube-apiserver restarts, a ConfigMap edit is acted upon without a restart",
        async () => {
          const restartBegan = performance.now();
          await cluster.restartApiserver();
          const back = performance.now();
          const domains = ["site.alpha.test", "www.alpha.test"];
          await setConfig([site(domains), other]);
          const secret = await waitFor("site-tls with www.alpha.test", withDomains("site-tls", domains));
          await assertValidTls(secret, domains);
          const [reissue] = issuesOf("notariat/site-tls").slice(1);
          assert.notEqual(reissue, undefined);
          const failures = lines.filter((l) =>
            l.record.msg === "list or watch failed, retrying" && l.at > restartBegan
          );
          console.log(
            `API server down and back in ${(back - restartBegan).toFixed(0)} ms; ConfigMap edit acted upon ` +
              `${(reissue.at - back).toFixed(0)} ms after it was ready; ${failures.length} failed watch ` +
              `attempts logged (highest attempt ${Math.max(0, ...failures.map((l) => l.record.attempt))})`,
          );
          // The ended watches are retried 0.5, 1, 2, 4, 8 s apart: within 10 s of the server being back.
          assert.ok(reissue.at - back < 10_000, `acted upon ${(reissue.at - back).toFixed(0)} ms after`);
          assert.ok(failures.length > 0, "the outage was noticed");
          for (const failure of failures) {
            assert.match(failure.record.watch, /^(configmaps|secrets) in notariat$/);
          }
        },
      );

      await t.step("after a second restart, a deleted Secret is recreated as quickly", async () => {
        await cluster.restartApiserver();
        const back = performance.now();
        assert.equal((await admin("DELETE", "/api/v1/namespaces/notariat/secrets/other-tls")).status, 200);
        const secret = await waitFor("other-tls recreated", () => readSecret("other-tls"));
        await assertValidTls(secret, ["other.beta.test"]);
        const [recreate] = issuesOf("notariat/other-tls").slice(1);
        console.log(
          `deleted Secret acted upon ${(recreate.at - back).toFixed(0)} ms after the API server was ready`,
        );
        assert.ok(recreate.at - back < 10_000, `acted upon ${(recreate.at - back).toFixed(0)} ms after`);
        assert.equal(issueStarts.length, 4);
      });

      await t.step(
        "with Knot down, the entry that needs a certificate fails naming the server, and backs off",
        async () => {
          const otherBefore = await readSecret("other-tls");
          await knot.halt();
          const domains = ["site.alpha.test", "www.alpha.test", "api.alpha.test"];
          await setConfig([site(domains), other]);
          const failed = await waitFor(
            "the failure log line",
            () => Promise.resolve(logged("certificate failed", "notariat/site-tls")[0]),
          );
          const failedAt = Date.now() - (performance.now() - failed.at);
          console.log(`failed after ${failed.record.duration}: ${failed.record.error}`);
          // Knot's port is closed: UDP queries go unanswered (an unconnected socket is not told of the refusal).
          const server = `127\\.0\\.0\\.1:${knot.address.port}`;
          assert.match(
            failed.record.error,
            new RegExp(`failed: server ${server} did not answer within 1000 ms over UDP \\(2 attempts\\)$`),
          );
          const event = await waitFor(
            "the Failed Event",
            async () =>
              (await events()).find((e: Json) =>
                e.reason === "Failed" && e.message.startsWith("certificates[0] (secret notariat/site-tls)")
              ),
          );
          assert.equal(event.type, "Warning");
          // The entry is named once; the failure and why an issuance was attempted are told apart.
          assert.equal(failed.record.attempted_because, "DomainsMismatch");
          assert.ok(!failed.record.error.includes("certificates[0]"), failed.record.error);
          assert.ok(
            event.message.startsWith(
              `certificates[0] (secret notariat/site-tls): failed (dns): ${failed.record.error}; ` +
                "the issuance was attempted because of DomainsMismatch (",
            ),
            event.message,
          );
          assert.equal(issuesOf("notariat/site-tls").length, 3);

          // 55 s into a 60 s backoff (random 0.5: no jitter): the entry waits, while the valid one is still served.
          offset = failedAt + 55_000 - Date.now();
          await touchOther();
          assert.equal(issuesOf("notariat/site-tls").length, 3, "no retry before the backoff ends");
          const otherAfter = await readSecret("other-tls");
          assert.equal(otherAfter.data["tls.crt"], otherBefore.data["tls.crt"]);
          assert.equal(issuesOf("notariat/other-tls").length, 2);
          const otherFailures = (await events()).filter((e: Json) =>
            e.reason === "Failed" && e.message.includes("other-tls")
          );
          assert.deepEqual(otherFailures, []);
        },
      );

      await t.step(
        "with Knot back on the same port, the next attempt succeeds and leaves no record",
        async () => {
          const restartBegan = performance.now();
          await knot.restart();
          console.log(`Knot restarted in ${(performance.now() - restartBegan).toFixed(0)} ms`);
          const [failed] = logged("certificate failed", "notariat/site-tls");
          const failedAt = Date.now() - (performance.now() - failed.at);
          offset = failedAt + 61_000 - Date.now();
          await touchOther();
          const domains = ["site.alpha.test", "www.alpha.test", "api.alpha.test"];
          const secret = await waitFor(
            "site-tls with api.alpha.test",
            withDomains("site-tls", domains),
            10_000,
          );
          await assertValidTls(secret, domains);
          assert.equal(issuesOf("notariat/site-tls").length, 4, "one retry, the one the backoff allowed");
          for (const domain of [...domains, "other.beta.test"]) {
            assert.deepEqual(await queryTxt(knot.address, `_acme-challenge.${domain}`), []);
          }
          // The Event is written after the Secret: wait for the third rather than race it.
          const issuedEvents = async () =>
            (await events()).filter((e: Json) =>
              e.reason === "Issued" && e.message.startsWith("certificates[0] (secret notariat/site-tls)")
            );
          await waitFor(
            "the third Issued Event",
            async () => (await issuedEvents()).length >= 3 || undefined,
          );
          assert.equal((await issuedEvents()).length, 3);
        },
      );
    } finally {
      stop.abort();
      assert.equal(await running, 0);
    }

    await t.step("no log line carries the TSIG secret or the token", () => {
      const secret = tsigText.slice(tsigText.lastIndexOf(":") + 1);
      for (const { record } of lines) {
        const text = JSON.stringify(record);
        assert.equal(text.includes(secret), false);
        assert.equal(text.includes(token), false);
        assert.doesNotMatch(text, /PRIVATE KEY/);
      }
    });
  } catch (err) {
    console.error(lines.slice(-40).map((l) => JSON.stringify(l.record)).join("\n"));
    throw err;
  } finally {
    await kube?.close();
    await stack.stop();
  }
});
