import assert from "node:assert/strict";
import {
  answersRequest,
  decodeMessage,
  encodeMessage,
  encodeName,
  isSubdomain,
  type Message,
  Opcode,
  RecordClass,
  RecordType,
  WireError,
} from "../../src/dns/wire.ts";

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function fromHex(text: string): Uint8Array {
  return Uint8Array.from(text.trim().match(/../g)!.map((h) => parseInt(h, 16)));
}

const update: Message = {
  header: {
    id: 0x1234,
    response: false,
    opcode: Opcode.UPDATE,
    authoritative: false,
    truncated: false,
    recursionDesired: false,
    recursionAvailable: false,
    rcode: 0,
  },
  questions: [{ name: "alpha.test", type: RecordType.SOA, class: RecordClass.IN }],
  answers: [],
  authority: [
    {
      name: "_acme-challenge.alpha.test",
      type: RecordType.TXT,
      class: RecordClass.IN,
      ttl: 60,
      data: { kind: "txt", strings: ["v1"] },
    },
    {
      name: "_acme-challenge.alpha.test",
      type: RecordType.TXT,
      class: RecordClass.NONE,
      ttl: 0,
      data: { kind: "txt", strings: ["v2"] },
    },
  ],
  additional: [],
};

Deno.test("encodes an UPDATE with opcode 5 in the flags and class NONE for a single-value delete", () => {
  const bytes = encodeMessage(update);
  assert.equal(
    hex(bytes),
    "1234" + "2800" + "0001" + "0000" + "0002" + "0000" +
      "05616c7068610474657374" + "00" + "0006" + "0001" +
      "0f5f61636d652d6368616c6c656e676505616c706861047465737400" + "0010" + "0001" + "0000003c" + "0003" +
      "027631" +
      "0f5f61636d652d6368616c6c656e676505616c706861047465737400" + "0010" + "00fe" + "00000000" + "0003" +
      "027632",
  );
});

Deno.test("decodes what it encodes", () => {
  const decoded = decodeMessage(encodeMessage(update));
  assert.deepEqual({ ...decoded }, update);
});

Deno.test("follows compression pointers and decodes SOA, CNAME, A, AAAA and multi-string TXT", () => {
  const response: Message = {
    header: { ...update.header, response: true, opcode: Opcode.QUERY, authoritative: true, rcode: 3 },
    questions: [{ name: "x.alpha.test", type: RecordType.A, class: RecordClass.IN }],
    answers: [
      {
        name: "x.alpha.test",
        type: RecordType.CNAME,
        class: 1,
        ttl: 5,
        data: { kind: "name", target: "y.alpha.test" },
      },
      {
        name: "y.alpha.test",
        type: RecordType.AAAA,
        class: 1,
        ttl: 5,
        data: { kind: "aaaa", address: "2001:db8::1" },
      },
      {
        name: "y.alpha.test",
        type: RecordType.A,
        class: 1,
        ttl: 5,
        data: { kind: "a", address: "192.0.2.7" },
      },
      {
        name: "y.alpha.test",
        type: RecordType.TXT,
        class: 1,
        ttl: 5,
        data: { kind: "txt", strings: ["ab", "cd"] },
      },
    ],
    authority: [{
      name: "alpha.test",
      type: RecordType.SOA,
      class: 1,
      ttl: 60,
      data: {
        kind: "soa",
        mname: "ns1.alpha.test",
        rname: "hostmaster.alpha.test",
        serial: 4000000000,
        refresh: 3600,
        retry: 600,
        expire: 86400,
        minimum: 60,
      },
    }],
    additional: [],
  };
  // Replace the second owner "x.alpha.test" by a pointer to the question's name at offset 12.
  const plain = encodeMessage(response);
  const owner = encodeName("x.alpha.test");
  const at = plain.indexOf(owner[0], 12 + owner.length + 4);
  assert.equal(hex(plain.subarray(at, at + owner.length)), hex(owner));
  const compressed = new Uint8Array([
    ...plain.subarray(0, at),
    0xc0,
    12,
    ...plain.subarray(at + owner.length),
  ]);
  assert.deepEqual({ ...decodeMessage(compressed) }, response);
});

Deno.test("rejects a compression loop, a truncated message and trailing bytes", () => {
  const header = [0, 1, 0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0];
  assert.throws(
    () => decodeMessage(Uint8Array.from([...header, 0xc0, 12, 0, 1, 0, 1])),
    /compression pointer loop/,
  );
  assert.throws(() => decodeMessage(Uint8Array.from(header.slice(0, 10))), WireError);
  assert.throws(
    () => decodeMessage(Uint8Array.from([...header, 0, 0, 1, 0, 1, 9])),
    /1 bytes after the last record/,
  );
});

Deno.test("rejects labels longer than 63 bytes and names longer than 255", () => {
  assert.throws(() => encodeName(`${"a".repeat(64)}.test`), /label of 64 bytes/);
  assert.throws(() => encodeName(Array(130).fill("a").join(".")), /allowed 255/);
  assert.equal(hex(encodeName("")), "00");
  assert.equal(hex(encodeName("A.b.")), "0141016200");
});

Deno.test("a response answers a request only with the same id, QR set and the same question", () => {
  const request = encodeMessage({ ...update, authority: [] });
  const response = (patch: (m: Message) => void) => {
    const m: Message = structuredClone({ ...update, authority: [] });
    m.header.response = true;
    patch(m);
    return encodeMessage(m);
  };
  assert.equal(answersRequest(request, response(() => {})), true);
  assert.equal(answersRequest(request, response((m) => m.questions[0].name = "ALPHA.test")), true);
  assert.equal(answersRequest(request, response((m) => m.questions = [])), true);
  assert.equal(answersRequest(request, response((m) => m.header.id = 0x1235)), false);
  assert.equal(answersRequest(request, response((m) => m.header.response = false)), false);
  assert.equal(answersRequest(request, response((m) => m.questions[0].name = "beta.test")), false);
  assert.equal(answersRequest(request, response((m) => m.questions[0].type = RecordType.TXT)), false);
  assert.equal(answersRequest(request, response((m) => m.header.opcode = Opcode.QUERY)), false);
});

Deno.test("decodes a captured knsupdate request: class NONE delete with a compressed owner", async () => {
  const bytes = fromHex(
    await Deno.readTextFile(new URL("./fixtures/knsupdate-hmac-md5.hex", import.meta.url)),
  );
  const m = decodeMessage(bytes);
  assert.equal(m.header.opcode, Opcode.UPDATE);
  assert.deepEqual(m.questions, [{ name: "alpha.test", type: RecordType.SOA, class: RecordClass.IN }]);
  assert.deepEqual(m.authority, [{
    name: "_acme-challenge.www.alpha.test",
    type: RecordType.TXT,
    class: RecordClass.NONE,
    ttl: 0,
    data: { kind: "txt", strings: ["fixture-value"] },
  }]);
  assert.equal(m.additional[0].type, RecordType.TSIG);
  // The TSIG record: owner "fixture-key" (13) + type, class, TTL, RDLENGTH (10) + RDATA (26 + 6 + 2 + 2 + 16 + 6).
  assert.equal(m.tsigOffset, bytes.length - 81);
});

Deno.test("isSubdomain compares whole labels, case-insensitively", () => {
  assert.equal(isSubdomain("a.Alpha.test.", "alpha.test"), true);
  assert.equal(isSubdomain("alpha.test", "alpha.test"), true);
  assert.equal(isSubdomain("xalpha.test", "alpha.test"), false);
  assert.equal(isSubdomain("anything", ""), true);
});
