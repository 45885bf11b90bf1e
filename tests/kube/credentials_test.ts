import assert from "node:assert/strict";
import { createCredentials, parseExecCredential, TOKEN_FILE_REREAD_MS } from "../../src/kube/credentials.ts";
import type { ClusterAccess, ExecPlugin } from "../../src/kube/kubeconfig.ts";
import { NotariatError } from "../../src/errors.ts";

const V1 = "client.authentication.k8s.io/v1";
const SERVER = "https://127.0.0.1:6443";

/** A temporary directory for one test, removed after it. */
async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = Deno.makeTempDirSync({ prefix: "notariat-credentials-" });
  try {
    await fn(dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

/** An executable shell script in `dir` whose body is `body`; returns its path. */
function script(dir: string, name: string, body: string): string {
  const path = `${dir}/${name}`;
  Deno.writeTextFileSync(path, `#!/bin/sh\n${body}\n`);
  Deno.chmodSync(path, 0o755);
  return path;
}

function plugin(command: string, extra: Partial<ExecPlugin> = {}): ExecPlugin {
  return { apiVersion: V1, command, args: [], env: {}, provideClusterInfo: false, ...extra };
}

/** A plugin that counts its runs in `dir/runs` and prints an ExecCredential for token `t<run>`. */
function countingPlugin(dir: string, expiration: string): string {
  return script(
    dir,
    "login",
    [
      `n=$(( $(cat "${dir}/runs" 2>/dev/null || echo 0) + 1 )); echo $n > "${dir}/runs"`,
      `echo '{"apiVersion":"${V1}","kind":"ExecCredential","status":{"token":"t'$n'"${expiration}}}'`,
    ].join("\n"),
  );
}

const runs = (dir: string) => Number(Deno.readTextFileSync(`${dir}/runs`).trim());

Deno.test("a token file is read again once a minute, and at once after a refusal", async () => {
  await withDir(async (dir) => {
    const file = `${dir}/token`;
    Deno.writeTextFileSync(file, "first\n");
    let now = 1_000_000;
    const credentials = await createCredentials({ server: SERVER, tokenFile: file }, { now: () => now });
    assert.equal((await credentials.get()).authorization, "Bearer first");
    Deno.writeTextFileSync(file, "second\n");
    now += TOKEN_FILE_REREAD_MS - 1;
    assert.equal((await credentials.get()).authorization, "Bearer first", "not read again within a minute");
    now += 1;
    assert.equal((await credentials.get()).authorization, "Bearer second");
    Deno.writeTextFileSync(file, "third");
    const sent = await credentials.get();
    assert.equal(credentials.refused(sent), true);
    assert.equal(
      (await credentials.get()).authorization,
      "Bearer third",
      "a 401 makes it read the file again",
    );
    // A file caught mid-rewrite (missing) keeps the token read last.
    Deno.removeSync(file);
    now += TOKEN_FILE_REREAD_MS;
    assert.equal((await credentials.get()).authorization, "Bearer third");
  });
});

Deno.test("a token file that cannot be read fails at start, naming the file", async () => {
  const access: ClusterAccess = { server: SERVER, tokenFile: "/nonexistent/token" };
  await assert.rejects(
    () => createCredentials(access),
    (err) =>
      err instanceof NotariatError && err.kind === "usage" &&
      err.message.startsWith("cannot read the token file /nonexistent/token: "),
  );
});

Deno.test("a static token is sent as it is and not retried after a refusal", async () => {
  const credentials = await createCredentials({ server: SERVER, token: "static" });
  const sent = await credentials.get();
  assert.deepEqual(sent, { authorization: "Bearer static", clientCert: undefined });
  assert.equal(credentials.refused(sent), false);
});

Deno.test("an exec credential is cached until its expirationTimestamp, and renewed after a refusal", async () => {
  await withDir(async (dir) => {
    const later = new Date(Date.now() + 3600_000).toISOString();
    const command = countingPlugin(dir, `,"expirationTimestamp":"${later}"`);
    const credentials = await createCredentials({ server: SERVER, exec: plugin(command) });
    const [a, b] = await Promise.all([credentials.get(), credentials.get()]);
    assert.equal(a.authorization, "Bearer t1");
    assert.equal(b.authorization, "Bearer t1");
    assert.equal((await credentials.get()).authorization, "Bearer t1");
    assert.equal(runs(dir), 1, "concurrent and later requests share one run");
    assert.equal(credentials.refused(a), true);
    assert.equal((await credentials.get()).authorization, "Bearer t2");
    assert.equal(runs(dir), 2);
  });
  await withDir(async (dir) => {
    const soon = new Date(Date.now() + 1000).toISOString();
    const command = countingPlugin(dir, `,"expirationTimestamp":"${soon}"`);
    const credentials = await createCredentials({ server: SERVER, exec: plugin(command) });
    await credentials.get();
    await credentials.get();
    assert.equal(runs(dir), 2, "a credential about to expire is not used again");
  });
});

Deno.test("the plugin gets its arguments, environment and KUBERNETES_EXEC_INFO", async () => {
  await withDir(async (dir) => {
    const command = script(
      dir,
      "login",
      [
        `printf '%s\\n' "$1 $2 $REGION" > "${dir}/seen"`,
        `printf '%s' "$KUBERNETES_EXEC_INFO" > "${dir}/info"`,
        `echo '{"apiVersion":"${V1}","kind":"ExecCredential","status":{"token":"x"}}'`,
      ].join("\n"),
    );
    const caPem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    const credentials = await createCredentials({
      server: SERVER,
      ca: { pem: caPem },
      exec: plugin(command, { args: ["get", "token"], env: { REGION: "eu" }, provideClusterInfo: true }),
    });
    assert.equal((await credentials.get()).authorization, "Bearer x");
    assert.equal(Deno.readTextFileSync(`${dir}/seen`), "get token eu\n");
    assert.deepEqual(JSON.parse(Deno.readTextFileSync(`${dir}/info`)), {
      apiVersion: V1,
      kind: "ExecCredential",
      spec: { interactive: false, cluster: { server: SERVER, "certificate-authority-data": btoa(caPem) } },
    });
  });
});

Deno.test("a failing plugin is named with its stderr, never its stdout", async () => {
  await withDir(async (dir) => {
    const command = script(
      dir,
      "login",
      "echo 'partial-secret-token'; echo 'login expired: run login' >&2; exit 3",
    );
    const credentials = await createCredentials({ server: SERVER, exec: plugin(command) });
    await assert.rejects(() => credentials.get(), (err) => {
      assert.ok(err instanceof NotariatError);
      assert.equal(err.message, `exec plugin ${command} exited with status 3: login expired: run login`);
      return true;
    });
    const garbled = script(dir, "garbled", "echo 'token: partial-secret-token'");
    const other = await createCredentials({ server: SERVER, exec: plugin(garbled) });
    await assert.rejects(
      () => other.get(),
      (err) =>
        err instanceof NotariatError &&
        err.message === `exec plugin ${garbled} printed no valid ExecCredential: its output is not JSON`,
    );
  });
});

Deno.test("a plugin that is not installed is named with its install hint", async () => {
  const credentials = await createCredentials({
    server: SERVER,
    exec: plugin("notariat-no-such-plugin", { installHint: "install it from example.com/login" }),
  });
  await assert.rejects(
    () => credentials.get(),
    /^NotariatError: exec plugin notariat-no-such-plugin was not found: install it from example\.com\/login$/,
  );
});

Deno.test("an ExecCredential is checked field by field, quoting no value", () => {
  const what = "exec plugin x";
  const parse = (status: unknown, apiVersion = V1) =>
    parseExecCredential(JSON.stringify({ apiVersion, kind: "ExecCredential", status }), V1, what);
  assert.deepEqual(parse({ token: "tok", expirationTimestamp: "2030-01-01T00:00:00Z" }), {
    token: "tok",
    clientCert: undefined,
    expires: Date.parse("2030-01-01T00:00:00Z"),
  });
  assert.deepEqual(parse({ clientCertificateData: "CERT", clientKeyData: "KEY" }).clientCert, {
    cert: "CERT",
    key: "KEY",
  });
  const cases: [unknown, string, string?][] = [
    [{ token: "tok" }, `apiVersion is not ${V1} (the kubeconfig's)`, "client.authentication.k8s.io/v1beta1"],
    [undefined, "status is missing"],
    [{}, "status has neither token nor clientCertificateData"],
    [
      { clientCertificateData: "CERT" },
      "status.clientCertificateData and status.clientKeyData come together",
    ],
    [{ token: "tok", expirationTimestamp: "tomorrow" }, "status.expirationTimestamp is not an RFC 3339 time"],
  ];
  for (const [status, message, apiVersion] of cases) {
    assert.throws(() => parse(status, apiVersion), (err) => {
      assert.equal((err as Error).message, `${what} printed no valid ExecCredential: ${message}`);
      return true;
    });
  }
});
