import assert from "node:assert/strict";
import { accessFromKubeconfig, inClusterAccess } from "../../src/kube/kubeconfig.ts";
import { NotariatError } from "../../src/errors.ts";

const PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const TOKEN = "s3cr3t-token-value-0451";

/** A kubeconfig document with one cluster, user and context; `cluster`/`user`/`context` add fields. */
function doc(
  { cluster = {}, user = {}, context = {} }: {
    cluster?: Record<string, unknown>;
    user?: Record<string, unknown>;
    context?: Record<string, unknown>;
  } = {},
): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Config",
    "current-context": "ctx",
    clusters: [
      { name: "other", cluster: { server: "https://other:6443" } },
      { name: "c", cluster: { server: "https://api.example:6443/", ...cluster } },
    ],
    users: [{ name: "u", user }],
    contexts: [{ name: "ctx", context: { cluster: "c", user: "u", ...context } }],
  };
}

function problem(document: unknown): string {
  try {
    accessFromKubeconfig(document, "/home/ops/.kube/config");
  } catch (err) {
    assert.ok(err instanceof NotariatError);
    assert.equal(err.kind, "usage");
    return err.message;
  }
  assert.fail("the kubeconfig was accepted");
}

Deno.test("the current context's server, namespace and token are read", () => {
  const access = accessFromKubeconfig(
    doc({ user: { token: TOKEN }, context: { namespace: "certs" } }),
    "/home/ops/.kube/config",
  );
  assert.deepEqual(access, { server: "https://api.example:6443", namespace: "certs", token: TOKEN });
});

Deno.test("CA and client certificate come as data, or as files relative to the kubeconfig", () => {
  const inline = accessFromKubeconfig(
    doc({
      cluster: { "certificate-authority-data": btoa(PEM) },
      user: {
        "client-certificate-data": btoa(PEM),
        "client-key-data": btoa("-----BEGIN PRIVATE KEY-----\n"),
      },
    }),
    "/k/config",
  );
  assert.deepEqual(inline.ca, { pem: PEM });
  assert.deepEqual(inline.clientCert, { cert: { pem: PEM }, key: { pem: "-----BEGIN PRIVATE KEY-----\n" } });
  const files = accessFromKubeconfig(
    doc({
      cluster: { "certificate-authority": "ca.crt" },
      user: { "client-certificate": "/etc/pki/me.crt", "client-key": "keys/me.key", tokenFile: "token" },
    }),
    "/home/ops/.kube/config",
  );
  assert.deepEqual(files.ca, { file: "/home/ops/.kube/ca.crt" });
  assert.deepEqual(files.clientCert, {
    cert: { file: "/etc/pki/me.crt" },
    key: { file: "/home/ops/.kube/keys/me.key" },
  });
  assert.equal(files.tokenFile, "/home/ops/.kube/token");
  // A kubeconfig named without a directory resolves against the working directory.
  assert.deepEqual(
    accessFromKubeconfig(doc({ cluster: { "certificate-authority": "ca.crt" } }), "config").ca,
    {
      file: "./ca.crt",
    },
  );
});

Deno.test("an exec plugin is read with its arguments, environment and hint", () => {
  const access = accessFromKubeconfig(
    doc({
      user: {
        exec: {
          apiVersion: "client.authentication.k8s.io/v1",
          command: "./bin/login",
          args: ["token", "--audience", "k8s"],
          env: [{ name: "REGION", value: "eu" }],
          installHint: "install login from example.com",
          interactiveMode: "Never",
          provideClusterInfo: true,
        },
      },
    }),
    "/k/config",
  );
  assert.deepEqual(access.exec, {
    apiVersion: "client.authentication.k8s.io/v1",
    command: "/k/./bin/login",
    args: ["token", "--audience", "k8s"],
    env: { REGION: "eu" },
    installHint: "install login from example.com",
    provideClusterInfo: true,
  });
  // A bare command name is looked up on PATH, as client-go does.
  const onPath = accessFromKubeconfig(
    doc({ user: { exec: { apiVersion: "client.authentication.k8s.io/v1beta1", command: "aws" } } }),
    "/k/config",
  );
  assert.equal(onPath.exec?.command, "aws");
  assert.deepEqual(onPath.exec?.args, []);
});

Deno.test("proxy-url is taken for http, https and socks5 proxies", () => {
  const access = accessFromKubeconfig(
    doc({ cluster: { "proxy-url": "socks5://127.0.0.1:1080" } }),
    "/k/config",
  );
  assert.equal(access.proxyUrl, "socks5://127.0.0.1:1080");
  assert.match(
    problem(doc({ cluster: { "proxy-url": "ftp://x" } })),
    /clusters\["c"\]\.cluster\.proxy-url must be/,
  );
});

Deno.test("each missing or unsupported field is named", () => {
  const at = "the kubeconfig /home/ops/.kube/config: ";
  const cases: [unknown, string][] = [
    [
      { ...doc(), "current-context": "" },
      "the kubeconfig /home/ops/.kube/config has no current context with a cluster",
    ],
    [
      { ...doc(), contexts: [{ name: "ctx", context: { user: "u" } }] },
      "the kubeconfig /home/ops/.kube/config has no current context with a cluster",
    ],
    [{ ...doc(), "current-context": "gone" }, `${at}contexts["gone"] is missing: no entry has that name`],
    [{ ...doc(), clusters: undefined }, `${at}clusters is missing: it should list the cluster "c"`],
    [doc({ cluster: { server: "" } }), `${at}clusters["c"].cluster.server is missing`],
    [doc({ cluster: { server: "api:6443" } }), `${at}clusters["c"].cluster.server must be an https:// URL`],
    [
      doc({ cluster: { "insecure-skip-tls-verify": true } }),
      `${at}clusters["c"].cluster.insecure-skip-tls-verify is not supported: give the server's CA as ` +
      "certificate-authority-data or certificate-authority",
    ],
    [
      doc({ cluster: { "certificate-authority-data": "not base64!" } }),
      `${at}clusters["c"].cluster.certificate-authority-data is not base64 of PEM`,
    ],
    [
      doc({ user: { "auth-provider": { name: "oidc", config: { "id-token": TOKEN } } } }),
      `${at}users["u"].user.auth-provider is not supported: configure the provider's exec plugin instead ` +
      "(users[].user.exec, e.g. kubelogin or gke-gcloud-auth-plugin)",
    ],
    [
      doc({ user: { username: "admin", password: TOKEN } }),
      `${at}users["u"].user.username/password (basic authentication) is not supported: use a token or a ` +
      "certificate",
    ],
    [doc({ user: { as: "root" } }), `${at}users["u"].user.as (impersonation) is not supported`],
    [
      doc({ user: { "client-certificate-data": btoa(PEM) } }),
      `${at}users["u"].user.client-key is missing: a client certificate needs both client-certificate(-data) ` +
      "and client-key(-data)",
    ],
    [doc({ user: { token: 42 } }), `${at}users["u"].user.token must be a string`],
    [
      doc({ user: { exec: { apiVersion: "client.authentication.k8s.io/v1alpha1", command: "x" } } }),
      `${at}users["u"].user.exec.apiVersion must be one of client.authentication.k8s.io/v1, ` +
      "client.authentication.k8s.io/v1beta1",
    ],
    [
      doc({ user: { exec: { apiVersion: "client.authentication.k8s.io/v1" } } }),
      `${at}users["u"].user.exec.command is missing`,
    ],
    [
      doc({
        user: {
          exec: { apiVersion: "client.authentication.k8s.io/v1", command: "x", interactiveMode: "Always" },
        },
      }),
      `${at}users["u"].user.exec.interactiveMode Always is not supported: notariat has no terminal; use Never ` +
      "or IfAvailable",
    ],
    [
      doc({
        user: { exec: { apiVersion: "client.authentication.k8s.io/v1", command: "x", env: [{ name: "A" }] } },
      }),
      `${at}users["u"].user.exec.env[0] must be {name, value} with string values`,
    ],
    ["just text", "the kubeconfig /home/ops/.kube/config is not a YAML mapping"],
  ];
  for (const [document, message] of cases) {
    const got = problem(document);
    assert.equal(got, message);
    assert.ok(!got.includes(TOKEN), got);
  }
});

Deno.test("in a cluster, the service's address and the mounted token and CA are used", () => {
  assert.deepEqual(inClusterAccess("10.0.0.1", "443", "/tmp/pod"), {
    server: "https://10.0.0.1:443",
    ca: { file: "/tmp/pod/var/run/secrets/kubernetes.io/serviceaccount/ca.crt" },
    tokenFile: "/tmp/pod/var/run/secrets/kubernetes.io/serviceaccount/token",
  });
  assert.equal(inClusterAccess("fd00::1", "443", "").server, "https://[fd00::1]:443");
  assert.throws(
    () => inClusterAccess("10.0.0.1", undefined, ""),
    /KUBERNETES_SERVICE_PORT must be set to the API server's port/,
  );
});
