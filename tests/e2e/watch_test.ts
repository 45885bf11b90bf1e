/**
 * The controller never goes deaf: against a kube-apiserver that ends every watch after 3–6 s
 * (--min-request-timeout=3, and notariat asking for no timeout of its own), changes made after several
 * server-side ends are each acted on at once; a namespace first forbidden, then granted, is picked up without a
 * restart, and ConfigMap edits go on being heard meanwhile. notariat runs in-process under the manifests' RBAC.
 */
import assert from "node:assert/strict";
import { type ControllerOptions, runController } from "../../src/controller/controller.ts";
import { createKubeAccountStore } from "../../src/kube/account_key_secrets.ts";
import { createKube } from "../../src/kube/client.ts";
import type { Kube } from "../../src/kube/types.ts";
import { createLogger } from "../../src/observe/log.ts";
import {
  certificatesConfigMap,
  type Json,
  loadManifests,
  RBAC_MANIFESTS,
  tsigSecret,
  waitFor,
} from "../harness/cluster_objects.ts";
import { startStack } from "../harness/stack.ts";
import { createTestIssuer, type IssueStart, recordingStarts } from "../harness/test_issuer.ts";

/** How soon after a change the controller must have started acting on it. */
const REACTION_MS = 2000;

Deno.test("watches the API server keeps ending are resumed: every change is acted on within 2 s", async (t) => {
  const stack = await startStack({ kube: { apiserverArgs: ["--min-request-timeout=3"] } });
  const { cluster, knot, pebble } = stack;
  let kube: Kube | undefined;
  const lines: { at: number; record: Json }[] = [];
  const stop = new AbortController();
  let running: Promise<number> | undefined;
  try {
    const admin = cluster.request;
    await cluster.apply([
      ...loadManifests(RBAC_MANIFESTS),
      { apiVersion: "v1", kind: "Namespace", metadata: { name: "late" } },
      tsigSecret(knot.keys["hmac-sha256"].text, `127.0.0.1:${knot.address.port}`),
    ]);
    const entry = (secret: string, domains: string[]) => ({
      secret,
      domains,
      email: "ops@alpha.test",
      tsigSecretName: "notariat/tsig",
    });
    const setConfig = (list: unknown[]) => cluster.apply([certificatesConfigMap(list)]);
    let siteDomains = ["site.alpha.test"];
    const entries = () => [entry("site-tls", siteDomains), entry("late/late-tls", ["late.beta.test"])];
    await setConfig(entries());

    const token = await cluster.mintToken("notariat", "notariat");
    // No timeoutSeconds of notariat's own: the server ends each watch after 3–6 s.
    kube = await createKube({ kubeconfig: cluster.kubeconfigFor(token, "notariat"), watchTimeoutSeconds: 0 });
    const issueStarts: IssueStart[] = [];
    const issuer = recordingStarts(
      createTestIssuer(pebble, knot.address, {
        accounts: createKubeAccountStore(kube, kube.namespace),
        dns: { timeoutMs: 1_000 },
      }),
      issueStarts,
    );
    const options: ControllerOptions = {
      acme: pebble.directoryUrl,
      config: "notariat",
      concurrency: 2,
      renewBeforeMs: 30 * 24 * 3600 * 1000,
      // Long: every change below must come through the watches, not the periodic pass.
      resyncMs: 3600 * 1000,
      once: false,
      dryRun: false,
    };
    const logger = createLogger({
      format: "json",
      level: "debug",
      write: (line) => lines.push({ at: performance.now(), record: JSON.parse(line) }),
    });
    const serverEnds = () =>
      lines.filter((l) => l.record.msg === "watch ended by the API server, resuming").length;
    const waitForServerEnds = async (n: number) => {
      const target = serverEnds() + n;
      await waitFor(
        `${n} more server-ended watches`,
        () => Promise.resolve(serverEnds() >= target || undefined),
      );
    };
    /** Makes a change and returns how long until notariat began issuing for `secret` again. */
    const reaction = async (secret: string, change: () => Promise<unknown>) => {
      const before = issueStarts.filter((s) => s.secret === secret).length;
      const at = performance.now();
      await change();
      const started = await waitFor(
        `an issuance for ${secret}`,
        () => Promise.resolve(issueStarts.filter((s) => s.secret === secret)[before]),
        15_000,
        10,
      );
      return started.at - at;
    };

    running = runController({ kube, issuer, options, logger, signal: stop.signal });

    await t.step(
      "the entry in the forbidden namespace fails, naming the namespace; the other is issued",
      async () => {
        await waitFor(
          "site-tls issued",
          () => Promise.resolve(issueStarts.find((s) => s.secret === "notariat/site-tls")),
        );
        const failed = await waitFor(
          "late-tls failing",
          () =>
            Promise.resolve(
              lines.find((l) => l.record.msg === "certificate failed" && l.record.secret === "late/late-tls"),
            ),
        );
        assert.match(failed.record.error, /403/);
        assert.match(failed.record.error, /late/);
      },
    );

    await t.step(
      "after several server-side watch ends, ConfigMap edits and Secret changes are each acted on",
      async () => {
        const delays: number[] = [];
        for (let round = 0; round < 3; round++) {
          await waitForServerEnds(2);
          siteDomains = [...siteDomains, `r${round}.alpha.test`];
          delays.push(await reaction("notariat/site-tls", () => setConfig(entries())));
          await waitForServerEnds(2);
          delays.push(
            await reaction(
              "notariat/site-tls",
              () => admin("DELETE", "/api/v1/namespaces/notariat/secrets/site-tls"),
            ),
          );
        }
        console.log(
          `reactions (ms): ${
            delays.map((d) => d.toFixed(0)).join(", ")
          }; server-ended watches: ${serverEnds()}`,
        );
        for (const delay of delays) {
          assert.ok(delay < REACTION_MS, `acted on after ${delay.toFixed(0)} ms`);
        }
      },
    );

    await t.step(
      "granting the namespace is picked up without a restart, and edits are still heard",
      async () => {
        const granted = loadManifests(["secrets-access"]).map((binding: Json) => ({
          ...binding,
          metadata: { ...binding.metadata, namespace: "late" },
        }));
        await cluster.apply(granted);
        await waitFor("late-tls issued", async () => {
          const response = await admin("GET", "/api/v1/namespaces/late/secrets/late-tls");
          return response.status === 200 ? response.body : undefined;
        }, 30_000);
        const delays: number[] = [];
        for (let round = 0; round < 2; round++) {
          await waitForServerEnds(2);
          siteDomains = [...siteDomains, `g${round}.alpha.test`];
          delays.push(await reaction("notariat/site-tls", () => setConfig(entries())));
        }
        delays.push(
          await reaction("late/late-tls", () => admin("DELETE", "/api/v1/namespaces/late/secrets/late-tls")),
        );
        console.log(`reactions after the grant (ms): ${delays.map((d) => d.toFixed(0)).join(", ")}`);
        for (const delay of delays) assert.ok(delay < REACTION_MS, `acted on after ${delay.toFixed(0)} ms`);
      },
    );

    await t.step("a TSIG Secret changed meanwhile is read again by the next issuance", async () => {
      const tsig = (key: string) => cluster.apply([tsigSecret(key, `127.0.0.1:${knot.address.port}`)]);
      const outcome = (domain: string) =>
        waitFor(`an outcome for ${domain}`, () =>
          Promise.resolve(
            lines.find((l) =>
              l.record.secret === "notariat/site-tls" &&
              (l.record.msg === "certificate failed" || l.record.msg === "certificate issued") &&
              JSON.stringify(l.record).includes(domain)
            ),
          ), 30_000);
      await tsig(`hmac-sha256:unknown-key.:${btoa("k".repeat(32))}`);
      siteDomains = [...siteDomains, "k0.alpha.test"];
      await setConfig(entries());
      const failed = await outcome("k0.alpha.test");
      assert.equal(failed.record.msg, "certificate failed", JSON.stringify(failed.record));
      assert.match(failed.record.error, /unknown-key/);
      await tsig(knot.keys["hmac-sha256"].text);
      siteDomains = [...siteDomains, "k1.alpha.test"];
      await setConfig(entries());
      const issued = await outcome("k1.alpha.test");
      assert.equal(issued.record.msg, "certificate issued", JSON.stringify(issued.record));
    });
  } finally {
    stop.abort();
    await running;
    await kube?.close();
    await stack.stop();
  }
});
