import assert from "node:assert/strict";
import { buildTxtUpdate, CHALLENGE_TTL_SECONDS } from "../../src/dns/update.ts";
import { Opcode, RecordClass, RecordType } from "../../src/dns/wire.ts";

const values = [
  { owner: "_acme-challenge.X.alpha.test.", value: "v1" },
  { owner: "_acme-challenge.x.alpha.test", value: "v2" },
];

Deno.test("an add puts each value in class IN with the challenge TTL under the zone's SOA question", () => {
  const m = buildTxtUpdate("Alpha.test", "add", values);
  assert.equal(m.header.opcode, Opcode.UPDATE);
  assert.deepEqual(m.questions, [{ name: "alpha.test", type: RecordType.SOA, class: RecordClass.IN }]);
  assert.deepEqual(m.answers, []);
  assert.deepEqual(m.authority, [
    {
      name: "_acme-challenge.x.alpha.test",
      type: RecordType.TXT,
      class: RecordClass.IN,
      ttl: CHALLENGE_TTL_SECONDS,
      data: { kind: "txt", strings: ["v1"] },
    },
    {
      name: "_acme-challenge.x.alpha.test",
      type: RecordType.TXT,
      class: RecordClass.IN,
      ttl: CHALLENGE_TTL_SECONDS,
      data: { kind: "txt", strings: ["v2"] },
    },
  ]);
});

Deno.test("a delete names each value in class NONE with TTL 0, never the whole RRset", () => {
  const m = buildTxtUpdate("alpha.test", "delete", values);
  assert.deepEqual(m.authority.map((rr) => [rr.class, rr.ttl, rr.data]), [
    [RecordClass.NONE, 0, { kind: "txt", strings: ["v1"] }],
    [RecordClass.NONE, 0, { kind: "txt", strings: ["v2"] }],
  ]);
});

Deno.test("a value longer than 255 bytes is split into character-strings", () => {
  const m = buildTxtUpdate("alpha.test", "add", [{ owner: "a.alpha.test", value: "x".repeat(300) }]);
  assert.deepEqual(m.authority[0].data, { kind: "txt", strings: ["x".repeat(255), "x".repeat(45)] });
});
