/**
 * Proves each real server the tests rely on starts, answers, and is gone after `stop`: if one of these fails,
 * every integration test that uses that server would fail for reasons unrelated to notariat.
 */
import assert from "node:assert/strict";
import { TSIG_ALGORITHMS } from "../../src/dns/types.ts";
import {
  type DnsServerHandle,
  nsupdateTxt,
  queryTxt,
  soaAnswers,
  startBind,
  startForwarder,
  startKnot,
} from "./dns_servers.ts";
import { startKube } from "./kube.ts";
import { startPebble } from "./pebble.ts";
import { isRunning, run } from "./process.ts";

function assertAllGone(pids: number[]): void {
  assert.ok(pids.length > 0);
  for (const pid of pids) assert.equal(isRunning(pid), false, `pid ${pid} still running`);
}

async function timed<T>(label: string, start: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const result = await start();
  console.log(`${label} started in ${Math.round(performance.now() - t0)} ms`);
  return result;
}

for (const [kind, start] of [["knot", startKnot], ["bind", startBind]] as const) {
  Deno.test(`${kind}: serves the test zones, takes TXT updates from each allowed key only, stops`, async (t) => {
    const server: DnsServerHandle = await timed(kind, start);
    try {
      assert.equal(server.kind, kind);
      assert.deepEqual(server.zones, ["alpha.test", "beta.test"]);
      for (const pid of server.pids) assert.equal(isRunning(pid), true);

      await t.step("answers SOA for both zones", async () => {
        assert.equal(await soaAnswers(server.address, "alpha.test"), true);
        assert.equal(await soaAnswers(server.address, "beta.test"), true);
        assert.equal(await soaAnswers(server.address, "gamma.test"), false);
      });

      await t.step("each allowed key adds a TXT value that a lookup then returns", async () => {
        assert.deepEqual(await queryTxt(server.address, "www.alpha.test"), []);
        for (const algorithm of TSIG_ALGORITHMS) {
          const testKey = server.keys[algorithm];
          assert.equal(testKey.key.algorithm, algorithm);
          assert.equal(testKey.text.split(":")[0], algorithm);
          await nsupdateTxt(server.address, testKey, "alpha.test", "add", "www.alpha.test", `v-${algorithm}`);
        }
        assert.deepEqual(
          await queryTxt(server.address, "www.alpha.test"),
          TSIG_ALGORITHMS.map((a) => `v-${a}`).sort(),
        );
        await nsupdateTxt(
          server.address,
          server.keys["hmac-sha256"],
          "alpha.test",
          "delete",
          "www.alpha.test",
          "v-hmac-md5",
        );
        assert.equal((await queryTxt(server.address, "www.alpha.test")).includes("v-hmac-md5"), false);
      });

      await t.step(
        "a lookup returns values with quotes and spaces intact, and fails on REFUSED",
        async () => {
          const value = 'a "quoted" \\ value';
          await nsupdateTxt(
            server.address,
            server.keys["hmac-sha512"],
            "beta.test",
            "add",
            "ns1.beta.test",
            value,
          );
          assert.deepEqual(await queryTxt(server.address, "ns1.beta.test"), [value]);
          await assert.rejects(queryTxt(server.address, "www.gamma.test"), /answered REFUSED/);
        },
      );

      await t.step("the unauthorized key is refused and changes nothing", async () => {
        await assert.rejects(
          nsupdateTxt(server.address, server.unauthorizedKey, "beta.test", "add", "www.beta.test", "nope"),
        );
        assert.deepEqual(await queryTxt(server.address, "www.beta.test"), []);
      });

      await t.step(
        "a forwarder in front follows CNAMEs into the other zone, caches nothing, stops",
        async () => {
          const sha256 = server.keys["hmac-sha256"];
          await nsupdateTxt(server.address, sha256, "beta.test", "add", "delegated.beta.test", "token");
          // The authoritative server itself does not chase the CNAME into beta.test.
          assert.deepEqual(await queryTxt(server.address, "_acme-challenge.delegated.alpha.test"), []);
          const forwarder = await timed(`${kind} forwarder`, () => startForwarder(server.address));
          try {
            assert.deepEqual(await queryTxt(forwarder.address, "_acme-challenge.delegated.alpha.test"), [
              "token",
            ]);
            await nsupdateTxt(server.address, sha256, "beta.test", "add", "chain2.beta.test", "two");
            assert.deepEqual(await queryTxt(forwarder.address, "_acme-challenge.chain.alpha.test"), ["two"]);
            // A value replaced upstream shows through at once (a second order for the same name).
            await nsupdateTxt(server.address, sha256, "beta.test", "delete", "delegated.beta.test", "token");
            await nsupdateTxt(server.address, sha256, "beta.test", "add", "delegated.beta.test", "token2");
            assert.deepEqual(await queryTxt(forwarder.address, "_acme-challenge.delegated.alpha.test"), [
              "token2",
            ]);
            assert.deepEqual(await queryTxt(forwarder.address, "delegated.beta.test"), ["token2"]);
            // Over UDP too (pebble asks over UDP).
            const udp = await run("kdig", [
              "@127.0.0.1",
              "-p",
              String(forwarder.address.port),
              "+short",
              "TXT",
              "_acme-challenge.delegated.alpha.test",
            ]);
            assert.deepEqual(udp.trim().split("\n"), ["delegated.beta.test.", '"token2"']);
            const loop = await run("kdig", [
              "@127.0.0.1",
              "-p",
              String(forwarder.address.port),
              "TXT",
              "_acme-challenge.loop.alpha.test",
            ]);
            assert.match(loop, /status: SERVFAIL/);
            const missing = await run("kdig", [
              "@127.0.0.1",
              "-p",
              String(forwarder.address.port),
              "TXT",
              "nx.beta.test",
            ]);
            assert.match(missing, /status: NXDOMAIN/);
          } finally {
            await forwarder.stop();
          }
          await assert.rejects(soaAnswers(forwarder.address, "alpha.test"));
          await assert.doesNotReject(forwarder.stop());
        },
      );
    } finally {
      await server.stop();
    }
    await assert.doesNotReject(server.stop()); // a second stop is harmless
    assertAllGone(server.pids);
  });
}

Deno.test("pebble: serves its ACME directory over TLS signed by caPem, hands out its issuing root, stops", async () => {
  // pebble only needs a resolver address to start; nothing is validated here.
  const pebble = await timed("pebble", () => startPebble({ dnsServer: { host: "127.0.0.1", port: 53 } }));
  try {
    assert.match(pebble.directoryUrl, /^https:\/\/127\.0\.0\.1:\d+\/dir$/);
    assert.equal(Deno.readTextFileSync(pebble.caFile), pebble.caPem);
    const client = Deno.createHttpClient({ caCerts: [pebble.caPem] });
    try {
      const response = await fetch(pebble.directoryUrl, { client });
      assert.equal(response.status, 200);
      const directory = await response.json();
      assert.match(directory.newAccount, /^https:\/\/127\.0\.0\.1:\d+\//);
      assert.equal(typeof directory.newOrder, "string");
    } finally {
      client.close();
    }
    // Without trusting caPem the TLS handshake fails: the CA really is the one pebble serves with.
    await assert.rejects(fetch(pebble.directoryUrl));
    const root = await pebble.issuingRoot();
    assert.match(root, /^-----BEGIN CERTIFICATE-----\n[\s\S]+-----END CERTIFICATE-----\n?$/);
    assert.notEqual(root.trim(), pebble.caPem.trim());
  } finally {
    await pebble.stop();
  }
  await assert.doesNotReject(pebble.stop()); // a second stop is harmless
  assertAllGone(pebble.pids);
});

Deno.test("pebble 2.10: offers renewalInfo and the configured profiles, serves its management API", async () => {
  const pebble = await timed("pebble 2.10", () =>
    startPebble({
      dnsServer: { host: "127.0.0.1", port: 53 },
      version: "2.10",
      config: { profiles: { default: { description: "90 days", validityPeriod: 7776000 } } },
    }));
  try {
    const client = Deno.createHttpClient({ caCerts: [pebble.caPem] });
    try {
      const directory = await (await fetch(pebble.directoryUrl, { client })).json();
      assert.match(directory.renewalInfo, /renewalInfo/);
      assert.deepEqual(Object.keys(directory.meta.profiles), ["default"]);
    } finally {
      client.close();
    }
    const intermediate = await pebble.management("/intermediates/0");
    assert.equal(intermediate.status, 200);
    assert.match(await intermediate.text(), /-----BEGIN CERTIFICATE-----/);
  } finally {
    await pebble.stop();
  }
  assertAllGone(pebble.pids);
});

Deno.test("kube: stores objects, mints service-account tokens that RBAC limits, stops", async (t) => {
  const kube = await timed("kube (etcd + kube-apiserver)", startKube);
  try {
    assert.match(kube.server, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(kube.pids.length, 2);

    await t.step("the default namespace exists", async () => {
      const response = await kube.request("GET", "/api/v1/namespaces/default");
      assert.equal(response.status, 200);
      assert.equal(response.body.metadata.name, "default");
    });

    await t.step("apply creates a ConfigMap, then replaces it", async () => {
      const configMap = (value: string) => ({
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "smoke", namespace: "default" },
        data: { certificates: value },
      });
      await kube.apply([configMap("first")]);
      const path = "/api/v1/namespaces/default/configmaps/smoke";
      assert.deepEqual((await kube.request("GET", path)).body.data, { certificates: "first" });
      await kube.apply([configMap("second")]);
      assert.deepEqual((await kube.request("GET", path)).body.data, { certificates: "second" });
    });

    await t.step("a service account's token is allowed what its Role grants, and nothing else", async () => {
      await kube.apply([
        { apiVersion: "v1", kind: "Namespace", metadata: { name: "smoke" } },
        { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "reader", namespace: "smoke" } },
        {
          apiVersion: "rbac.authorization.k8s.io/v1",
          kind: "Role",
          metadata: { name: "configmap-reader", namespace: "smoke" },
          rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list"] }],
        },
        {
          apiVersion: "rbac.authorization.k8s.io/v1",
          kind: "RoleBinding",
          metadata: { name: "reader", namespace: "smoke" },
          roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "configmap-reader" },
          subjects: [{ kind: "ServiceAccount", name: "reader", namespace: "smoke" }],
        },
      ]);
      const token = await kube.mintToken("smoke", "reader");
      const client = Deno.createHttpClient({ caCerts: [kube.caPem] });
      try {
        const get = async (path: string, bearer: string) => {
          const response = await fetch(`${kube.server}${path}`, {
            client,
            headers: { authorization: `Bearer ${bearer}` },
          });
          await response.body?.cancel();
          return response.status;
        };
        assert.equal(await get("/api/v1/namespaces/smoke/configmaps", token), 200);
        assert.equal(await get("/api/v1/namespaces/smoke/secrets", token), 403);
        assert.equal(await get("/api/v1/namespaces/default/configmaps", token), 403);
        assert.equal(await get("/api/v1/namespaces/smoke/configmaps", "not-a-token"), 401);
      } finally {
        client.close();
      }
      const config = JSON.parse(Deno.readTextFileSync(kube.kubeconfigFor(token, "smoke")));
      assert.equal(config.users[0].user.token, token);
      assert.equal(config.contexts[0].context.namespace, "smoke");
      assert.equal(config.clusters[0].cluster.server, kube.server);
      assert.equal(atob(config.clusters[0].cluster["certificate-authority-data"]), kube.caPem);
      const admin = JSON.parse(Deno.readTextFileSync(kube.adminKubeconfig));
      assert.equal(admin.users[0].user.token, kube.adminToken);
      assert.equal(admin.contexts[0].context.namespace, "default");
    });
  } finally {
    await kube.stop();
  }
  await assert.doesNotReject(kube.stop()); // a second stop is harmless
  assertAllGone(kube.pids);
});
