import assert from "node:assert/strict";
import { createKubeAccountStore } from "../../src/kube/account_key_secrets.ts";
import { createKube } from "../../src/kube/client.ts";
import { isKubeStatus, type Kube, KubeError, type KubeSecret } from "../../src/kube/types.ts";
import { listAndWatch } from "../../src/kube/watch.ts";
import { generatePrivateKey } from "../../src/pki/keys.ts";
import { startKube } from "../harness/kube.ts";

const text = (s: string) => new TextEncoder().encode(s);
// A real key: the account store refuses to hand out a key that does not import.
const KEY_PEM = await generatePrivateKey("ecdsa-p256");

function secret(name: string, data: Record<string, string>, namespace = "kt"): KubeSecret {
  const bytes = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, text(v)]));
  return { namespace, name, type: "Opaque", labels: {}, annotations: {}, data: bytes };
}

async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

Deno.test("the Kubernetes adapter against a real API server", async (t) => {
  const cluster = await startKube();
  const clients: Kube[] = [];
  // Every client's connections are closed before the server stops (see Kube.close).
  const connect = async (options: Parameters<typeof createKube>[0]) => {
    const kube = await createKube(options);
    clients.push(kube);
    return kube;
  };
  try {
    await cluster.apply([
      { apiVersion: "v1", kind: "Namespace", metadata: { name: "kt" } },
      { apiVersion: "v1", kind: "Namespace", metadata: { name: "other" } },
      { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "limited", namespace: "kt" } },
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "Role",
        metadata: { name: "limited", namespace: "kt" },
        rules: [{ apiGroups: [""], resources: ["secrets"], verbs: ["get"] }],
      },
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "RoleBinding",
        metadata: { name: "limited", namespace: "kt" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "limited" },
        subjects: [{ kind: "ServiceAccount", name: "limited", namespace: "kt" }],
      },
    ]);
    const admin = await connect({ kubeconfig: cluster.kubeconfigFor(cluster.adminToken, "kt") });

    await t.step("the namespace comes from the flag, else the kubeconfig context", async () => {
      assert.equal(admin.namespace, "kt");
      const flagged = await connect({ kubeconfig: cluster.adminKubeconfig, namespace: "other" });
      assert.equal(flagged.namespace, "other");
    });

    await t.step("in a pod, the service account's token, CA and namespace file are used", async () => {
      const prefix = Deno.makeTempDirSync({ prefix: "notariat-pod-" });
      const dir = `${prefix}/var/run/secrets/kubernetes.io/serviceaccount`;
      Deno.mkdirSync(dir, { recursive: true });
      Deno.writeTextFileSync(`${dir}/token`, await cluster.mintToken("kt", "limited"));
      Deno.writeTextFileSync(`${dir}/ca.crt`, cluster.caPem);
      Deno.writeTextFileSync(`${dir}/namespace`, "kt");
      const url = new URL(cluster.server);
      Deno.env.set("KUBERNETES_SERVICE_HOST", url.hostname);
      Deno.env.set("KUBERNETES_SERVICE_PORT", url.port);
      try {
        const inPod = await connect({ serviceAccountPathPrefix: prefix });
        assert.equal(inPod.namespace, "kt");
        // The limited account may get Secrets in kt only: the answer proves its token was used.
        assert.equal(await inPod.readSecret("kt", "absent"), undefined);
        await assert.rejects(() => inPod.readSecret("other", "absent"), (err) => isKubeStatus(err, 403));
      } finally {
        Deno.env.delete("KUBERNETES_SERVICE_HOST");
        Deno.env.delete("KUBERNETES_SERVICE_PORT");
        Deno.removeSync(prefix, { recursive: true });
      }
    });

    await t.step("outside a pod and without -kubeconfig, the error says what to pass", async () => {
      await assert.rejects(
        () => createKube({}),
        /not running in a cluster \(KUBERNETES_SERVICE_HOST is unset\): pass -kubeconfig/,
      );
    });

    await t.step("a missing Secret or ConfigMap reads as undefined", async () => {
      assert.equal(await admin.readSecret("kt", "absent"), undefined);
      assert.equal(await admin.readConfigMap("kt", "absent"), undefined);
    });

    await t.step("a ConfigMap is read with its data", async () => {
      await cluster.apply([{
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "cfg", namespace: "kt" },
        data: { certificates: "- secret: x\n" },
      }]);
      const cm = await admin.readConfigMap("kt", "cfg");
      assert.deepEqual(cm?.data, { certificates: "- secret: x\n" });
      assert.match(cm?.uid ?? "", /^[0-9a-f-]{36}$/);
    });

    await t.step("a Secret round-trips its bytes; creating it twice is a 409", async () => {
      const created = await admin.createSecret({
        ...secret("s1", { a: "one" }),
        data: { bin: new Uint8Array([0, 255, 7]) },
      });
      assert.equal(created.name, "s1");
      const read = await admin.readSecret("kt", "s1");
      assert.deepEqual(read?.data, { bin: new Uint8Array([0, 255, 7]) });
      assert.equal(read?.type, "Opaque");
      await assert.rejects(() => admin.createSecret(secret("s1", {})), (err) => isKubeStatus(err, 409));
    });

    await t.step("an update merges data, labels and annotations and keeps the rest", async () => {
      await cluster.request("PATCH", "/api/v1/namespaces/kt/secrets/s1", {
        metadata: { labels: { user: "kept" }, annotations: { "user/note": "kept" } },
        data: { extra: btoa("user") },
      }, "application/merge-patch+json");
      const current = (await admin.readSecret("kt", "s1"))!;
      const updated = await admin.updateSecret({
        ...current,
        labels: { mine: "1" },
        annotations: { "notariat.io/x": "y" },
        data: { bin: text("new") },
      });
      assert.notEqual(updated.resourceVersion, current.resourceVersion);
      assert.deepEqual(updated.labels, { user: "kept", mine: "1" });
      assert.deepEqual(updated.annotations, { "user/note": "kept", "notariat.io/x": "y" });
      assert.deepEqual(Object.keys(updated.data).sort(), ["bin", "extra"]);
      assert.equal(new TextDecoder().decode(updated.data.bin), "new");
    });

    await t.step("an update against a stale resourceVersion is a 409 and changes nothing", async () => {
      const stale = (await admin.readSecret("kt", "s1"))!;
      await admin.updateSecret({ ...stale, data: { bin: text("first") } });
      await assert.rejects(
        () => admin.updateSecret({ ...stale, data: { bin: text("second") } }),
        (err) => isKubeStatus(err, 409) && /update Secret kt\/s1: 409/.test((err as Error).message),
      );
      assert.equal(new TextDecoder().decode((await admin.readSecret("kt", "s1"))!.data.bin), "first");
    });

    await t.step("a forbidden request is a KubeError 403 naming the object", async () => {
      const token = await cluster.mintToken("kt", "limited");
      const limited = await connect({ kubeconfig: cluster.kubeconfigFor(token, "kt") });
      assert.equal((await limited.readSecret("kt", "s1"))?.name, "s1");
      await assert.rejects(() => limited.readSecret("other", "s1"), (err) => {
        assert.ok(err instanceof KubeError);
        assert.equal(err.status, 403);
        assert.equal(err.kind, "kube");
        assert.match(err.message, /^get Secret other\/s1: 403 secrets "s1" is forbidden/);
        return true;
      });
    });

    await t.step("events are created on a subject and their count is bumped", async () => {
      const cm = (await admin.readConfigMap("kt", "cfg"))!;
      const first = new Date("2026-01-01T00:00:00Z");
      const name = await admin.createEvent({
        namespace: "kt",
        subject: { kind: "ConfigMap", apiVersion: "v1", namespace: "kt", name: "cfg", uid: cm.uid },
        type: "Warning",
        reason: "Failed",
        message: "certificates[0] (secret kt/x): failed",
        count: 1,
        firstTimestamp: first,
        lastTimestamp: first,
      });
      assert.match(name, /^cfg\./);
      await admin.updateEventCount("kt", name, 2, new Date("2026-01-01T00:01:00Z"));
      const event = (await cluster.request("GET", `/api/v1/namespaces/kt/events/${name}`)).body;
      assert.deepEqual(
        [event.involvedObject.name, event.involvedObject.uid, event.reason, event.type, event.count],
        ["cfg", cm.uid, "Failed", "Warning", 2],
      );
      assert.equal(event.lastTimestamp, "2026-01-01T00:01:00Z");
      assert.equal(event.source.component, "notariat");
    });

    await t.step(
      "a metadata list names every Secret with its version; a labelled list brings data",
      async () => {
        await admin.createSecret({ ...secret("listed-plain", { big: "x".repeat(200_000) }) });
        await admin.createSecret({
          ...secret("listed-managed", { "tls.crt": "pem" }),
          labels: { "app.kubernetes.io/managed-by": "notariat" },
        });
        const meta = await admin.listMetadata("secrets", "kt");
        const plain = meta.items.find((item) => item.name === "listed-plain");
        assert.ok(plain, "listed-plain is in the metadata list");
        assert.match(plain.resourceVersion, /^\d+$/);
        assert.equal(Object.hasOwn(plain, "data"), false);
        assert.match(meta.resourceVersion, /^\d+$/);
        const managed = await admin.listSecrets("kt", {
          labelSelector: "app.kubernetes.io/managed-by=notariat",
        });
        assert.deepEqual(managed.items.map((s) => s.name), ["listed-managed"]);
        assert.equal(new TextDecoder().decode(managed.items[0].data["tls.crt"]), "pem");
        const byName = await admin.listMetadata("secrets", "kt", {
          fieldSelector: "metadata.name=listed-plain",
        });
        assert.deepEqual(byName.items.map((item) => item.name), ["listed-plain"]);
      },
    );

    await t.step("lists of more than one page (500 objects) come back whole, at one version", async () => {
      await cluster.apply([{ apiVersion: "v1", kind: "Namespace", metadata: { name: "paged" } }]);
      const names = Array.from({ length: 620 }, (_, i) => `s-${String(i).padStart(3, "0")}`);
      for (let i = 0; i < names.length; i += 20) {
        await Promise.all(
          names.slice(i, i + 20).map((name, j) =>
            admin.createSecret({
              ...secret(name, { n: name }, "paged"),
              labels: (i + j) % 2 === 0 ? { "app.kubernetes.io/managed-by": "notariat" } : {},
            })
          ),
        );
      }
      const meta = await admin.listMetadata("secrets", "paged");
      assert.deepEqual(meta.items.map((item) => item.name).sort(), names);
      const managed = await admin.listSecrets("paged", {
        labelSelector: "app.kubernetes.io/managed-by=notariat",
      });
      assert.equal(managed.items.length, 310);
      assert.ok(managed.items.every((s) => new TextDecoder().decode(s.data.n) === s.name));
    });

    await t.step("list and watch: one sync, then each change in the namespace", async () => {
      const syncs: string[][] = [];
      const seen: string[] = [];
      const watch = listAndWatch(admin, "secrets", "other", {}, {
        sync: (items) => syncs.push([...items.keys()]),
        change: (type, item) => seen.push(`${type} ${item.name}`),
      });
      try {
        await until(() => syncs.length === 1, "the first sync");
        await admin.createSecret(secret("watched", { a: "1" }, "other"));
        await until(() => seen.length === 1, "ADDED");
        const current = (await admin.readSecret("other", "watched"))!;
        await admin.updateSecret({ ...current, data: { a: text("2") } });
        await until(() => seen.length === 2, "MODIFIED");
        await cluster.request("DELETE", "/api/v1/namespaces/other/secrets/watched");
        await until(() => seen.length === 3, "DELETED");
        assert.deepEqual(seen, ["ADDED watched", "MODIFIED watched", "DELETED watched"]);
        assert.equal(syncs.length, 1);
      } finally {
        watch.stop();
      }
    });

    await t.step("a dropped watch resumes from the last version without listing again", async () => {
      const syncs: number[] = [];
      const seen: string[] = [];
      let connections = 0;
      const dropping: Kube = {
        ...admin,
        async watchMetadata(resource, ns, selector, version, handlers) {
          connections++;
          const connection = await admin.watchMetadata(resource, ns, selector, version, handlers);
          // Drop the first connection soon after it opens, as a lost connection would.
          if (connections === 1) {
            setTimeout(() => {
              connection.abort();
              handlers.closed(new Error("connection reset"));
            }, 300);
          }
          return connection;
        },
      };
      await admin.createSecret(secret("resumed", { a: "1" }));
      const watch = listAndWatch(dropping, "secrets", "kt", {}, {
        sync: (items) => syncs.push(items.size),
        change: (type, item) => seen.push(`${type} ${item.name}`),
      }, { retryDelayMs: () => 100 });
      try {
        await until(() => connections === 2, "reconnect");
        const current = (await admin.readSecret("kt", "resumed"))!;
        await admin.updateSecret({ ...current, data: { a: text("2") } });
        await until(() => seen.length === 1, "MODIFIED after reconnect");
        assert.deepEqual(seen, ["MODIFIED resumed"]);
        assert.equal(syncs.length, 1);
        assert.equal(watch.health().failing, false);
      } finally {
        watch.stop();
      }
    });

    await t.step(
      "watches the API server ends after their timeout are reopened and keep reporting",
      async () => {
        const short = await connect({
          kubeconfig: cluster.kubeconfigFor(cluster.adminToken, "kt"),
          watchTimeoutSeconds: 1,
        });
        let connections = 0;
        const counting: Kube = {
          ...short,
          watchMetadata(...args) {
            connections++;
            return short.watchMetadata(...args);
          },
        };
        const seen: string[] = [];
        let syncs = 0;
        const opens: boolean[] = [];
        const watch = listAndWatch(counting, "secrets", "kt", { fieldSelector: "metadata.name=long-lived" }, {
          sync: () => syncs++,
          change: (type, item) => seen.push(`${type} ${item.name}`),
        }, { opened: (again) => opens.push(again) });
        try {
          await until(() => connections >= 4, "three server-ended watches reopened", 15_000);
          await admin.createSecret(secret("long-lived", { a: "1" }));
          await until(() => seen.length === 1, "ADDED on a reopened watch");
          await until(() => connections >= 6, "two more reopened", 15_000);
          const current = (await admin.readSecret("kt", "long-lived"))!;
          await admin.updateSecret({ ...current, data: { a: text("2") } });
          await until(() => seen.length === 2, "MODIFIED on a reopened watch");
          assert.deepEqual(seen, ["ADDED long-lived", "MODIFIED long-lived"]);
          assert.equal(syncs, 1, "a server-ended watch resumes; it does not list again");
          assert.equal(opens[0], false, "the first watch is no reconnect");
          assert.ok(opens.slice(1).length >= 5 && opens.slice(1).every((again) => again), "then each is");
        } finally {
          watch.stop();
        }
      },
    );

    await t.step(
      "a frozen API server (no answer, connections open) is noticed, and heard again after",
      async () => {
        const seen: string[] = [];
        const logs: string[] = [];
        const watch = listAndWatch(admin, "secrets", "kt", { fieldSelector: "metadata.name=frozen" }, {
          sync: () => {},
          change: (type, item) => seen.push(`${type} ${item.name}`),
        }, { log: (level, message) => logs.push(`${level} ${message}`) });
        // The API server is the second process the harness started (after etcd).
        const apiserver = cluster.pids[1];
        try {
          await until(() => logs.length === 0 && watch.health().failing === false, "the watch open", 5_000);
          await new Promise((r) => setTimeout(r, 500));
          Deno.kill(apiserver, "SIGSTOP");
          try {
            // No FIN, no RST: only the liveness check (GET /version unanswered for 5 s) can tell.
            await until(() => watch.health().failing, "the watch ended as failed", 20_000);
          } finally {
            Deno.kill(apiserver, "SIGCONT");
          }
          await until(() => !watch.health().failing, "the watch open again", 20_000);
          await admin.createSecret(secret("frozen", {}));
          await until(() => seen.includes("ADDED frozen"), "the change after the freeze", 10_000);
          assert.ok(logs.some((l) => l === "warn list or watch failed, retrying"), logs.join("\n"));
        } finally {
          watch.stop();
        }
      },
    );

    await t.step(
      "the account store creates once, reads back, and rejects a Secret without a key",
      async () => {
        const store = createKubeAccountStore(admin, "kt");
        assert.equal(await store.read("notariat-acme-x"), undefined);
        const info = { email: "ops@alpha.test", directoryUrl: "https://127.0.0.1:14000/dir" };
        assert.equal(await store.create("notariat-acme-x", KEY_PEM, info), true);
        assert.equal(
          await store.create("notariat-acme-x", "-----BEGIN PRIVATE KEY-----\nother", info),
          false,
        );
        assert.equal(await store.read("notariat-acme-x"), KEY_PEM);
        const stored = (await admin.readSecret("kt", "notariat-acme-x"))!;
        assert.equal(stored.type, "Opaque");
        assert.deepEqual(stored.labels, {
          "app.kubernetes.io/managed-by": "notariat",
          "app.kubernetes.io/component": "acme-account",
        });
        assert.deepEqual(stored.annotations, {
          "notariat.io/acme-email": "ops@alpha.test",
          "notariat.io/acme-directory": "https://127.0.0.1:14000/dir",
        });
        await admin.createSecret(secret("notariat-acme-broken", { "account.key": "not a key" }));
        await assert.rejects(
          () => store.read("notariat-acme-broken"),
          /ACME account Secret kt\/notariat-acme-broken has no PEM private key under account\.key/,
        );
      },
    );
  } finally {
    for (const kube of clients) await kube.close();
    await cluster.stop();
  }
});
