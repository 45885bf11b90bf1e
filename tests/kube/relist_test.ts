/**
 * 410 Gone against a real API server: without its watch cache, kube-apiserver watches etcd directly, and with
 * a compaction every 2 s a resume version a few seconds old is gone from etcd's history.
 */
import assert from "node:assert/strict";
import { createKube } from "../../src/kube/client.ts";
import type { Kube } from "../../src/kube/types.ts";
import { listAndWatch } from "../../src/kube/watch.ts";
import { startKube } from "../harness/kube.ts";

async function until(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

Deno.test("a resume version the server no longer has (410 Gone) lists again, and changes keep coming", async () => {
  const cluster = await startKube({
    apiserverArgs: ["--watch-cache=false", "--etcd-compaction-interval=2s"],
  });
  const kube = await createKube({ kubeconfig: cluster.kubeconfigFor(cluster.adminToken, "default") });
  const logs: string[] = [];
  try {
    const secret = (name: string) => ({ apiVersion: "v1", kind: "Secret", metadata: { name } });
    await cluster.request("POST", "/api/v1/namespaces/default/secrets", secret("before"));
    // The first watch resumes from a version long compacted away (as after a long disconnection).
    let first = true;
    const stale: Kube = {
      ...kube,
      watchMetadata(resource, ns, selector, version, handlers) {
        const from = first ? "2" : version;
        first = false;
        return kube.watchMetadata(resource, ns, selector, from, handlers);
      },
    };
    await new Promise((r) => setTimeout(r, 5000)); // two compactions
    const syncs: string[][] = [];
    const changes: string[] = [];
    const watch = listAndWatch(stale, "secrets", "default", {}, {
      sync: (items) => syncs.push([...items.keys()].sort()),
      change: (type, item) => changes.push(`${type} ${item.name}`),
    }, { log: (level, message) => logs.push(`${level} ${message}`) });
    try {
      await until(() => syncs.length === 2, "a second list after 410 Gone");
      assert.deepEqual(syncs[1], ["before"]);
      assert.ok(logs.includes("debug watch history expired (410 Gone), listing again"), logs.join("\n"));
      await cluster.request("POST", "/api/v1/namespaces/default/secrets", secret("after"));
      await until(() => changes.includes("ADDED after"), "the change after the relist");
    } finally {
      watch.stop();
    }
  } finally {
    await kube.close();
    await cluster.stop();
  }
});
