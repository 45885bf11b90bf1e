/**
 * Installing notariat the way the README says: `kubectl apply -k` of manifests/ and of each overlay against a
 * real kube-apiserver (kubectl's built-in kustomize renders them), then the real program issuing under exactly
 * the service account and RBAC each overlay sets up. Taking one verb away makes the entry fail with the
 * missing permission and the kubectl commands that grant it; running those commands makes it work again.
 */
import assert from "node:assert/strict";
import { loadAll } from "js-yaml";
import { verifyChain } from "../../src/pki/certificate.ts";
import { certificatesConfigMap, type Json, tsigSecret, unb64 } from "../harness/cluster_objects.ts";
import { localStackFlags, notariatCommand } from "../harness/program.ts";
import { startStack } from "../harness/stack.ts";

const MANIFESTS = new URL("../../manifests/", import.meta.url).pathname;

/** kubectl with `kubeconfig`; resolves with its exit code and output. */
async function kubectl(kubeconfig: string, args: string[]): Promise<{ code: number; out: string }> {
  const result = await new Deno.Command("kubectl", {
    args: ["--kubeconfig", kubeconfig, ...args],
    stdout: "piped",
    stderr: "piped",
    env: { HOME: Deno.makeTempDirSync({ prefix: "notariat-kubectl-" }) },
  }).output();
  const text = new TextDecoder();
  return { code: result.code, out: text.decode(result.stdout) + text.decode(result.stderr) };
}

/** The objects `kubectl kustomize DIR` renders. */
async function render(dir: string): Promise<Json[]> {
  const result = await new Deno.Command("kubectl", { args: ["kustomize", dir], stdout: "piped" }).output();
  assert.equal(result.code, 0, `kubectl kustomize ${dir}`);
  return loadAll(new TextDecoder().decode(result.stdout)) as Json[];
}

Deno.test("kubectl apply -k installs the base and each overlay; notariat issues with exactly their RBAC", async (t) => {
  const stack = await startStack();
  const { cluster, knot, pebble } = stack;
  const admin = cluster.adminKubeconfig;
  const dns = `127.0.0.1:${knot.address.port}`;
  const tsigText = knot.keys["hmac-sha256"].text;
  const root = await pebble.issuingRoot();
  try {
    const tsig = (namespace: string) => tsigSecret(tsigText, dns, { namespace });
    const configMap = (namespace: string, name: string, entries: unknown[]) =>
      certificatesConfigMap(entries, { namespace, name });
    const entry = (secret: string, domain: string) => ({
      secret,
      domains: [domain],
      email: "ops@alpha.test",
      tsigSecretName: "tsig",
    });
    /** notariat -once under `serviceAccount`'s token; its exit code and log. */
    const runOnce = async (
      namespace: string,
      serviceAccount: string,
      config: string,
      extra: string[] = [],
    ) => {
      const token = await cluster.mintToken(namespace, serviceAccount);
      const out = await notariatCommand([
        "-once",
        "-config",
        config,
        ...localStackFlags({ kubeconfig: cluster.kubeconfigFor(token, namespace), pebble, dns }),
        ...extra,
      ], { stdout: "piped", stderr: "piped" }).output();
      const log = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      assert.ok(!log.includes(token), "the token is not logged");
      return { code: out.code, log };
    };
    const assertCertificate = async (namespace: string, name: string) => {
      const { status, body } = await cluster.request(
        "GET",
        `/api/v1/namespaces/${namespace}/secrets/${name}`,
      );
      assert.equal(status, 200, `Secret ${namespace}/${name} exists`);
      assert.equal(await verifyChain(unb64(body.data["tls.crt"]), root), true);
    };

    await t.step("kubectl apply -k manifests/ works on the first try", async () => {
      const applied = await kubectl(admin, ["apply", "-k", MANIFESTS]);
      assert.equal(applied.code, 0, applied.out);
      for (
        const path of [
          "/api/v1/namespaces/notariat",
          "/apis/apps/v1/namespaces/notariat/deployments/notariat",
        ]
      ) {
        assert.equal((await cluster.request("GET", path)).status, 200, path);
      }
      const deployment = (await render(MANIFESTS)).find((o) => o.kind === "Deployment");
      assert.equal(
        deployment.spec.template.spec.containers[0].image,
        "notariat:latest",
        "images: sets the image",
      );
    });

    await t.step("the base's service account issues in its namespace", async () => {
      await cluster.apply([
        tsig("notariat"),
        configMap("notariat", "notariat", [entry("base-tls", "base.alpha.test")]),
      ]);
      const { code, log } = await runOnce("notariat", "notariat", "notariat");
      assert.equal(code, 0, log);
      await assertCertificate("notariat", "base-tls");
    });

    await t.step(
      "ingress-controller overlay: the ingress controller's service account, -config notariat-config",
      async () => {
        const dir = `${MANIFESTS}overlays/ingress-controller`;
        const objects = await render(dir);
        const deployment = objects.find((o) => o.kind === "Deployment");
        const args: string[] = deployment.spec.template.spec.containers[0].args;
        const config = args[args.indexOf("-config") + 1];
        assert.equal(config, "notariat-config");
        assert.ok(
          args.includes("https://acme-v02.api.letsencrypt.org/directory"),
          "the production CA is shown",
        );
        const role = objects.find((o) => o.kind === "Role");
        const configRule = role.rules.find((r: Json) => r.resources.includes("configmaps"));
        assert.deepEqual(configRule.resourceNames, [config], "the Role's ConfigMap follows -config");
        assert.equal(deployment.metadata.namespace, "haproxy-controller");
        assert.equal(deployment.spec.template.spec.serviceAccountName, "haproxy-kubernetes-ingress");
        assert.ok(!objects.some((o) => o.kind === "Namespace" || o.kind === "ServiceAccount"));

        // What the HAProxy ingress controller's own installation creates.
        await cluster.apply([
          { apiVersion: "v1", kind: "Namespace", metadata: { name: "haproxy-controller" } },
          {
            apiVersion: "v1",
            kind: "ServiceAccount",
            metadata: { namespace: "haproxy-controller", name: "haproxy-kubernetes-ingress" },
          },
        ]);
        const applied = await kubectl(admin, ["apply", "-k", dir]);
        assert.equal(applied.code, 0, applied.out);
        await cluster.apply([
          tsig("haproxy-controller"),
          configMap("haproxy-controller", "notariat-config", [entry("ingress-tls", "ingress.alpha.test")]),
        ]);
        // With -leader-elect as the Deployment runs it: the Lease permissions are exercised too.
        const { code, log } = await runOnce("haproxy-controller", "haproxy-kubernetes-ingress", config, [
          "-leader-elect",
        ]);
        assert.equal(code, 0, log);
        assert.match(log, /leader election: leading/);
        await assertCertificate("haproxy-controller", "ingress-tls");
      },
    );

    await t.step(
      "cluster-wide overlay: Secrets of any namespace through the ClusterRoleBinding",
      async () => {
        // Only the ClusterRoleBinding may grant the new namespace: drop the base's per-namespace binding.
        const removed = await cluster.request(
          "DELETE",
          "/apis/rbac.authorization.k8s.io/v1/namespaces/notariat/rolebindings/notariat-secrets",
        );
        assert.equal(removed.status, 200);
        const applied = await kubectl(admin, ["apply", "-k", `${MANIFESTS}overlays/cluster-wide`]);
        assert.equal(applied.code, 0, applied.out);
        await cluster.apply([
          { apiVersion: "v1", kind: "Namespace", metadata: { name: "apps" } },
          configMap("notariat", "notariat", [entry("apps/wide-tls", "wide.alpha.test")]),
        ]);
        const { code, log } = await runOnce("notariat", "notariat", "notariat");
        assert.equal(code, 0, log);
        await assertCertificate("apps", "wide-tls");
      },
    );

    await t.step(
      "without 'create' on Secrets the entry fails naming the permission and the command that grants it",
      async () => {
        const clusterRole = (await render(MANIFESTS)).find((o) => o.kind === "ClusterRole");
        const verbs: string[] = clusterRole.rules[0].verbs;
        await cluster.apply([{
          ...clusterRole,
          rules: [{ ...clusterRole.rules[0], verbs: verbs.filter((v) => v !== "create") }],
        }]);
        await cluster.apply([
          { apiVersion: "v1", kind: "Namespace", metadata: { name: "shop" } },
          configMap("notariat", "notariat", [entry("shop/shop-tls", "shop.alpha.test")]),
        ]);
        const failed = await runOnce("notariat", "notariat", "notariat");
        assert.equal(failed.code, 1);
        const line = failed.log.split("\n").find((l) => l.includes("certificate failed"));
        assert.ok(line, failed.log);
        const error: string = JSON.parse(line).error;
        assert.match(
          error,
          /missing permission: service account notariat:notariat may not create secrets in namespace shop/,
        );
        const command = /to grant it: (kubectl .*?)(?: \(manifests|$)/.exec(error)?.[1];
        assert.ok(command?.includes("kubectl -n shop create rolebinding"), error);

        // The operator runs what the message says, and the next run issues.
        for (const part of command!.split(" && ")) {
          const granted = await kubectl(admin, part.split(" ").slice(1));
          assert.equal(granted.code, 0, `${part}: ${granted.out}`);
        }
        const fixed = await runOnce("notariat", "notariat", "notariat");
        assert.equal(fixed.code, 0, fixed.log);
        await assertCertificate("shop", "shop-tls");
        await cluster.apply([clusterRole]);
      },
    );

    await t.step(
      "without 'get' on its ConfigMap the run fails naming the permission and the command",
      async () => {
        const role = (await render(MANIFESTS)).find((o) => o.kind === "Role");
        await cluster.apply([{
          ...role,
          rules: role.rules.map((r: Json) =>
            r.resources.includes("configmaps")
              ? { ...r, verbs: r.verbs.filter((v: string) => v !== "get") }
              : r
          ),
        }]);
        const failed = await runOnce("notariat", "notariat", "notariat");
        assert.equal(failed.code, 1);
        assert.match(
          failed.log,
          /missing permission: service account notariat:notariat may not get configmaps \\"notariat\\" in namespace notariat; to grant it: kubectl -n notariat create role notariat-get-configmaps --verb=get --resource=configmaps --resource-name=notariat && kubectl -n notariat create rolebinding notariat-get-configmaps --role=notariat-get-configmaps --serviceaccount=notariat:notariat/,
        );
        await cluster.apply([role]);
      },
    );

    await t.step(
      "notariat status: one line per entry with its state, expiry, next renewal and last reason",
      async () => {
        await cluster.apply([configMap("notariat", "notariat", [
          entry("shop/shop-tls", "shop.alpha.test"),
          { ...entry("shop/nokey-tls", "nokey.alpha.test"), tsigSecretName: "absent" },
          { ...entry("bad-tls", "not a domain") },
        ])]);
        assert.equal((await runOnce("notariat", "notariat", "notariat")).code, 1);
        const out = await notariatCommand([
          "status",
          "-kubeconfig",
          admin,
          "-namespace",
          "notariat",
          "-config",
          "notariat",
        ], {
          stdout: "piped",
          stderr: "piped",
        }).output();
        const text = new TextDecoder().decode(out.stdout);
        assert.equal(out.code, 1, "not every entry is Ready");
        const [header, ...lines] = text.trimEnd().split("\n");
        assert.match(header, /^SECRET +DOMAINS +CHALLENGE +STATE +NOT AFTER +NEXT RENEWAL +REASON +MESSAGE$/);
        const columns = (line: string) => line.split(/ {2,}/);
        const bySecret = new Map(lines.map((line) => [columns(line)[0], columns(line)]));
        const shop = bySecret.get("shop/shop-tls")!;
        assert.equal(shop[1], "shop.alpha.test");
        assert.equal(shop[2], "dns-01");
        assert.equal(shop[3], "Ready");
        assert.match(shop[4], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
        assert.match(shop[5], /^\d{4}-\d\d-\d\dT/);
        assert.equal(shop[6], "Issued", "the latest Event about it");
        const failed = bySecret.get("shop/nokey-tls")!;
        assert.equal(failed[3], "Failed");
        assert.equal(failed[6], "Failed");
        assert.match(failed[7], /absent/, "the message names the missing TSIG Secret");
        const invalid = bySecret.get("notariat/bad-tls")!;
        assert.equal(invalid[2], "-");
        assert.equal(invalid[3], "Invalid");
        assert.match(invalid[7], /domains\[0\]/);
      },
    );
  } finally {
    await stack.stop();
  }
});
