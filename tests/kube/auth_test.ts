/**
 * Each way of authenticating a kubeconfig offers, against the real API server: client certificates (inline and
 * as files), exec plugins (a token, a client certificate, a new credential after a 401, a failing plugin),
 * and a token file whose token is replaced; and a cluster reached through a real HTTP proxy (proxy-url).
 */
import assert from "node:assert/strict";
import { createKube } from "../../src/kube/client.ts";
import { isKubeStatus, type Kube, KubeError } from "../../src/kube/types.ts";
import { startHttpProxy } from "../harness/http_proxy.ts";
import { startKube } from "../harness/kube.ts";

const V1 = "client.authentication.k8s.io/v1";
const V1BETA1 = "client.authentication.k8s.io/v1beta1";

/** An executable shell script printing `body`'s output; returns its path. */
function script(dir: string, name: string, body: string): string {
  const path = `${dir}/${name}`;
  Deno.writeTextFileSync(path, `#!/bin/sh\n${body}\n`);
  Deno.chmodSync(path, 0o755);
  return path;
}

/** Shell that prints `credential` as JSON (a here-document: PEM's newlines stay escaped). */
const printJson = (credential: unknown) => `cat <<'JSON'\n${JSON.stringify(credential)}\nJSON`;

Deno.test("client certificates, exec plugins, token files and proxy-url work against a real API server", async (t) => {
  const cluster = await startKube();
  const clients: Kube[] = [];
  const connect = async (kubeconfig: string) => {
    const kube = await createKube({ kubeconfig });
    clients.push(kube);
    return kube;
  };
  const dir = Deno.makeTempDirSync({ prefix: "notariat-auth-" });
  const limitedRole = (name: string) => [
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name, namespace: "auth" } },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name, namespace: "auth" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "read-secrets" },
      subjects: [{ kind: "ServiceAccount", name, namespace: "auth" }],
    },
  ];
  try {
    await cluster.apply([
      { apiVersion: "v1", kind: "Namespace", metadata: { name: "auth" } },
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "Role",
        metadata: { name: "read-secrets", namespace: "auth" },
        rules: [{ apiGroups: [""], resources: ["secrets"], verbs: ["get"] }],
      },
      ...limitedRole("plugin"),
      ...limitedRole("rotating"),
    ]);
    const { certPem, keyPem } = cluster.clientCert;

    /** Creates a Secret (an admin-only write here) and reads it back: proves system:masters rights. */
    const asAdmin = async (kube: Kube, name: string) => {
      await kube.createSecret({
        namespace: "auth",
        name,
        type: "Opaque",
        labels: {},
        annotations: {},
        data: { a: new TextEncoder().encode(name) },
      });
      assert.equal((await kube.readSecret("auth", name))?.name, name);
    };

    await t.step("a client certificate given as data authenticates its subject", async () => {
      const kube = await connect(cluster.kubeconfigWith({
        "client-certificate-data": btoa(certPem),
        "client-key-data": btoa(keyPem),
      }, "auth"));
      await asAdmin(kube, "by-cert-data");
    });

    await t.step("a client certificate given as files relative to the kubeconfig", async () => {
      const kubeconfig = cluster.kubeconfigWith({
        "client-certificate": "me.crt",
        "client-key": "keys/me.key",
      }, "auth");
      const base = kubeconfig.slice(0, kubeconfig.lastIndexOf("/"));
      Deno.mkdirSync(`${base}/keys`);
      Deno.writeTextFileSync(`${base}/me.crt`, certPem);
      Deno.writeTextFileSync(`${base}/keys/me.key`, keyPem);
      await asAdmin(await connect(kubeconfig), "by-cert-files");
    });

    await t.step("an exec plugin's token (v1) is used, the plugin run once", async () => {
      const token = await cluster.mintToken("auth", "plugin");
      const counter = `${dir}/plugin-runs`;
      const command = script(
        dir,
        "token-plugin",
        [
          `echo run >> "${counter}"`,
          printJson({
            apiVersion: V1,
            kind: "ExecCredential",
            status: { token, expirationTimestamp: new Date(Date.now() + 3600_000).toISOString() },
          }),
        ].join("\n"),
      );
      const kube = await connect(cluster.kubeconfigWith({
        exec: { apiVersion: V1, command, interactiveMode: "Never" },
      }, "auth"));
      assert.equal(await kube.readSecret("auth", "absent"), undefined);
      assert.equal((await kube.readSecret("auth", "by-cert-data"))?.name, "by-cert-data");
      // The service account may only get: its token, not an admin's, was sent.
      await assert.rejects(() => asAdmin(kube, "by-plugin"), (err) => isKubeStatus(err, 403));
      assert.equal(Deno.readTextFileSync(counter).trim().split("\n").length, 1);
    });

    await t.step("an exec plugin's client certificate (v1beta1) is presented", async () => {
      const command = script(
        dir,
        "cert-plugin",
        printJson({
          apiVersion: V1BETA1,
          kind: "ExecCredential",
          status: { clientCertificateData: certPem, clientKeyData: keyPem },
        }),
      );
      const kube = await connect(cluster.kubeconfigWith({ exec: { apiVersion: V1BETA1, command } }, "auth"));
      await asAdmin(kube, "by-plugin-cert");
    });

    await t.step("a refused exec credential (401) is replaced by running the plugin again", async () => {
      const token = await cluster.mintToken("auth", "plugin");
      const runs = `${dir}/refresh-runs`;
      // The first run hands out a token the server does not know, later runs a good one.
      const command = script(
        dir,
        "refresh-plugin",
        [
          `echo run >> "${runs}"`,
          `if [ "$(wc -l < "${runs}")" -eq 1 ]; then`,
          printJson({ apiVersion: V1, kind: "ExecCredential", status: { token: "not-a-known-token" } }),
          "else",
          printJson({ apiVersion: V1, kind: "ExecCredential", status: { token } }),
          "fi",
        ].join("\n"),
      );
      const kube = await connect(cluster.kubeconfigWith({ exec: { apiVersion: V1, command } }, "auth"));
      assert.equal(await kube.readSecret("auth", "absent"), undefined);
      assert.equal(Deno.readTextFileSync(runs).trim().split("\n").length, 2);
    });

    await t.step("a failing plugin fails the request, naming the command and its stderr", async () => {
      const command = script(
        dir,
        "failing-plugin",
        "echo 'credential-ish output'; echo 'not logged in' >&2; exit 1",
      );
      const kube = await connect(cluster.kubeconfigWith({ exec: { apiVersion: V1, command } }, "auth"));
      await assert.rejects(() => kube.readSecret("auth", "x"), (err) => {
        assert.ok(err instanceof KubeError);
        assert.equal(err.status, 0);
        assert.equal(
          err.message,
          `get Secret auth/x: exec plugin ${command} exited with status 1: not logged in`,
        );
        return true;
      });
    });

    await t.step("a token file's replaced token is picked up once the old one is refused", async () => {
      const tokenFile = `${dir}/token`;
      Deno.writeTextFileSync(tokenFile, await cluster.mintToken("auth", "rotating"));
      const kube = await connect(cluster.kubeconfigWith({ tokenFile }, "auth"));
      assert.equal(await kube.readSecret("auth", "absent"), undefined);
      await assert.rejects(() => asAdmin(kube, "by-token-file"), (err) => isKubeStatus(err, 403));
      // Deleting the service account invalidates its tokens; the file now holds the admin's.
      const deleted = await cluster.request("DELETE", "/api/v1/namespaces/auth/serviceaccounts/rotating");
      assert.equal(deleted.status, 200);
      Deno.writeTextFileSync(tokenFile, `${cluster.adminToken}\n`);
      // The API server caches a token's successful authentication for 10 s: after that the old one is a 401,
      // well within the minute before the file would be read again anyway.
      await new Promise((resolve) => setTimeout(resolve, 11_000));
      await asAdmin(kube, "by-token-file");
    });
    await t.step("with proxy-url every request goes through the proxy", async () => {
      const proxy = await startHttpProxy();
      try {
        const kube = await connect(cluster.kubeconfigWith({ token: cluster.adminToken }, "auth", {
          "proxy-url": proxy.url,
        }));
        await asAdmin(kube, "by-proxy");
        const target = new URL(cluster.server).host;
        assert.ok(proxy.tunnels(target) >= 1, "the proxy opened a tunnel to the API server");
        await proxy.stop();
        await kube.close();
        // A new client after the proxy is gone cannot reach the server: nothing goes around the proxy.
        const stranded = await connect(cluster.kubeconfigWith({ token: cluster.adminToken }, "auth", {
          "proxy-url": proxy.url,
        }));
        await assert.rejects(() => stranded.readSecret("auth", "by-proxy"), (err) => isKubeStatus(err, 0));
      } finally {
        await proxy.stop();
      }
    });
  } finally {
    for (const kube of clients) await kube.close();
    await cluster.stop();
    Deno.removeSync(dir, { recursive: true });
  }
});
