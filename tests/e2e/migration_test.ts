/**
 * Taking over from cert-manager: a Secret exactly as cert-manager's RFC2136 ACME issuer leaves it (an RSA 2048
 * key in PKCS#1, its cert-manager.io/* annotations and its label) is adopted by the notariat program without a
 * call to the CA when the entry says `keyType: rsa2048`, and keeps cert-manager's metadata when notariat later
 * renews it. Real kube-apiserver (RBAC from manifests/), Knot and pebble; the program runs as a subprocess.
 */
import assert from "node:assert/strict";
import { createPrivateKey } from "node:crypto";
import { parseCertificateChain } from "../../src/pki/certificate.ts";
import { createTestIssuer, testIssueRequest } from "../harness/test_issuer.ts";
import {
  b64,
  certificatesConfigMap,
  type Json,
  loadManifests,
  RBAC_MANIFESTS,
  tsigSecret,
  unb64,
} from "../harness/cluster_objects.ts";
import { freePort } from "../harness/ports.ts";
import { notariatCommand } from "../harness/program.ts";
import { startStack } from "../harness/stack.ts";

const DOMAINS = ["app.alpha.test", "www.app.alpha.test"];

/** What cert-manager v1 writes on the Secret of `Certificate` web/app issued by `Issuer` letsencrypt. */
const CERT_MANAGER_ANNOTATIONS = {
  "cert-manager.io/alt-names": DOMAINS.join(","),
  "cert-manager.io/certificate-name": "app",
  "cert-manager.io/common-name": DOMAINS[0],
  "cert-manager.io/ip-sans": "",
  "cert-manager.io/issuer-group": "cert-manager.io",
  "cert-manager.io/issuer-kind": "Issuer",
  "cert-manager.io/issuer-name": "letsencrypt",
  "cert-manager.io/uri-sans": "",
};
const CERT_MANAGER_LABELS = { "controller.cert-manager.io/fao": "true" };

Deno.test("a Secret cert-manager issued is adopted untouched without calling the CA", async (t) => {
  const stack = await startStack();
  const { cluster, knot, pebble } = stack;
  try {
    const dns = `127.0.0.1:${knot.address.port}`;
    const secretsAccess = loadManifests(["secrets-access"]).find((m) => m.kind === "RoleBinding");
    await cluster.apply([
      ...loadManifests(RBAC_MANIFESTS),
      { apiVersion: "v1", kind: "Namespace", metadata: { name: "web" } },
      { ...secretsAccess, metadata: { ...secretsAccess.metadata, namespace: "web" } },
      tsigSecret(knot.keys["hmac-sha256"].text, dns),
    ]);

    // The certificate cert-manager would have obtained: RSA 2048 (its default), from the same CA, its key
    // stored as PKCS#1 (cert-manager's default encoding).
    const issued = await createTestIssuer(pebble, knot.address, { concurrency: 1 }).issue(
      testIssueRequest(knot, DOMAINS, { label: "cert-manager", email: "ops@alpha.test", keyType: "rsa2048" }),
    );
    const pkcs1 = createPrivateKey(issued.privateKeyPem).export({ type: "pkcs1", format: "pem" }) as string;
    assert.match(pkcs1, /^-----BEGIN RSA PRIVATE KEY-----/);
    await cluster.apply([{
      apiVersion: "v1",
      kind: "Secret",
      type: "kubernetes.io/tls",
      metadata: {
        namespace: "web",
        name: "app-tls",
        annotations: CERT_MANAGER_ANNOTATIONS,
        labels: CERT_MANAGER_LABELS,
      },
      data: { "ca.crt": "", "tls.crt": b64(issued.certificatePem), "tls.key": b64(pkcs1) },
    }]);
    const read = async (): Promise<Json> =>
      (await cluster.request("GET", "/api/v1/namespaces/web/secrets/app-tls")).body;
    const before = await read();

    const entry = (patch: Record<string, unknown>) => ({
      secret: "web/app-tls",
      domains: DOMAINS,
      email: "ops@alpha.test",
      tsigSecretName: "tsig",
      ...patch,
    });
    const setCertificates = (list: unknown[]) => cluster.apply([certificatesConfigMap(list, { yaml: true })]);
    const token = await cluster.mintToken("notariat", "notariat");
    const runOnce = async (acme: string, extra: string[] = []) => {
      const out = await notariatCommand([
        "-config",
        "notariat",
        "-kubeconfig",
        cluster.kubeconfigFor(token, "notariat"),
        "-acme",
        acme,
        "-acme-ca",
        pebble.caFile,
        "-dns-resolver",
        dns,
        "-propagation-check",
        "update-server",
        "-log-format",
        "logfmt",
        "-once",
        ...extra,
      ], { stdout: "piped", stderr: "piped" }).output();
      const text = new TextDecoder();
      return { code: out.code, log: text.decode(out.stdout) + text.decode(out.stderr) };
    };
    // Nothing listens there: any attempt to reach a CA fails the run.
    const noCa = `https://127.0.0.1:${freePort()}/directory`;
    const accountSecrets = async () =>
      (await cluster.request("GET", "/api/v1/namespaces/notariat/secrets")).body.items
        .map((s: Json) => s.metadata.name as string)
        .filter((n: string) => n.startsWith("notariat-acme-"));

    await t.step("without keyType rsa2048 the RSA key would be replaced (KeyTypeMismatch)", async () => {
      await setCertificates([entry({})]);
      const { log } = await runOnce(noCa, ["-dry-run"]);
      assert.match(log, /KeyTypeMismatch/);
      assert.equal((await read()).metadata.resourceVersion, before.metadata.resourceVersion);
    });

    await t.step(
      "with keyType rsa2048 the Secret is valid as it is: no CA, no write, no account",
      async () => {
        await setCertificates([entry({ keyType: "rsa2048" })]);
        const dryRun = await runOnce(noCa, ["-dry-run"]);
        assert.equal(dryRun.code, 0, dryRun.log);
        assert.match(dryRun.log, /certificate is valid/);
        const { code, log } = await runOnce(noCa);
        assert.equal(code, 0, log);
        assert.match(log, /certificate is valid/);
        assert.doesNotMatch(log, /KeyTypeMismatch|DomainsMismatch|MissingData|InvalidKeyPair/);
        const after = await read();
        assert.equal(
          after.metadata.resourceVersion,
          before.metadata.resourceVersion,
          "the Secret was not written",
        );
        assert.deepEqual(after.data, before.data);
        assert.deepEqual(await accountSecrets(), [], "no ACME account was created");
      },
    );

    await t.step("a later reissue by notariat keeps cert-manager's annotations and labels", async () => {
      const domains = [...DOMAINS, "api.app.alpha.test"];
      await setCertificates([entry({ keyType: "rsa2048", domains })]);
      const { code, log } = await runOnce(pebble.directoryUrl);
      assert.equal(code, 0, log);
      const after = await read();
      assert.notEqual(after.metadata.resourceVersion, before.metadata.resourceVersion);
      assert.deepEqual(
        parseCertificateChain(unb64(after.data["tls.crt"]))[0].dnsNames.sort(),
        [...domains].sort(),
      );
      for (const [name, value] of Object.entries(CERT_MANAGER_ANNOTATIONS)) {
        assert.equal(after.metadata.annotations[name], value, `annotation ${name} kept`);
      }
      assert.equal(after.metadata.labels["controller.cert-manager.io/fao"], "true");
      assert.equal(after.data["ca.crt"], "", "the Secret's other data key is kept");
      assert.equal(after.metadata.labels["app.kubernetes.io/managed-by"], "notariat");
    });
  } finally {
    await stack.stop();
  }
});
