import assert from "node:assert/strict";
import { NotariatError } from "../../src/errors.ts";
import { resolveNamespace } from "../../src/kube/namespace.ts";

Deno.test("the flag wins over the pod's namespace file and the kubeconfig context", () => {
  assert.equal(
    resolveNamespace({ flag: "flag-ns", podNamespaceFile: "pod-ns", contextNamespace: "ctx-ns" }),
    "flag-ns",
  );
});

Deno.test("the pod's namespace file wins over the kubeconfig context, trimmed", () => {
  assert.equal(resolveNamespace({ podNamespaceFile: "pod-ns\n", contextNamespace: "ctx-ns" }), "pod-ns");
});

Deno.test("the kubeconfig context's namespace is used last", () => {
  assert.equal(resolveNamespace({ flag: "", contextNamespace: "ctx-ns" }), "ctx-ns");
});

Deno.test("no namespace anywhere is a clear usage error", () => {
  assert.throws(() => resolveNamespace({}), (err: unknown) => {
    assert.ok(err instanceof NotariatError);
    assert.equal(err.kind, "usage");
    assert.match(err.message, /^no namespace: pass -namespace/);
    return true;
  });
});

Deno.test("an invalid namespace name is rejected naming its origin", () => {
  assert.throws(
    () => resolveNamespace({ flag: "Bad_NS" }),
    /namespace "Bad_NS" from -namespace is not a valid namespace name/,
  );
});
