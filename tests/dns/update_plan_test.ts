/**
 * Which values go into which UPDATE, with plain values and no server: per zone, server and key; concurrent
 * orders' values for one zone in one message; a removal that deletes exactly what was added.
 */
import assert from "node:assert/strict";
import type { ServerAddress, TsigKey } from "../../src/dns/types.ts";
import type { PlacedValue } from "../../src/dns/update.ts";
import { MAX_VALUES_PER_UPDATE, planUpdates, updateGroup } from "../../src/dns/update_plan.ts";

const primary: ServerAddress = { host: "127.0.0.1", port: 5301 };
const other: ServerAddress = { host: "127.0.0.2", port: 5301 };

function key(name: string, byte = 1): TsigKey {
  return { algorithm: "hmac-sha256", name, secret: new Uint8Array(32).fill(byte) };
}

const k1 = key("k1");

function at(owner: string, zone: string, value: string, server = primary): PlacedValue {
  return { owner, zone, server, value };
}

/** Each message as [operation, server, zone, key name, "owner=value"...], to compare at a glance. */
function summary(messages: ReturnType<typeof planUpdates>): string[][] {
  return messages.map((m) => [
    m.operation,
    `${m.server.host}:${m.server.port}`,
    m.zone,
    m.key.name,
    ...m.values.map((v) => `${v.owner}=${v.value}`),
  ]);
}

Deno.test("one order over two zones: one message per zone, in order of first appearance", () => {
  const messages = planUpdates("add", [{
    key: k1,
    values: [
      at("_acme-challenge.a.beta.test", "beta.test", "va"),
      at("_acme-challenge.b.alpha.test", "alpha.test", "vb"),
      at("_acme-challenge.c.beta.test", "beta.test", "vc"),
    ],
  }]);
  assert.deepEqual(summary(messages), [
    [
      "add",
      "127.0.0.1:5301",
      "beta.test",
      "k1",
      "_acme-challenge.a.beta.test=va",
      "_acme-challenge.c.beta.test=vc",
    ],
    ["add", "127.0.0.1:5301", "alpha.test", "k1", "_acme-challenge.b.alpha.test=vb"],
  ]);
});

Deno.test("concurrent orders for one zone with one key and server share one message", () => {
  const messages = planUpdates("add", [
    { key: k1, values: [at("_acme-challenge.o1.alpha.test", "alpha.test", "v1")] },
    { key: k1, values: [at("_acme-challenge.o2.alpha.test", "alpha.test", "v2")] },
    { key: key("k1"), values: [at("_acme-challenge.o3.alpha.test", "ALPHA.test.", "v3")] },
  ]);
  assert.deepEqual(summary(messages), [
    [
      "add",
      "127.0.0.1:5301",
      "alpha.test",
      "k1",
      "_acme-challenge.o1.alpha.test=v1",
      "_acme-challenge.o2.alpha.test=v2",
      "_acme-challenge.o3.alpha.test=v3",
    ],
  ]);
});

Deno.test("a wildcard and its apex: two values at one name, both in the message; a repeated value once", () => {
  const name = "_acme-challenge.x.alpha.test";
  const messages = planUpdates("add", [{
    key: k1,
    values: [
      at(name, "alpha.test", "for-apex"),
      at(name, "alpha.test", "for-wildcard"),
      at(name.toUpperCase(), "alpha.test", "for-apex"),
    ],
  }]);
  assert.deepEqual(summary(messages), [
    ["add", "127.0.0.1:5301", "alpha.test", "k1", `${name}=for-apex`, `${name}=for-wildcard`],
  ]);
});

Deno.test("a removal deletes exactly the values that were added, and no other order's", () => {
  const name = "_acme-challenge.shared.alpha.test";
  const mine = [at(name, "alpha.test", "mine"), at("_acme-challenge.b.beta.test", "beta.test", "b")];
  const theirs = [at(name, "alpha.test", "theirs")];
  const added = planUpdates("add", [{ key: k1, values: mine }, { key: k1, values: theirs }]);
  assert.deepEqual(summary(added).map((m) => m.slice(4)), [[`${name}=mine`, `${name}=theirs`], [
    "_acme-challenge.b.beta.test=b",
  ]]);
  const removed = planUpdates("delete", [{ key: k1, values: mine }]);
  assert.deepEqual(summary(removed), [
    ["delete", "127.0.0.1:5301", "alpha.test", "k1", `${name}=mine`],
    ["delete", "127.0.0.1:5301", "beta.test", "k1", "_acme-challenge.b.beta.test=b"],
  ]);
  const alone = planUpdates("add", [{ key: k1, values: mine }]);
  assert.deepEqual(
    removed,
    alone.map((m) => ({ ...m, operation: "delete" })),
    "the deletes are the adds of the same values, operation aside",
  );
});

Deno.test("values for one zone signed by different keys, or sent to different servers, are never merged", () => {
  const value = (n: string, server = primary) =>
    at(`_acme-challenge.${n}.alpha.test`, "alpha.test", n, server);
  const messages = planUpdates("add", [
    { key: k1, values: [value("a")] },
    { key: key("k2"), values: [value("b")] },
    // Same name and algorithm, another secret: another key as far as the server's ACL is concerned.
    { key: key("k1", 2), values: [value("c")] },
    { key: { ...k1, algorithm: "hmac-sha512" }, values: [value("d")] },
    { key: k1, values: [value("e", other)] },
    { key: k1, values: [value("f")] },
  ]);
  assert.deepEqual(summary(messages), [
    [
      "add",
      "127.0.0.1:5301",
      "alpha.test",
      "k1",
      "_acme-challenge.a.alpha.test=a",
      "_acme-challenge.f.alpha.test=f",
    ],
    ["add", "127.0.0.1:5301", "alpha.test", "k2", "_acme-challenge.b.alpha.test=b"],
    ["add", "127.0.0.1:5301", "alpha.test", "k1", "_acme-challenge.c.alpha.test=c"],
    ["add", "127.0.0.1:5301", "alpha.test", "k1", "_acme-challenge.d.alpha.test=d"],
    ["add", "127.0.0.2:5301", "alpha.test", "k1", "_acme-challenge.e.alpha.test=e"],
  ]);
  assert.equal(messages[2].key.secret[0], 2);
  assert.equal(messages[3].key.algorithm, "hmac-sha512");
});

Deno.test("adds and deletes of the same values are different groups", () => {
  const update = { server: primary, zone: "alpha.test", key: k1 };
  assert.notEqual(
    updateGroup({ ...update, operation: "add" }),
    updateGroup({ ...update, operation: "delete" }),
  );
});

Deno.test("a group names the key by a hash of its secret, never the secret itself", () => {
  const secret = new Uint8Array(32).map((_, i) => i + 65);
  const group = updateGroup({
    operation: "add",
    server: primary,
    zone: "alpha.test",
    key: { ...k1, secret },
  });
  for (const form of [new TextDecoder().decode(secret), btoa(String.fromCharCode(...secret))]) {
    assert.ok(!group.includes(form.slice(0, 8)), `group '${group}' shows the secret`);
  }
  assert.ok(!group.includes(Array.from(secret, (b) => b.toString(16).padStart(2, "0")).join("")));
});

Deno.test("a message is closed at the size limit, and one order's values for a zone are never split", () => {
  const values = (prefix: string, n: number) =>
    Array.from({ length: n }, (_, i) => at(`_acme-challenge.${prefix}${i}.alpha.test`, "alpha.test", "v"));
  const half = MAX_VALUES_PER_UPDATE / 2;
  const messages = planUpdates("add", [
    { key: k1, values: values("a", half) },
    { key: k1, values: values("b", half) },
    { key: k1, values: values("c", 1) },
    { key: k1, values: values("d", MAX_VALUES_PER_UPDATE) },
    { key: k1, values: values("e", MAX_VALUES_PER_UPDATE + 1) },
  ]);
  assert.deepEqual(messages.map((m) => m.values.length), [
    MAX_VALUES_PER_UPDATE,
    1,
    MAX_VALUES_PER_UPDATE,
    MAX_VALUES_PER_UPDATE + 1,
  ]);
  assert.equal(messages[1].values[0].owner, "_acme-challenge.c0.alpha.test");
});
