import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync } from "node:crypto";
import { createJwsSigner, dnsChallengeValue } from "../../src/acme/jws.ts";
import { generatePrivateKey } from "../../src/pki/keys.ts";

const decode = (part: string) => JSON.parse(Buffer.from(part, "base64url").toString("utf8"));

async function verifies(
  jws: { protected: string; payload: string; signature: string },
  pem: string,
  alg: EcdsaParams | Algorithm,
  importAlg: EcKeyImportParams | RsaHashedImportParams,
) {
  const spki = createPublicKey(createPrivateKey(pem)).export({ type: "spki", format: "der" });
  const key = await crypto.subtle.importKey("spki", new Uint8Array(spki), importAlg, false, ["verify"]);
  return crypto.subtle.verify(
    alg,
    key,
    Buffer.from(jws.signature, "base64url"),
    new TextEncoder().encode(`${jws.protected}.${jws.payload}`),
  );
}

Deno.test("an ES256 JWS with kid: header, payload and a signature the public key verifies", async () => {
  const pem = await generatePrivateKey("ecdsa-p256");
  const signer = await createJwsSigner(pem);
  const jws = await signer.sign("https://ca.test/new-order", { identifiers: [] }, {
    nonce: "n1",
    kid: "https://ca.test/acct/1",
  });
  assert.deepEqual(decode(jws.protected), {
    alg: "ES256",
    url: "https://ca.test/new-order",
    nonce: "n1",
    kid: "https://ca.test/acct/1",
  });
  assert.deepEqual(decode(jws.payload), { identifiers: [] });
  assert.equal(Buffer.from(jws.signature, "base64url").length, 64, "r || s, 32 bytes each (RFC 7518 3.4)");
  assert.ok(
    await verifies(jws, pem, { name: "ECDSA", hash: "SHA-256" }, { name: "ECDSA", namedCurve: "P-256" }),
  );
});

Deno.test("without kid the public key goes in the header; POST-as-GET has an empty payload", async () => {
  const pem = await generatePrivateKey("ecdsa-p384");
  const signer = await createJwsSigner(pem);
  const jws = await signer.sign("https://ca.test/new-acct", null, { nonce: "n2" });
  const header = decode(jws.protected);
  assert.equal(header.alg, "ES384");
  assert.deepEqual(Object.keys(header.jwk), ["crv", "kty", "x", "y"]);
  assert.equal(header.jwk.crv, "P-384");
  assert.equal(jws.payload, "");
  assert.ok(
    await verifies(jws, pem, { name: "ECDSA", hash: "SHA-384" }, { name: "ECDSA", namedCurve: "P-384" }),
  );
  const empty = await signer.sign("https://ca.test/chall/1", {}, { nonce: "n3" });
  assert.equal(empty.payload, "e30", "an empty object is the payload {} (answering a challenge)");
});

Deno.test("RS256 for an RSA account key", async () => {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const pem = privateKey.export({ type: "pkcs8", format: "pem" }) as string;
  const signer = await createJwsSigner(pem);
  const jws = await signer.sign("https://ca.test/x", { a: 1 }, { nonce: "n" });
  assert.equal(decode(jws.protected).alg, "RS256");
  const rsa = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
  assert.ok(await verifies(jws, pem, rsa, rsa));
});

Deno.test("the thumbprint is RFC 7638's: SHA-256 of the required members, sorted, without whitespace", async () => {
  const pem = await generatePrivateKey("ecdsa-p256");
  const signer = await createJwsSigner(pem);
  const jwk = createPublicKey(createPrivateKey(pem)).export({ format: "jwk" });
  const canonical = `{"crv":"P-256","kty":"EC","x":"${jwk.x}","y":"${jwk.y}"}`;
  assert.equal(signer.thumbprint, createHash("sha256").update(canonical).digest("base64url"));
});

Deno.test("the dns-01 value is base64url(SHA-256(token.thumbprint))", () => {
  // RFC 8555 section 8.4 over the key authorization of section 8.1 (expected value computed with Python hashlib).
  assert.equal(
    dnsChallengeValue(
      "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA",
      "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs",
    ),
    "ZTRx1Ckl1-tM05o5zaizTTA0yUy5AGereMgSNWC6Ll8",
  );
});

Deno.test("a key that is not PEM is refused without quoting it", async () => {
  await assert.rejects(createJwsSigner("not a key secretbytes"), (err: Error) => {
    assert.ok(!err.message.includes("secretbytes"));
    return true;
  });
});
