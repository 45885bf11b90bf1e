import assert from "node:assert/strict";
import { decodeRecord, encodeRecord, type JournalRecord, planSweep } from "../../src/dns/journal.ts";

const server = { host: "127.0.0.1", port: 5300 };
const at = new Date("2026-01-01T00:00:00Z");

function record(id: string, keySecret: string, values: [string, string, string][]): JournalRecord {
  return {
    id,
    keySecret,
    recordedAt: at,
    values: values.map(([zone, owner, value]) => ({ zone, server, owner, value })),
  };
}

Deno.test("a record survives its stored form; anything else is not taken for one", () => {
  const r = record("r-1", "dns/tsig", [["alpha.test", "_acme-challenge.a.alpha.test", "v"]]);
  assert.deepEqual(decodeRecord("r-1", encodeRecord(r)), r);
  for (const bad of ["", "{}", "[1]", '{"keySecret":"k","recordedAt":"x","values":[{"zone":1}]}']) {
    assert.equal(decodeRecord("r-1", bad), undefined, bad);
  }
});

Deno.test("a sweep deletes every leftover, one UPDATE per key, zone and server, each value once", () => {
  const plan = planSweep([
    record("r-1", "dns/a", [["alpha.test", "_acme-challenge.x.alpha.test", "1"], [
      "beta.test",
      "_acme-challenge.y.beta.test",
      "2",
    ]]),
    record("r-2", "dns/a", [["alpha.test", "_acme-challenge.x.alpha.test", "1"], [
      "alpha.test",
      "_acme-challenge.z.alpha.test",
      "3",
    ]]),
    record("r-3", "dns/b", [["alpha.test", "_acme-challenge.x.alpha.test", "4"]]),
  ], new Set());
  assert.deepEqual(plan.forgetNow, []);
  assert.deepEqual(
    plan.batches.map((b) => [b.keySecret, b.zone, b.values.map((v) => v.value), b.recordIds]),
    [
      ["dns/a", "alpha.test", ["1", "3"], ["r-1", "r-2"]],
      ["dns/a", "beta.test", ["2"], ["r-1"]],
      ["dns/b", "alpha.test", ["4"], ["r-3"]],
    ],
  );
});

Deno.test("records in flight are left out, and so are their values in leftovers", () => {
  const plan = planSweep([
    record("held", "dns/a", [["alpha.test", "_acme-challenge.x.alpha.test", "same"]]),
    record("old", "dns/a", [["alpha.test", "_acme-challenge.X.alpha.test.", "same"]]),
    record("older", "dns/a", [["alpha.test", "_acme-challenge.x.alpha.test", "other"]]),
  ], new Set(["held"]));
  assert.deepEqual(plan.forgetNow, ["old"]);
  assert.deepEqual(plan.batches.map((b) => [b.values.map((v) => v.value), b.recordIds]), [[["other"], [
    "older",
  ]]]);
});

Deno.test("a sweep for some names takes only the records with a value there", () => {
  const records = [
    record("r-1", "dns/a", [["alpha.test", "_acme-challenge.x.alpha.test", "1"], [
      "beta.test",
      "_acme-challenge.y.beta.test",
      "2",
    ]]),
    record("r-2", "dns/a", [["alpha.test", "_acme-challenge.z.alpha.test", "3"]]),
  ];
  const plan = planSweep(records, new Set(), ["_acme-challenge.Y.beta.test."]);
  assert.deepEqual(plan.batches.flatMap((b) => b.recordIds), ["r-1", "r-1"]);
  assert.deepEqual(plan.batches.flatMap((b) => b.values.map((v) => v.value)), ["1", "2"]);
  assert.deepEqual(planSweep(records, new Set(), ["_acme-challenge.q.alpha.test"]), {
    batches: [],
    forgetNow: [],
  });
});
