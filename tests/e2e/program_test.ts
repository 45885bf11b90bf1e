/**
 * The program as it runs in a cluster: `main.ts` in a subprocess, in its watching mode (no -once), under a
 * service-account token bound to the RBAC of manifests/, against a real kube-apiserver, Knot and pebble. It must
 * react to ConfigMap changes without a restart, log JSON lines without secrets, and stop cleanly on SIGTERM.
 */
import assert from "node:assert/strict";
import {
  parseCertificateChain,
  privateKeyMatchesCertificate,
  verifyChain,
} from "../../src/pki/certificate.ts";
import {
  certificatesConfigMap,
  loadManifests,
  RBAC_MANIFESTS,
  tsigSecret,
  waitFor,
} from "../harness/cluster_objects.ts";
import { notariatCommand } from "../harness/program.ts";
import { startStack } from "../harness/stack.ts";

Deno.test("the notariat process keeps Secrets valid, follows ConfigMap edits and stops on SIGTERM", async (t) => {
  const stack = await startStack();
  const { cluster, knot, pebble } = stack;
  let child: Deno.ChildProcess | undefined;
  let output: Promise<string> | undefined;
  try {
    const dns = `127.0.0.1:${knot.address.port}`;
    const tsigText = knot.keys["hmac-sha512"].text;
    const setCertificates = (list: unknown[]) => cluster.apply([certificatesConfigMap(list, { yaml: true })]);
    await cluster.apply([
      ...loadManifests(RBAC_MANIFESTS),
      tsigSecret(tsigText, dns),
    ]);
    const site = {
      secret: "site-tls",
      domains: ["site.alpha.test"],
      email: "ops@alpha.test",
      tsigSecretName: "tsig",
    };
    await setCertificates([site]);

    const token = await cluster.mintToken("notariat", "notariat");
    const programArgs = [
      "-config",
      "notariat",
      "--kubeconfig",
      cluster.kubeconfigFor(token, "notariat"),
      "--acme=" + pebble.directoryUrl,
      "-acme-ca",
      pebble.caFile,
      "-dns-resolver",
      dns,
      "-propagation-check",
      "update-server",
      "-resync",
      "1h",
      "-http-address",
      "",
    ];
    child = notariatCommand(programArgs, { stdout: "piped", stderr: "piped" }).spawn();
    const collect = async (stream: ReadableStream<Uint8Array>) => {
      let text = "";
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) text += chunk;
      return text;
    };
    output = Promise.all([collect(child.stdout), collect(child.stderr)]).then(([out, err]) => out + err);
    const rootPem = await pebble.issuingRoot();

    const certificate = async (name: string, domains: string[]) => {
      const { status, body } = await cluster.request("GET", `/api/v1/namespaces/notariat/secrets/${name}`);
      if (status !== 200 || body.type !== "kubernetes.io/tls") return undefined;
      const chain = atob(body.data["tls.crt"]);
      const [leaf] = parseCertificateChain(chain);
      if (leaf.dnsNames.join() !== domains.join()) return undefined;
      return { chain, key: atob(body.data["tls.key"]), version: body.metadata.resourceVersion as string };
    };
    const assertValid = async (cert: { chain: string; key: string }) => {
      assert.equal(await verifyChain(cert.chain, rootPem), true);
      assert.equal(await privateKeyMatchesCertificate(cert.key, cert.chain), true);
    };

    await t.step("at start it issues the configured certificate", async () => {
      await assertValid(await waitFor("site-tls", () => certificate("site-tls", ["site.alpha.test"])));
    });

    await t.step("a domain added to the ConfigMap is issued without a restart", async () => {
      await setCertificates([{ ...site, domains: ["site.alpha.test", "www.beta.test"] }]);
      await assertValid(
        await waitFor(
          "site-tls with www.beta.test",
          () => certificate("site-tls", ["site.alpha.test", "www.beta.test"]),
        ),
      );
    });

    await t.step("a new entry is picked up, and the valid one is not rewritten", async () => {
      const before = (await certificate("site-tls", ["site.alpha.test", "www.beta.test"]))!.version;
      await setCertificates([
        { ...site, domains: ["site.alpha.test", "www.beta.test"] },
        { secret: "wild-tls", domains: ["*.alpha.test"], email: "ops@alpha.test", tsigSecretName: "tsig" },
      ]);
      await assertValid(await waitFor("wild-tls", () => certificate("wild-tls", ["*.alpha.test"])));
      const after = (await certificate("site-tls", ["site.alpha.test", "www.beta.test"]))!.version;
      assert.equal(after, before);
    });

    await t.step("a changed keyType is reissued with a key of that type", async () => {
      const domains = ["site.alpha.test", "www.beta.test"];
      await setCertificates([
        { ...site, domains, keyType: "rsa2048" },
        { secret: "wild-tls", domains: ["*.alpha.test"], email: "ops@alpha.test", tsigSecretName: "tsig" },
      ]);
      const cert = await waitFor("site-tls with an RSA key", async () => {
        const found = await certificate("site-tls", domains);
        return found && parseCertificateChain(found.chain)[0].keyType === "rsa2048" ? found : undefined;
      });
      await assertValid(cert);
    });

    await t.step("SIGTERM stops it cleanly with exit code 0", async () => {
      const started = performance.now();
      child!.kill("SIGTERM");
      const status = await child!.status;
      const elapsed = performance.now() - started;
      assert.equal(status.code, 0);
      assert.ok(elapsed < 10_000, `stopped in ${elapsed.toFixed(0)} ms`);
      child = undefined;
    });

    await t.step("its log is JSON lines, one per event, and carries no secret", async () => {
      const lines = (await output!).trim().split("\n");
      const records = lines.map((line) => JSON.parse(line));
      for (const record of records) {
        assert.equal(typeof record.time, "string");
        assert.equal(typeof record.msg, "string");
      }
      const issued = records.filter((r) => r.msg === "certificate issued").map((r) => r.secret);
      assert.deepEqual(issued.sort(), [
        "notariat/site-tls",
        "notariat/site-tls",
        "notariat/site-tls",
        "notariat/wild-tls",
      ]);
      assert.ok(records.some((r) => r.msg === "certificate issued" && r.reason === "KeyTypeMismatch"));
      const text = lines.join("\n");
      const secret = tsigText.slice(tsigText.lastIndexOf(":") + 1);
      assert.ok(!text.includes(secret), "the TSIG secret is not logged");
      assert.ok(!text.includes("PRIVATE KEY"), "no private key is logged");
      assert.ok(!text.includes(token), "the token is not logged");
    });

    await t.step("a second process reuses the ACME account Secret unchanged", async () => {
      const accounts = async () =>
        (await cluster.request("GET", "/api/v1/namespaces/notariat/secrets")).body.items
          .filter((s: { metadata: { name: string } }) => s.metadata.name.startsWith("notariat-acme-"));
      const [before, ...others] = await accounts();
      assert.equal(others.length, 0, "one account for the one email");
      await setCertificates([{ ...site, domains: ["again.alpha.test"] }]);
      const rerun = await notariatCommand([...programArgs, "-once"], { stdout: "null", stderr: "null" })
        .output();
      assert.equal(rerun.code, 0);
      await assertValid((await certificate("site-tls", ["again.alpha.test"]))!);
      const after = await accounts();
      assert.equal(after.length, 1);
      assert.equal(after[0].metadata.resourceVersion, before.metadata.resourceVersion);
      assert.deepEqual(after[0].data, before.data);
    });
  } finally {
    if (child !== undefined) {
      child.kill("SIGKILL");
      await child.status;
    }
    await output;
    await stack.stop();
  }
});
