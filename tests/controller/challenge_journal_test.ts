/**
 * The challenge journal against a real kube-apiserver and Knot: a record is written before the UPDATE, a
 * crashed process's values are deleted by the next one before it orders for the same names, values of publishes
 * still in flight and values of other tools are never touched, and a journal that cannot be written stops the
 * publish before anything is sent.
 */
import assert from "node:assert/strict";
import { createKubeChallengeJournal, journalSecretName } from "../../src/controller/challenge_journal.ts";
import { type DnsContext, planChallenges, publishChallenges } from "../../src/dns/challenges.ts";
import { createKube } from "../../src/kube/client.ts";
import type { Kube } from "../../src/kube/types.ts";
import { createLogger } from "../../src/observe/log.ts";
import { type DnsServerHandle, nsupdateTxt, queryTxt, startKnot } from "../harness/dns_servers.ts";
import { requestCounts } from "../harness/api_requests.ts";
import { type KubeHandle, startKube } from "../harness/kube.ts";
import { tsigSecret } from "../harness/cluster_objects.ts";

const JOURNAL = "notariat-challenges";

function context(knot: DnsServerHandle, kube: Kube, lines: string[]): DnsContext {
  return {
    resolver: knot.address,
    propagation: "update-server",
    propagationTimeoutMs: 3000,
    timeoutMs: 1000,
    pollIntervalMs: 20,
    authoritativePort: knot.address.port,
    journal: journal(kube, lines),
  };
}

function journal(kube: Kube, lines: string[]) {
  const logger = createLogger({ format: "json", level: "debug", write: (line) => lines.push(line) });
  return createKubeChallengeJournal({ kube, name: JOURNAL, dnsTimeoutMs: 1000, logger });
}

async function records(cluster: KubeHandle): Promise<string[]> {
  const { status, body } = await cluster.request("GET", `/api/v1/namespaces/notariat/secrets/${JOURNAL}`);
  return status === 200 ? Object.keys(body.data ?? {}) : [];
}

Deno.test("the challenge journal", async (t) => {
  const [cluster, knot] = await Promise.all([startKube(), startKnot()]);
  const kubes: Kube[] = [];
  try {
    await cluster.apply([
      { apiVersion: "v1", kind: "Namespace", metadata: { name: "notariat" } },
      tsigSecret(knot.keys["hmac-sha256"].text, undefined),
    ]);
    const connect = async () => {
      const kube = await createKube({ kubeconfig: cluster.kubeconfigFor(cluster.adminToken, "notariat") });
      kubes.push(kube);
      return kube;
    };
    const access = {
      key: knot.keys["hmac-sha256"].key,
      nameserver: knot.address,
      keySecret: "notariat/tsig",
    };
    const lines: string[] = [];

    await t.step("a publish is recorded before its UPDATE and crossed out after its removal", async () => {
      const kube = await connect();
      const ctx = context(knot, kube, lines);
      const published = await publishChallenges([{ domain: "one.alpha.test", value: "v1" }], access, ctx);
      const [id] = await records(cluster);
      assert.match(id, /^r-/);
      const { body } = await cluster.request("GET", `/api/v1/namespaces/notariat/secrets/${JOURNAL}`);
      assert.equal(body.type, "Opaque");
      assert.equal(body.metadata.labels["app.kubernetes.io/component"], "challenge-journal");
      assert.deepEqual(JSON.parse(atob(body.data[id])).values, [{
        zone: "alpha.test",
        server: knot.address,
        owner: "_acme-challenge.one.alpha.test",
        value: "v1",
      }]);
      await published.remove();
      assert.deepEqual(await records(cluster), []);
    });

    await t.step("a dead process's values are deleted before a new order for the same names", async () => {
      const name = "_acme-challenge.two.alpha.test";
      await nsupdateTxt(knot.address, knot.keys["hmac-sha512"], "alpha.test", "add", name, "foreign");
      // The first process publishes and dies: its values and its record stay.
      const dead = await connect();
      await publishChallenges(
        [{ domain: "two.alpha.test", value: "left" }],
        access,
        context(knot, dead, lines),
      );
      assert.deepEqual((await queryTxt(knot.address, name)).sort(), ["foreign", "left"]);
      assert.equal((await records(cluster)).length, 1);
      // The next process plans an order for the name: the leftover goes, the other tool's value stays.
      const next = await connect();
      const ctx = context(knot, next, lines);
      const plan = await planChallenges(["two.alpha.test"], access, ctx);
      assert.deepEqual(await queryTxt(knot.address, name), ["foreign"]);
      assert.deepEqual(await records(cluster), []);
      assert.ok(lines.some((l) => l.includes("left-over challenge values deleted")));
      const published = await plan.publish([{ domain: "two.alpha.test", value: "new" }]);
      assert.deepEqual((await queryTxt(knot.address, name)).sort(), ["foreign", "new"]);
      await published.remove();
      assert.deepEqual(await queryTxt(knot.address, name), ["foreign"]);
    });

    await t.step(
      "values in flight are never swept, and a sweep of other names leaves leftovers alone",
      async () => {
        const kube = await connect();
        const ctx = context(knot, kube, lines);
        const inFlight = await publishChallenges(
          [{ domain: "three.alpha.test", value: "busy" }],
          access,
          ctx,
        );
        const dead = await connect();
        await publishChallenges(
          [{ domain: "four.beta.test", value: "left" }],
          access,
          context(knot, dead, lines),
        );
        await ctx.journal!.sweep(["_acme-challenge.five.alpha.test"]);
        assert.deepEqual(await queryTxt(knot.address, "_acme-challenge.four.beta.test"), ["left"]);
        await ctx.journal!.sweep();
        assert.deepEqual(await queryTxt(knot.address, "_acme-challenge.three.alpha.test"), ["busy"]);
        assert.deepEqual(await queryTxt(knot.address, "_acme-challenge.four.beta.test"), []);
        assert.equal((await records(cluster)).length, 1, "the record in flight stays");
        await inFlight.remove();
        assert.deepEqual(await records(cluster), []);
      },
    );

    await t.step(
      "concurrent publishes share the journal's writes, and names found clean are not read again",
      async () => {
        const kube = await connect();
        const ctx = context(knot, kube, lines);
        const before = await requestCounts(cluster);
        const domains = Array.from({ length: 8 }, (_, i) => `c${i}.alpha.test`);
        const published = await Promise.all(
          domains.map((domain) => publishChallenges([{ domain, value: `v-${domain}` }], access, ctx)),
        );
        for (const domain of domains) {
          assert.deepEqual(await queryTxt(knot.address, `_acme-challenge.${domain}`), [`v-${domain}`]);
        }
        assert.equal((await records(cluster)).length, 8, "every publish is recorded before its UPDATE");
        await Promise.all(published.map((p) => p.remove()));
        assert.deepEqual(await records(cluster), []);
        const again = await publishChallenges([{ domain: domains[0], value: "again" }], access, ctx);
        await again.remove();
        const after = await requestCounts(cluster);
        const delta = (key: string) => (after.get(key) ?? 0) - (before.get(key) ?? 0);
        // 9 publishes: 18 writes and 9 reads one by one.
        assert.ok(delta("PATCH secrets") < 18, `PATCH secrets: ${delta("PATCH secrets")}`);
        assert.ok(delta("GET secrets") < 9, `GET secrets: ${delta("GET secrets")}`);
      },
    );

    await t.step("a leftover whose key cannot be read stays recorded for a later sweep", async () => {
      await cluster.apply([{
        apiVersion: "v1",
        kind: "Secret",
        metadata: { namespace: "notariat", name: "tsig-gone" },
        stringData: { key: knot.keys["hmac-sha256"].text },
      }]);
      const dead = await connect();
      const gone = { ...access, keySecret: "notariat/tsig-gone" };
      await publishChallenges(
        [{ domain: "six.alpha.test", value: "stuck" }],
        gone,
        context(knot, dead, lines),
      );
      await cluster.request("DELETE", "/api/v1/namespaces/notariat/secrets/tsig-gone");
      const kube = await connect();
      const before = lines.length;
      await journal(kube, lines).sweep();
      assert.deepEqual(await queryTxt(knot.address, "_acme-challenge.six.alpha.test"), ["stuck"]);
      assert.equal((await records(cluster)).length, 1);
      const warning = lines.slice(before).find((l) => l.includes("cannot delete left-over challenge values"));
      assert.ok(warning?.includes("TSIG Secret notariat/tsig-gone does not exist"), String(warning));
      await cluster.apply([{
        apiVersion: "v1",
        kind: "Secret",
        metadata: { namespace: "notariat", name: "tsig-gone" },
        stringData: { key: knot.keys["hmac-sha256"].text },
      }]);
      await journal(kube, lines).sweep();
      assert.deepEqual(await queryTxt(knot.address, "_acme-challenge.six.alpha.test"), []);
      assert.deepEqual(await records(cluster), []);
    });

    await t.step("a journal that cannot be written stops the publish before any UPDATE", async () => {
      await cluster.apply([{
        apiVersion: "v1",
        kind: "ServiceAccount",
        metadata: { namespace: "notariat", name: "nobody" },
      }]);
      const token = await cluster.mintToken("notariat", "nobody");
      const kube = await createKube({ kubeconfig: cluster.kubeconfigFor(token, "notariat") });
      kubes.push(kube);
      await assert.rejects(
        publishChallenges(
          [{ domain: "seven.alpha.test", value: "never" }],
          access,
          context(knot, kube, lines),
        ),
        (err: Error) => {
          assert.match(
            err.message,
            /^recording the challenge values of seven\.alpha\.test before publishing them: /,
          );
          assert.match(err.message, /forbidden/);
          return true;
        },
      );
      assert.deepEqual(await queryTxt(knot.address, "_acme-challenge.seven.alpha.test"), []);
    });

    await t.step("the journal is named after the ConfigMap, within Kubernetes' length limit", () => {
      assert.equal(journalSecretName("notariat"), "notariat-challenges");
      const long = journalSecretName("a".repeat(250));
      assert.ok(long.length <= 253 && long.endsWith("-challenges"), long);
      assert.notEqual(long, journalSecretName("a".repeat(249)));
    });
  } finally {
    for (const kube of kubes) await kube.close();
    await Promise.all([cluster.stop(), knot.stop()]);
  }
});
