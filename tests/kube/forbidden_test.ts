import assert from "node:assert/strict";
import { grantHint, parseDenied } from "../../src/kube/forbidden.ts";

Deno.test("a denied write of a named Secret names the verb, the object and the commands that grant it", () => {
  const denied = parseDenied(
    'secrets "site-tls" is forbidden: User "system:serviceaccount:notariat:notariat" cannot patch resource ' +
      '"secrets" in API group "" in the namespace "web"',
  );
  assert.deepEqual(denied, {
    user: "system:serviceaccount:notariat:notariat",
    verb: "patch",
    resource: "secrets",
    group: "",
    namespace: "web",
    name: "site-tls",
  });
  assert.equal(
    grantHint(denied!),
    'missing permission: service account notariat:notariat may not patch secrets "site-tls" in namespace web; ' +
      "to grant it: kubectl -n web create role notariat-patch-secrets --verb=patch --resource=secrets " +
      "--resource-name=site-tls && kubectl -n web create rolebinding notariat-patch-secrets " +
      "--role=notariat-patch-secrets --serviceaccount=notariat:notariat (manifests/ grant Secrets per namespace " +
      "with: kubectl -n web create rolebinding notariat-secrets --clusterrole=notariat-secrets " +
      "--serviceaccount=notariat:notariat)",
  );
});

Deno.test("create is granted without a resource name; an API group goes into --resource", () => {
  const denied = parseDenied(
    'leases.coordination.k8s.io is forbidden: User "system:serviceaccount:ns:sa" cannot create resource ' +
      '"leases" in API group "coordination.k8s.io" in the namespace "ns"',
  );
  assert.equal(denied?.name, undefined);
  assert.equal(
    grantHint(denied!),
    "missing permission: service account ns:sa may not create leases.coordination.k8s.io in namespace ns; " +
      "to grant it: kubectl -n ns create role notariat-create-leases --verb=create " +
      "--resource=leases.coordination.k8s.io && kubectl -n ns create rolebinding notariat-create-leases " +
      "--role=notariat-create-leases --serviceaccount=ns:sa",
  );
});

Deno.test("a cluster-scope denial suggests a ClusterRole; other messages are not guessed at", () => {
  const denied = parseDenied(
    'namespaces is forbidden: User "alice" cannot list resource "namespaces" in API group "" at the cluster scope',
  );
  assert.match(
    grantHint(denied!),
    /^missing permission: user alice may not list namespaces at the cluster scope;/,
  );
  assert.match(
    grantHint(denied!),
    /kubectl create clusterrolebinding notariat-list-namespaces .* --user=alice$/,
  );
  assert.equal(parseDenied("Unauthorized"), undefined);
});
