import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { pemToBase64Url } from "../../src/pki/pem.ts";

Deno.test("a PEM block's DER comes out as unpadded base64url", () => {
  const der = Uint8Array.from([0xfb, 0xff, 0xbf, 0x30, 0x82, 0x01]);
  const base64 = Buffer.from(der).toString("base64");
  const pem = `-----BEGIN CERTIFICATE REQUEST-----\n${base64}\n-----END CERTIFICATE REQUEST-----\n`;
  const url = pemToBase64Url(pem);
  assert.equal(url, "-_-_MIIB");
  assert.deepEqual(new Uint8Array(Buffer.from(url, "base64url")), der);
});

Deno.test("padding and line breaks inside the block are dropped", () => {
  const pem = "-----BEGIN X-----\nAAEC\nAw==\n-----END X-----";
  assert.equal(pemToBase64Url(pem), "AAECAw");
});
