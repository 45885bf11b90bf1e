/**
 * Bad Secrets and refused writes against a real kube-apiserver (started once for the file):
 * - TSIG Secrets whose key is not UTF-8, empty, or names an unknown algorithm fail the entry with a message
 *   naming the entry, the Secret and the field, never the secret;
 * - a damaged ACME account key is reported naming its Secret, which is left as it is;
 * - an issued certificate that is worse than the Secret's still-valid one, or unusable, is never written;
 * - errors of refused writes (403 from RBAC, 422 invalid, 401 bad token) carry neither the private key (PEM or
 *   base64), nor the bearer token, in their message or in the log line made of them.
 */
import assert from "node:assert/strict";
import { accountSecretName } from "../../src/acme/account.ts";
import { createIssuer, type IssuedCertificate, type Issuer } from "../../src/acme/issuer.ts";
import type { CertificateSpec } from "../../src/config/types.ts";
import { entryLabel, reconcileEntry } from "../../src/controller/reconcile.ts";
import { writeCertificate } from "../../src/controller/write.ts";
import { NotariatError } from "../../src/errors.ts";
import { createKubeAccountStore } from "../../src/kube/account_key_secrets.ts";
import { createKube } from "../../src/kube/client.ts";
import { isKubeStatus, type Kube, type KubeSecret } from "../../src/kube/types.ts";
import { formatLogLine } from "../../src/observe/log.ts";
import { parseCertificateChain } from "../../src/pki/certificate.ts";
import { createCsr, generatePrivateKey } from "../../src/pki/keys.ts";
import { startKube } from "../harness/kube.ts";
import { createOpensslCa, type OpensslCa } from "../harness/openssl_ca.ts";

const NS = "audit";
const TSIG_SECRET = "c2VjcmV0LXRzaWctYXVkaXQtdmFsdWUtMTIzNDU2Nzg=";
const DAY_MS = 24 * 3600 * 1000;
const RENEW_BEFORE_MS = 30 * DAY_MS;
const encoder = new TextEncoder();

function secret(name: string, data: Record<string, string | Uint8Array>, type = "Opaque"): KubeSecret {
  const bytes = Object.fromEntries(
    Object.entries(data).map(([k, v]) => [k, typeof v === "string" ? encoder.encode(v) : v]),
  );
  return { namespace: NS, name, type, labels: {}, annotations: {}, data: bytes };
}

function spec(name: string, tsig: string, domains = ["a.alpha.test"]): CertificateSpec {
  return {
    index: 3,
    secret: { namespace: NS, name },
    domains,
    email: "ops@alpha.test",
    tsigSecret: { namespace: NS, name: tsig },
    keyType: "ecdsa-p256",
  };
}

/** Strings that must never appear in an error: the PEM body, its base64 as stored in the Secret, the token. */
function secretsIn(keyPem: string, token: string): string[] {
  const body = keyPem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
  const stored = btoa(keyPem);
  return [body.slice(0, 24), body.slice(-24), stored.slice(0, 24), stored.slice(40, 64), token];
}

function assertClean(err: unknown, forbidden: string[]): void {
  assert.ok(err instanceof Error, `expected an Error, got ${err}`);
  const texts = [err.message, String(err), formatLogLine("json", { msg: "x", error: err })];
  for (const text of texts) {
    for (const needle of forbidden) assert.ok(!text.includes(needle), `leaked into: ${text}`);
  }
}

async function issuedBy(ca: OpensslCa, domains: string[], days: number, signedFor = domains): Promise<
  IssuedCertificate
> {
  const privateKeyPem = await generatePrivateKey("ecdsa-p256");
  const certificatePem = await ca.signCsr(await createCsr(privateKeyPem, signedFor), days) +
    ca.intermediatePem;
  const [leaf] = parseCertificateChain(certificatePem);
  return { certificatePem, privateKeyPem, domains, leaf };
}

const unusedIssuer: Issuer = {
  issue: () => Promise.reject(new Error("a dry run requests no certificate")),
  directoryInfo: () => Promise.reject(new Error("a dry run contacts no CA")),
  renewalInfo: () => Promise.reject(new Error("a dry run contacts no CA")),
};

Deno.test("bad Secrets and refused writes against a real API server", async (t) => {
  const cluster = await startKube();
  const ca = await createOpensslCa({ name: "Audit" });
  const clients: Kube[] = [];
  try {
    await cluster.apply([
      { apiVersion: "v1", kind: "Namespace", metadata: { name: NS } },
      { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "reader", namespace: NS } },
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "Role",
        metadata: { name: "reader", namespace: NS },
        rules: [{ apiGroups: [""], resources: ["secrets"], verbs: ["get"] }],
      },
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "RoleBinding",
        metadata: { name: "reader", namespace: NS },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "reader" },
        subjects: [{ kind: "ServiceAccount", name: "reader", namespace: NS }],
      },
    ]);
    const connect = async (token: string) => {
      const kube = await createKube({ kubeconfig: cluster.kubeconfigFor(token, NS) });
      clients.push(kube);
      return kube;
    };
    const admin = await connect(cluster.adminToken);
    const readerToken = await cluster.mintToken(NS, "reader");
    const reader = await connect(readerToken);

    await t.step(
      "TSIG Secrets that are not UTF-8, empty or of an unknown algorithm fail the entry",
      async () => {
        const secretBytes = Uint8Array.from(atob(TSIG_SECRET), (c) => c.charCodeAt(0));
        const notUtf8 = new Uint8Array([
          ...encoder.encode("hmac-sha256:notariat:"),
          0xff,
          0xfe,
          ...secretBytes,
        ]);
        const cases: [string, Record<string, string | Uint8Array>, string][] = [
          ["tsig-binary", { key: notUtf8 }, "it is not UTF-8 text"],
          [
            "tsig-empty",
            { key: "" },
            "it is empty; expected [algorithm:]name:secret, the output of keymgr -t, " +
            "or a tsig-keygen key block",
          ],
          [
            "tsig-algorithm",
            { key: `hmac-sha999:notariat:${TSIG_SECRET}` },
            'unknown algorithm "hmac-sha999": use one of hmac-md5, hmac-sha1, hmac-sha224, hmac-sha256, ' +
            "hmac-sha384, hmac-sha512",
          ],
          [
            "tsig-swapped",
            { key: `hmac-sha256:${TSIG_SECRET}:notariat` },
            "the key name is not a valid DNS name: labels may hold only letters, digits, '-' and '_'",
          ],
        ];
        for (const [name, data, problem] of cases) {
          await admin.createSecret(secret(name, data));
          const entry = spec(`site-${name}`, name);
          const outcome = await reconcileEntry(entry, {
            kube: admin,
            issuer: unusedIssuer,
            now: () => new Date(),
            renewBeforeMs: RENEW_BEFORE_MS,
            dryRun: true,
            acmeDirectory: "https://ca.invalid/directory",
          });
          assert.equal(outcome.result, "failed", name);
          assert.equal(outcome.message, `invalid TSIG key in secret ${NS}/${name} key "key": ${problem}`);
          assert.equal((outcome.error as NotariatError).kind, "tsig-key");
          // The Event and log line put the entry in front: certificates[3] (secret audit/site-...).
          assert.equal(entryLabel(entry), `certificates[3] (secret ${NS}/site-${name})`);
          assertClean(outcome.error, [TSIG_SECRET, TSIG_SECRET.slice(0, 16)]);
        }
      },
    );

    await t.step(
      "a damaged ACME account key is named with its Secret, and the Secret is left as it is",
      async () => {
        const good = await generatePrivateKey("ecdsa-p256");
        // PEM-shaped, but the body is another key's cut in half.
        const damaged = good.slice(0, Math.floor(good.length / 2)) + "\n-----END PRIVATE KEY-----\n";
        const cases: [string, string | Uint8Array, string][] = [
          [
            "account-damaged",
            damaged,
            "holds no usable private key under account.key (private key is not a " +
            "readable PEM key",
          ],
          ["account-text", "not a key", "has no PEM private key under account.key"],
          [
            "account-binary",
            new Uint8Array([0x30, 0x82, 0xff, 0xfe]),
            "has no PEM private key under account.key",
          ],
        ];
        const store = createKubeAccountStore(admin, NS);
        for (const [name, value, problem] of cases) {
          const before = await admin.createSecret(secret(name, { "account.key": value }));
          const err = await store.read(name).then(() => undefined, (e) => e);
          assert.ok(err instanceof NotariatError, `${name}: expected an error`);
          assert.ok(err.message.startsWith(`ACME account Secret ${NS}/${name} ${problem}`), err.message);
          assert.ok(
            err.message.endsWith("fix or delete it (deleting it registers a new account)"),
            err.message,
          );
          assertClean(err, secretsIn(good, "no token in this step"));
          const after = await admin.readSecret(NS, name);
          assert.equal(after?.resourceVersion, before.resourceVersion);
        }
      },
    );

    await t.step(
      "an entry whose account key is damaged fails naming the entry and the account Secret",
      async () => {
        // Never contacted: the account key is read before anything is sent.
        const directoryUrl = "https://127.0.0.1:9/directory";
        const email = "ops@alpha.test";
        const name = accountSecretName(directoryUrl, email);
        const good = await generatePrivateKey("ecdsa-p256");
        const damaged = good.slice(0, Math.floor(good.length / 2)) + "\n-----END PRIVATE KEY-----\n";
        const before = await admin.createSecret(secret(name, { "account.key": damaged }));
        const issuer = createIssuer({
          directoryUrl,
          accounts: createKubeAccountStore(admin, NS),
          dns: {
            resolver: { host: "127.0.0.1", port: 9 },
            propagation: "off",
            propagationTimeoutMs: 1,
            timeoutMs: 1,
          },
          concurrency: 1,
        });
        const entry = spec("site-account", "unused");
        const err = await issuer.issue({
          label: entryLabel(entry),
          domains: entry.domains,
          email,
          keyType: "ecdsa-p256",
          zoneAccess: { key: { name: "unused", algorithm: "hmac-sha256", secret: new Uint8Array(32) } },
        }).then(() => undefined, (e) => e);
        assert.ok(err instanceof NotariatError);
        assert.equal(
          err.message,
          `certificates[3] (secret ${NS}/site-account): ACME account Secret ${NS}/${name} holds no usable private ` +
            "key under account.key (private key is not a readable PEM key (unrecognized format)); fix or delete it " +
            "(deleting it registers a new account)",
        );
        assertClean(err, secretsIn(good, "no token in this step"));
        assert.equal((await admin.readSecret(NS, name))?.resourceVersion, before.resourceVersion);
      },
    );

    await t.step(
      "an issued certificate expiring before the Secret's still-valid one is not written",
      async () => {
        const domains = ["keep.alpha.test"];
        // Valid for 20 more days: inside the 30-day renewal window, so the entry asked for a new certificate.
        const stored = await issuedBy(ca, domains, 20);
        const existing = await admin.createSecret(
          secret(
            "keep",
            { "tls.crt": stored.certificatePem, "tls.key": stored.privateKeyPem },
            "kubernetes.io/tls",
          ),
        );
        const shorter = await issuedBy(ca, domains, 5);
        const options: Parameters<typeof writeCertificate>[3] = {
          existing,
          domains,
          renewBeforeMs: RENEW_BEFORE_MS,
          now: () => new Date(),
          facts: {
            issuer: "CN=Audit",
            serialNumber: "01",
            acmeDirectory: "https://ca.invalid/",
            issuedAt: new Date(),
          },
        };
        const result = await writeCertificate(admin, { namespace: NS, name: "keep" }, shorter, options);
        assert.deepEqual(result, {
          written: false,
          keptBecause:
            `the issued certificate expires at ${shorter.leaf.notAfter.toISOString()}, before the Secret's ` +
            `certificate (valid until ${stored.leaf.notAfter.toISOString()}); kept the Secret's`,
          conflicts: 0,
          resourceVersion: existing.resourceVersion,
        });
        assert.equal((await admin.readSecret(NS, "keep"))?.resourceVersion, existing.resourceVersion);
        // One ending in the same second is written: expiry has a one-second grain, a quick renewal ties.
        const tie = await writeCertificate(admin, { namespace: NS, name: "keep" }, stored, options);
        assert.equal(tie.written, true);
        options.existing = tie.written ? tie.secret : existing;
        // A longer one replaces it, as a renewal should.
        const longer = await issuedBy(ca, domains, 90);
        const written = await writeCertificate(admin, { namespace: NS, name: "keep" }, longer, options);
        assert.equal(written.written, true);
        const now = await admin.readSecret(NS, "keep");
        assert.equal(new TextDecoder().decode(now?.data["tls.crt"]), longer.certificatePem);
      },
    );

    await t.step(
      "an issued certificate for other names, or expired, is never written",
      async () => {
        // One for another key never leaves the issuer, which checks the chain against the key it made
        // (tests/acme/faults_test.ts); what it hands over carries the leaf it parsed.
        const domains = ["x.alpha.test", "y.alpha.test"];
        const stored = await issuedBy(ca, domains, 20);
        const existing = await admin.createSecret(
          secret(
            "guard",
            { "tls.crt": stored.certificatePem, "tls.key": stored.privateKeyPem },
            "kubernetes.io/tls",
          ),
        );
        const facts = {
          issuer: "CN=Audit",
          serialNumber: "01",
          acmeDirectory: "https://ca.invalid/",
          issuedAt: new Date(),
        };
        const fewer = await issuedBy(ca, domains, 90, ["x.alpha.test"]);
        const good = await issuedBy(ca, domains, 90);
        const cases: [string, IssuedCertificate, KubeSecret | undefined, Date, string][] = [
          [
            "guard",
            fewer,
            existing,
            new Date(),
            "the certificate does not cover exactly the configured domains (missing y.alpha.test)",
          ],
          [
            "fresh",
            good,
            undefined,
            new Date(good.leaf.notAfter.getTime() + 1000),
            `the certificate expired at ${good.leaf.notAfter.toISOString()}`,
          ],
        ];
        for (const [name, issued, current, now, problem] of cases) {
          await assert.rejects(
            writeCertificate(admin, { namespace: NS, name }, issued, {
              existing: current,
              domains,
              renewBeforeMs: RENEW_BEFORE_MS,
              now: () => now,
              facts,
            }),
            {
              kind: "pki",
              message:
                `the issued certificate is unusable and was not written to Secret ${NS}/${name}: ${problem}`,
            },
          );
        }
        assert.equal((await admin.readSecret(NS, "guard"))?.resourceVersion, existing.resourceVersion);
        assert.equal(await admin.readSecret(NS, "fresh"), undefined);
      },
    );

    const keyPem = await generatePrivateKey("rsa2048");
    const forbidden = [...secretsIn(keyPem, readerToken), cluster.adminToken];
    const tlsData = { "tls.crt": ca.intermediatePem, "tls.key": keyPem };

    await t.step(
      "a write refused by RBAC (403) names the Secret and the verb, and nothing secret",
      async () => {
        const create = await reader.createSecret(secret("denied", tlsData, "kubernetes.io/tls")).then(
          () => undefined,
          (e) => e,
        );
        assert.ok(isKubeStatus(create, 403));
        assert.equal(
          create.message,
          `create Secret ${NS}/denied: 403 secrets is forbidden: User "system:serviceaccount:${NS}:reader" cannot ` +
            `create resource "secrets" in API group "" in the namespace "${NS}"; missing permission: service ` +
            `account ${NS}:reader may not create secrets in namespace ${NS}; to grant it: kubectl -n ${NS} create ` +
            `role notariat-create-secrets --verb=create --resource=secrets && kubectl -n ${NS} create rolebinding ` +
            `notariat-create-secrets --role=notariat-create-secrets --serviceaccount=${NS}:reader (manifests/ ` +
            `grant Secrets per namespace with: kubectl -n ${NS} create rolebinding notariat-secrets ` +
            `--clusterrole=notariat-secrets --serviceaccount=${NS}:reader)`,
        );
        assertClean(create, forbidden);
        const stored = await admin.createSecret(secret("held", { "tls.key": "old" }));
        const update = await reader.updateSecret({
          ...secret("held", tlsData),
          resourceVersion: stored.resourceVersion,
        })
          .then(() => undefined, (e) => e);
        assert.ok(isKubeStatus(update, 403));
        assertClean(update, forbidden);
      },
    );

    await t.step("an invalid Secret (422) is named, and its data is not echoed", async () => {
      const badName = await admin.createSecret(secret("Bad_Name", tlsData, "kubernetes.io/tls")).then(
        () => undefined,
        (e) => e,
      );
      assert.ok(isKubeStatus(badName, 422));
      assert.ok(badName.message.startsWith(`create Secret ${NS}/Bad_Name: 422 Secret "Bad_Name" is invalid`));
      assertClean(badName, forbidden);
      // A kubernetes.io/tls Secret without tls.crt is refused by the API server's own validation.
      const missing = await admin.createSecret(secret("half", { "tls.key": keyPem }, "kubernetes.io/tls"))
        .then(
          () => undefined,
          (e) => e,
        );
      assert.ok(isKubeStatus(missing, 422));
      assertClean(missing, forbidden);
      // The type of a Secret cannot change: an update of an Opaque Secret to kubernetes.io/tls is refused.
      const opaque = await admin.createSecret(secret("opaque", { note: "user data" }));
      const retype = await admin.updateSecret({
        ...secret("opaque", tlsData, "kubernetes.io/tls"),
        resourceVersion: opaque.resourceVersion,
      }).then(() => undefined, (e) => e);
      assert.ok(isKubeStatus(retype, 422), String(retype));
      assertClean(retype, forbidden);
    });

    await t.step("a rejected token (401) is not repeated in the error", async () => {
      const stolen = `${readerToken.slice(0, -6)}XXXXXX`;
      const intruder = await connect(stolen);
      const err = await intruder.createSecret(secret("nope", tlsData, "kubernetes.io/tls")).then(
        () => undefined,
        (e) => e,
      );
      assert.ok(isKubeStatus(err, 401), String(err));
      assertClean(err, [...forbidden, stolen, stolen.slice(0, 40)]);
    });
  } finally {
    for (const kube of clients) await kube.close();
    ca.remove();
    await cluster.stop();
  }
});
