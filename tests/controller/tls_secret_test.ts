import assert from "node:assert/strict";
import { tlsSecret } from "../../src/controller/tls_secret.ts";
import type { KubeSecret } from "../../src/kube/types.ts";

const decoder = new TextDecoder();
const issued = {
  certificatePem: "LEAF\nINTERMEDIATE\n",
  privateKeyPem: "KEY\n",
  domains: ["a.alpha.test", "*.alpha.test"],
  leaf: { notBefore: new Date("2026-01-01T00:00:00Z"), notAfter: new Date("2026-04-01T00:00:00Z") },
};
const facts = {
  issuer: "CN=Pebble Intermediate CA",
  serialNumber: "0a1b",
  acmeDirectory: "https://127.0.0.1:14000/dir",
  issuedAt: new Date("2026-01-01T00:01:00Z"),
};

Deno.test("a new Secret is kubernetes.io/tls with chain, key, label and annotations", () => {
  const secret = tlsSecret({ namespace: "web", name: "site" }, undefined, issued, facts);
  assert.deepEqual([secret.namespace, secret.name, secret.type, secret.resourceVersion], [
    "web",
    "site",
    "kubernetes.io/tls",
    undefined,
  ]);
  assert.deepEqual(Object.fromEntries(Object.entries(secret.data).map(([k, v]) => [k, decoder.decode(v)])), {
    "tls.crt": "LEAF\nINTERMEDIATE\n",
    "tls.key": "KEY\n",
  });
  assert.deepEqual(secret.labels, { "app.kubernetes.io/managed-by": "notariat" });
  assert.deepEqual(secret.annotations, {
    "notariat.io/domains": "a.alpha.test,*.alpha.test",
    "notariat.io/issued-at": "2026-01-01T00:01:00.000Z",
    "notariat.io/not-before": "2026-01-01T00:00:00.000Z",
    "notariat.io/expires-at": "2026-04-01T00:00:00.000Z",
    "notariat.io/issuer": "CN=Pebble Intermediate CA",
    "notariat.io/serial": "0a1b",
    "notariat.io/acme-directory": "https://127.0.0.1:14000/dir",
    "notariat.io/profile": "",
  });
});

Deno.test("the profile and the next renewal time with its source are annotations", () => {
  const renewal = { at: new Date("2026-03-01T12:00:00Z"), source: "ari" as const };
  const secret = tlsSecret({ namespace: "web", name: "site" }, undefined, issued, {
    ...facts,
    profile: "shortlived",
    renewal,
  });
  assert.equal(secret.annotations["notariat.io/profile"], "shortlived");
  assert.equal(secret.annotations["notariat.io/renew-at"], "2026-03-01T12:00:00.000Z");
  assert.equal(secret.annotations["notariat.io/renewal-source"], "ari");
});

Deno.test("an existing Secret keeps its version and what users added, and gets the new certificate", () => {
  const existing: KubeSecret = {
    namespace: "web",
    name: "site",
    resourceVersion: "42",
    type: "kubernetes.io/tls",
    labels: { team: "web" },
    annotations: { "example.com/owner": "web", "notariat.io/domains": "old.alpha.test" },
    data: { "tls.crt": new Uint8Array([1]), "tls.key": new Uint8Array([2]), "ca.crt": new Uint8Array([3]) },
  };
  const secret = tlsSecret({ namespace: "web", name: "site" }, existing, issued, facts);
  assert.equal(secret.resourceVersion, "42");
  assert.deepEqual(secret.labels, { team: "web", "app.kubernetes.io/managed-by": "notariat" });
  assert.equal(secret.annotations["example.com/owner"], "web");
  assert.equal(secret.annotations["notariat.io/domains"], "a.alpha.test,*.alpha.test");
  assert.deepEqual(Object.keys(secret.data).sort(), ["ca.crt", "tls.crt", "tls.key"]);
  assert.equal(decoder.decode(secret.data["tls.key"]), "KEY\n");
});
