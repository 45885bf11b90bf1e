/**
 * A notariat process killed with SIGKILL while its challenge values are served (OOM kill, a forced pod
 * deletion, node loss) cannot remove them. The next start must: every value notariat published is gone
 * afterwards, and a value another tool published at the same name is still there. The real program runs under
 * the RBAC of manifests/, against a real kube-apiserver, Knot and pebble; the one fake is a proxy in front of
 * pebble that keeps the first run's challenges pending (it answers the challenge POST itself), so the values
 * stay published until the kill.
 */
import assert from "node:assert/strict";
import { parseCertificateChain } from "../../src/pki/certificate.ts";
import { startAcmeProxy } from "../harness/acme_proxy.ts";
import {
  certificatesConfigMap,
  loadManifests,
  RBAC_MANIFESTS,
  tsigSecret,
  waitFor,
} from "../harness/cluster_objects.ts";
import { nsupdateTxt, queryTxt } from "../harness/dns_servers.ts";
import { notariatCommand } from "../harness/program.ts";
import { startStack } from "../harness/stack.ts";

Deno.test("after a kill -9 with 4 orders in flight, the next start leaves no notariat value and keeps a foreign one", async (t) => {
  const stack = await startStack();
  const { cluster, knot, pebble } = stack;
  const proxy = await startAcmeProxy(pebble);
  const stateDir = Deno.makeTempDirSync({ prefix: "notariat-crash-" });
  let child: Deno.ChildProcess | undefined;
  try {
    const dns = `127.0.0.1:${knot.address.port}`;
    const entries = [0, 1, 2, 3].map((i) => ({
      secret: `site${i}-tls`,
      domains: [`site${i}.alpha.test`, `www${i}.beta.test`],
      email: "ops@alpha.test",
      tsigSecretName: "tsig",
    }));
    const names = entries.flatMap((e) => e.domains.map((d) => `_acme-challenge.${d}`));
    await cluster.apply([
      ...loadManifests(RBAC_MANIFESTS),
      tsigSecret(knot.keys["hmac-sha256"].text, dns),
      certificatesConfigMap(entries, { yaml: true }),
    ]);
    // Another tool's value at one of the names, published with another key.
    await nsupdateTxt(knot.address, knot.keys["hmac-sha512"], "alpha.test", "add", names[0], "foreign-value");

    const proxyCa = `${stateDir}/proxy-ca.pem`;
    Deno.writeTextFileSync(proxyCa, proxy.caPem);
    const token = await cluster.mintToken("notariat", "notariat");
    const args = (directory: string, caFile: string) => [
      "-config=notariat",
      `-kubeconfig=${cluster.kubeconfigFor(token, "notariat")}`,
      `-acme=${directory}`,
      `-acme-ca=${caFile}`,
      `-dns-resolver=${dns}`,
      "-propagation-check=update-server",
      "-concurrency=4",
      // No health listener: tests run side by side, and the default port is one.
      "-http-address=",
    ];
    const served = async () => {
      const values = new Map<string, string[]>();
      for (const name of names) values.set(name, await queryTxt(knot.address, name));
      return values;
    };
    const journal = async () => {
      const { status, body } = await cluster.request(
        "GET",
        "/api/v1/namespaces/notariat/secrets/notariat-challenges",
      );
      return status === 200 ? Object.keys(body.data ?? {}) : [];
    };

    await t.step("the first run publishes all 8 values and is killed while they are served", async () => {
      // pebble never hears the challenge answers: the authorizations stay pending and the values stay up.
      proxy.inject({
        resource: "challenge",
        method: "POST",
        times: Infinity,
        fault: { kind: "respond", status: 200, body: JSON.stringify({ type: "dns-01", status: "pending" }) },
      });
      child = notariatCommand(args(proxy.directoryUrl, proxyCa), { stdout: "null", stderr: "null" }).spawn();
      await waitFor("8 notariat values served", async () => {
        const values = await served();
        const ours = [...values.entries()].flatMap(([, v]) => v.filter((x) => x !== "foreign-value"));
        return ours.length === 8 ? true : undefined;
      }, 60_000);
      assert.equal((await journal()).length, 4, "one journal record per order in flight");
      child.kill("SIGKILL");
      await child.status;
      child = undefined;
      const values = await served();
      const left = [...values.values()].flat().filter((x) => x !== "foreign-value");
      assert.equal(left.length, 8, "the killed run could not remove its values");
    });

    await t.step("the next start removes every left-over value, and the foreign one stays", async () => {
      proxy.clearFaults();
      const rerun = await notariatCommand([...args(pebble.directoryUrl, pebble.caFile), "-once"], {
        stdout: "piped",
        stderr: "piped",
      }).output();
      const log = new TextDecoder().decode(rerun.stdout) + new TextDecoder().decode(rerun.stderr);
      assert.equal(rerun.code, 0, log);
      for (const [name, values] of await served()) {
        assert.deepEqual(values, name === names[0] ? ["foreign-value"] : [], name);
      }
      assert.deepEqual(await journal(), [], "every record crossed out");
      assert.ok(log.includes("left-over challenge values deleted"), log);
      for (const entry of entries) {
        const { body } = await cluster.request("GET", `/api/v1/namespaces/notariat/secrets/${entry.secret}`);
        const [leaf] = parseCertificateChain(atob(body.data["tls.crt"]));
        assert.deepEqual(leaf.dnsNames.sort(), [...entry.domains].sort());
      }
    });
  } finally {
    if (child !== undefined) {
      child.kill("SIGKILL");
      await child.status;
    }
    await proxy.stop();
    await stack.stop();
    Deno.removeSync(stateDir, { recursive: true });
  }
});
