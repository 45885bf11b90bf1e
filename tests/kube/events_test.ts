import assert from "node:assert/strict";
import { createKube } from "../../src/kube/client.ts";
import { createEventRecorder } from "../../src/kube/events.ts";
import { startKube } from "../harness/kube.ts";

Deno.test("Events are recorded on the ConfigMap and repeats are aggregated", async (t) => {
  const cluster = await startKube();
  const kube = await createKube({ kubeconfig: cluster.kubeconfigFor(cluster.adminToken, "default") });
  try {
    let clock = new Date("2026-01-01T00:00:00Z");
    const errors: unknown[] = [];
    const subject = {
      kind: "ConfigMap",
      apiVersion: "v1",
      namespace: "default",
      name: "notariat",
      uid: "u-1",
    };
    const recorder = createEventRecorder(kube, subject, { now: () => clock, onError: (e) => errors.push(e) });
    const list = async () =>
      (await cluster.request("GET", "/api/v1/namespaces/default/events")).body.items
        // deno-lint-ignore no-explicit-any
        .map((e: any) => [e.type, e.reason, e.message, e.count, e.involvedObject.name, e.involvedObject.uid]);

    await t.step("a first Event is created on the subject", async () => {
      await recorder.record("Warning", "Failed", "certificates[0] (secret default/a): dns: refused");
      assert.deepEqual(await list(), [[
        "Warning",
        "Failed",
        "certificates[0] (secret default/a): dns: refused",
        1,
        "notariat",
        "u-1",
      ]]);
    });

    await t.step("the same Event soon after bumps the count instead of adding one", async () => {
      clock = new Date("2026-01-01T00:05:00Z");
      await recorder.record("Warning", "Failed", "certificates[0] (secret default/a): dns: refused");
      assert.deepEqual((await list()).map((e: unknown[]) => e[3]), [2]);
    });

    await t.step("a different message, or the same one much later, is a new Event", async () => {
      await recorder.record("Normal", "Issued", "certificates[0] (secret default/a): issued");
      clock = new Date("2026-01-01T01:00:00Z");
      await recorder.record("Warning", "Failed", "certificates[0] (secret default/a): dns: refused");
      const counts = (await list()).map((e: unknown[]) => `${e[1]}:${e[3]}`).sort();
      assert.deepEqual(counts, ["Failed:1", "Failed:2", "Issued:1"]);
    });

    await t.step("a refused Event is reported to onError, never thrown", async () => {
      const elsewhere = createEventRecorder(kube, { ...subject, namespace: "absent-ns" }, {
        onError: (e) => errors.push(e),
      });
      await elsewhere.record("Normal", "Issued", "x");
      assert.equal(errors.length, 1);
      assert.match((errors[0] as Error).message, /^create Event in absent-ns: 404/);
    });
  } finally {
    await kube.close();
    await cluster.stop();
  }
});
