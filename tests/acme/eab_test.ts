import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHmac } from "node:crypto";
import { externalAccountBinding, parseEabSecret } from "../../src/acme/eab.ts";

const KEY = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";
const encoder = new TextEncoder();

Deno.test("the binding is an HS256 JWS over the account key, for the newAccount URL", () => {
  const jwk = { kty: "EC", crv: "P-256", x: "x", y: "y" };
  const jws = externalAccountBinding({ kid: "kid-1", hmacKey: KEY }, "https://ca/new-acct", jwk);
  const header = JSON.parse(Buffer.from(jws.protected, "base64url").toString());
  assert.deepEqual(header, { alg: "HS256", kid: "kid-1", url: "https://ca/new-acct" });
  assert.deepEqual(JSON.parse(Buffer.from(jws.payload, "base64url").toString()), jwk);
  const expected = createHmac("sha256", Buffer.from(KEY, "base64url"))
    .update(`${jws.protected}.${jws.payload}`).digest("base64url");
  assert.equal(jws.signature, expected);
});

Deno.test("an EAB Secret needs kid and a usable hmacKey; errors never show the key", () => {
  assert.deepEqual(
    parseEabSecret({ kid: encoder.encode("kid-1"), hmacKey: encoder.encode(`${KEY}\n`) }, "ns/eab"),
    {
      kid: "kid-1",
      hmacKey: KEY,
    },
  );
  assert.throws(
    () => parseEabSecret({ hmacKey: encoder.encode(KEY) }, "ns/eab"),
    /^NotariatError: external account binding Secret ns\/eab: key "kid" is missing$/,
  );
  const bad = "not a key!";
  assert.throws(
    () => parseEabSecret({ kid: encoder.encode("k"), hmacKey: encoder.encode(bad) }, "ns/eab"),
    (err: Error) => /key "hmacKey" is not a base64url key/.test(err.message) && !err.message.includes(bad),
  );
});
