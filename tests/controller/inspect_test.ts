import assert from "node:assert/strict";
import { inspectIssued, inspectSecret } from "../../src/controller/inspect.ts";
import { stillServing } from "../../src/controller/policy.ts";
import type { KubeSecret } from "../../src/kube/types.ts";
import { generatePrivateKey } from "../../src/pki/keys.ts";
import { selfSignedCertificate } from "../harness/openssl_ca.ts";

const now = new Date("2026-01-01T00:00:00Z");
const renewBeforeMs = 30 * 24 * 3600 * 1000;
const encoder = new TextEncoder();

function tls(data: Record<string, string>, type = "kubernetes.io/tls"): KubeSecret {
  const bytes = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, encoder.encode(v)]));
  return { namespace: "web", name: "site", type, labels: {}, annotations: {}, data: bytes };
}

/** A self-signed leaf certificate for `domains` made by openssl, with its key. */
async function selfSigned(domains: string[]): Promise<{ cert: string; key: string }> {
  // openssl marks a self-signed certificate as a CA unless told otherwise; a server certificate is not one.
  const made = await selfSignedCertificate({
    subject: `/CN=${domains[0]}`,
    sans: domains.map((d) => `DNS:${d}`),
    ca: false,
  });
  return { cert: made.certPem, key: made.keyPem };
}

const pair = await selfSigned(["a.alpha.test", "*.alpha.test"]);

Deno.test("an absent Secret is reported as not existing", async () => {
  assert.equal((await inspectSecret(undefined, ["a.alpha.test"], now, renewBeforeMs)).exists, false);
});

Deno.test("a sound Secret yields its leaf and a matching key", async () => {
  const input = await inspectSecret(
    tls({ "tls.crt": pair.cert, "tls.key": pair.key }),
    ["a.alpha.test"],
    now,
    renewBeforeMs,
  );
  assert.deepEqual([input.exists, input.type, input.dataProblem, input.keyMatches], [
    true,
    "kubernetes.io/tls",
    undefined,
    true,
  ]);
  assert.deepEqual(input.certificate?.dnsNames, ["a.alpha.test", "*.alpha.test"]);
});

Deno.test("missing or non-PEM data is named as the problem", async () => {
  const cases: Array<[Record<string, string>, string]> = [
    [{ "tls.key": pair.key }, "tls.crt is missing"],
    [{ "tls.crt": pair.cert }, "tls.key is missing"],
    [{ "tls.crt": "garbage", "tls.key": pair.key }, "tls.crt is not a PEM certificate"],
    [{ "tls.crt": pair.cert, "tls.key": "garbage" }, "tls.key is not a PEM private key"],
  ];
  for (const [data, problem] of cases) {
    assert.equal((await inspectSecret(tls(data), [], now, renewBeforeMs)).dataProblem, problem);
  }
  const broken = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
  const input = await inspectSecret(tls({ "tls.crt": broken, "tls.key": pair.key }), [], now, renewBeforeMs);
  assert.match(input.dataProblem ?? "", /^tls\.crt does not parse: /);
});

Deno.test("another key is reported as not matching", async () => {
  const other = await generatePrivateKey("ecdsa-p256");
  const input = await inspectSecret(tls({ "tls.crt": pair.cert, "tls.key": other }), [], now, renewBeforeMs);
  assert.equal(input.keyMatches, false);
});

Deno.test("the type is passed on as it is", async () => {
  assert.equal((await inspectSecret(tls({}, "Opaque"), [], now, renewBeforeMs)).type, "Opaque");
});

Deno.test("an issued certificate is judged from the leaf the issuer parsed: a CA certificate first does not serve", () => {
  const leaf = {
    subject: "CN=a.alpha.test",
    issuer: "CN=Test Intermediate",
    serialNumber: "01",
    notBefore: now,
    notAfter: new Date(now.getTime() + 90 * 24 * 3600 * 1000),
    dnsNames: ["a.alpha.test"],
    isCa: false,
    keyType: "ecdsa-p256" as const,
  };
  // Not PEM: nothing is parsed again.
  const issued = { certificatePem: "unparsed", privateKeyPem: "unparsed", domains: ["a.alpha.test"], leaf };
  const judge = (certificate = issued, keyType: "ecdsa-p256" | "rsa2048" = "ecdsa-p256") =>
    stillServing(inspectIssued(certificate, ["a.alpha.test"], now, renewBeforeMs, keyType));
  assert.deepEqual(judge(), { serving: true, until: leaf.notAfter });
  assert.deepEqual(judge({ ...issued, leaf: { ...leaf, isCa: true } }), {
    serving: false,
    reason: "MissingData",
    message: "the issued chain begins with a CA certificate",
  });
  const otherType = judge(issued, "rsa2048");
  assert.equal(otherType.serving === false && otherType.reason, "KeyTypeMismatch");
});
