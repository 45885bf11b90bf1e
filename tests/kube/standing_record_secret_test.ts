import assert from "node:assert/strict";
import type { StandingRecord } from "../../src/dns/standing_record_store.ts";
import { createKube } from "../../src/kube/client.ts";
import { createKubeStandingStore, STANDING_RECORDS_SECRET } from "../../src/kube/standing_record_secret.ts";
import { startKube } from "../harness/kube.ts";

function record(n: number): StandingRecord {
  return {
    entry: `kt/site-${n}-tls`,
    domain: `site-${n}.example.com`,
    owner: `_validation-persist.site-${n}.example.com.`,
    zone: "example.com.",
    server: "192.0.2.53:53",
    value: `ca.example; accounturi=https://ca.example/acct/${n}`,
    tsigSecret: "kt/tsig",
  };
}

Deno.test("the standing-record store keeps every record through concurrent writers on a real API server", async (t) => {
  const cluster = await startKube();
  const kube = await createKube({ kubeconfig: cluster.adminKubeconfig, namespace: "kt" });
  try {
    await cluster.apply([{ apiVersion: "v1", kind: "Namespace", metadata: { name: "kt" } }]);
    const store = createKubeStandingStore(kube, "kt");

    await t.step("an empty store lists nothing and creates no Secret by reading", async () => {
      assert.deepEqual(await store.list(), []);
      assert.equal(await kube.readSecret("kt", STANDING_RECORDS_SECRET), undefined);
    });

    await t.step("concurrent additions (creation race and 409 conflicts included) all land", async () => {
      await Promise.all(Array.from({ length: 8 }, (_, n) => store.update({ add: [record(n)] })));
      const listed = await store.list();
      assert.deepEqual(
        listed.map((r) => r.entry).sort(),
        Array.from({ length: 8 }, (_, n) => `kt/site-${n}-tls`).sort(),
      );
      const secret = await kube.readSecret("kt", STANDING_RECORDS_SECRET);
      assert.equal(secret?.labels["app.kubernetes.io/managed-by"], "notariat");
    });

    await t.step(
      "adding a remembered record again is a no-op; removal matches entry, owner and value",
      async () => {
        await store.update({ add: [record(0)] });
        assert.equal((await store.list()).length, 8);
        await Promise.all([
          store.update({ remove: [record(1)] }),
          store.update({ remove: [{ ...record(2), value: "another value" }] }),
          store.update({ remove: [record(3)], add: [record(9)] }),
        ]);
        assert.deepEqual(
          (await store.list()).map((r) => r.entry).sort(),
          [
            "kt/site-0-tls",
            "kt/site-2-tls",
            "kt/site-4-tls",
            "kt/site-5-tls",
            "kt/site-6-tls",
            "kt/site-7-tls",
            "kt/site-9-tls",
          ],
        );
      },
    );
  } finally {
    await kube.close();
    await cluster.stop();
  }
});
