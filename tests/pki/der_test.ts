import assert from "node:assert/strict";
import {
  directoryString,
  ecdsaSignatureDer,
  encodePem,
  oid,
  tlv,
  unsignedInteger,
} from "../../src/pki/der.ts";

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");

Deno.test("DER: object identifiers, lengths, integers, strings and ECDSA signatures as X.690 encodes them", () => {
  assert.equal(hex(oid("1.2.840.113549.1.9.14")), "06 09 2a 86 48 86 f7 0d 01 09 0e");
  assert.equal(hex(oid("2.5.29.17")), "06 03 55 1d 11");
  assert.equal(hex(tlv(0x04, new Uint8Array(127)).subarray(0, 2)), "04 7f");
  assert.equal(hex(tlv(0x04, new Uint8Array(200)).subarray(0, 3)), "04 81 c8");
  assert.equal(hex(tlv(0x04, new Uint8Array(300)).subarray(0, 4)), "04 82 01 2c");
  assert.equal(tlv(0x04, new Uint8Array(300)).length, 304);
  assert.equal(hex(unsignedInteger(new Uint8Array([0, 0, 0x7f]))), "02 01 7f");
  assert.equal(hex(unsignedInteger(new Uint8Array([0x80, 1]))), "02 03 00 80 01");
  assert.equal(hex(unsignedInteger(new Uint8Array([0, 0]))), "02 01 00");
  assert.equal(hex(directoryString("a.example")), "13 09 61 2e 65 78 61 6d 70 6c 65");
  assert.equal(hex(directoryString("*.a")).slice(0, 2), "0c", "a wildcard is not printable");
  const raw = new Uint8Array(64);
  raw[0] = 0x80; // r needs a sign byte
  raw[63] = 1; // s is 1 after its leading zeros go
  assert.equal(hex(ecdsaSignatureDer(raw)).slice(0, 14), "30 26 02 21 00");
  assert.equal(hex(ecdsaSignatureDer(raw)).slice(-8), "02 01 01");
});

Deno.test("PEM: base64 in lines of 64 between the label's lines", () => {
  const pem = encodePem(new Uint8Array(100).fill(0xff), "TEST");
  const lines = pem.trimEnd().split("\n");
  assert.equal(lines[0], "-----BEGIN TEST-----");
  assert.equal(lines.at(-1), "-----END TEST-----");
  assert.deepEqual(lines.slice(1, -1).map((l) => l.length), [64, 64, 8]);
});
