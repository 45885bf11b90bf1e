import assert from "node:assert/strict";
import { serverTimeOf, signMessage, TSIG_FUDGE_SECONDS, verifyMessage } from "../../src/dns/tsig.ts";
import { TSIG_ALGORITHMS, type TsigKey } from "../../src/dns/types.ts";
import {
  decodeMessage,
  encodeMessage,
  type Message,
  Opcode,
  Rcode,
  RecordClass,
  RecordType,
} from "../../src/dns/wire.ts";

function fromHex(text: string): Uint8Array {
  return Uint8Array.from(text.trim().match(/../g)!.map((h) => parseInt(h, 16)));
}

async function fixture(name: string): Promise<Uint8Array> {
  return fromHex(await Deno.readTextFile(new URL(`./fixtures/${name}`, import.meta.url)));
}

const fixtureSecret = Uint8Array.from(
  atob("bm90YXJpYXQtZml4dHVyZS1zZWNyZXQtMzJieXRlcyE="),
  (c) => c.charCodeAt(0),
);

function key(algorithm: TsigKey["algorithm"], secret = fixtureSecret): TsigKey {
  return { algorithm, name: "fixture-key", secret };
}

const request: Message = {
  header: {
    id: 0xbeef,
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
  authority: [{
    name: "_acme-challenge.alpha.test",
    type: RecordType.TXT,
    class: RecordClass.IN,
    ttl: 60,
    data: { kind: "txt", strings: ["v"] },
  }],
  additional: [],
};

Deno.test("verifies an UPDATE signed by nsupdate with hmac-sha256", async () => {
  const bytes = await fixture("nsupdate-hmac-sha256.hex");
  const signedAt = decodeMessage(bytes).additional[0].data;
  assert.equal(signedAt.kind, "tsig");
  const verdict = verifyMessage(
    bytes,
    key("hmac-sha256"),
    signedAt.kind === "tsig" ? signedAt.tsig.timeSigned : 0,
  );
  assert.equal(verdict.ok, true);
});

Deno.test("verifies an UPDATE signed by knsupdate with hmac-md5 (long algorithm name, compressed owner)", async () => {
  const bytes = await fixture("knsupdate-hmac-md5.hex");
  const verdict = verifyMessage(bytes, key("hmac-md5"), 0x6b0a841a);
  assert.deepEqual(verdict.ok, true);
});

Deno.test("rejects the nsupdate fixture with one byte of the TXT value changed", async () => {
  const bytes = await fixture("nsupdate-hmac-sha256.hex");
  const at = bytes.indexOf("f".charCodeAt(0), 12 + 12);
  bytes[at] = "F".charCodeAt(0);
  const verdict = verifyMessage(bytes, key("hmac-sha256"), 0x6b0a81bc);
  assert.equal(verdict.ok, false);
  assert.equal(!verdict.ok && verdict.reason, "bad-mac");
});

Deno.test("rejects the fixture under a wrong secret, a wrong algorithm and outside the fudge", async () => {
  const bytes = await fixture("nsupdate-hmac-sha256.hex");
  const wrongSecret = verifyMessage(bytes, key("hmac-sha256", new Uint8Array(32)), 0x6b0a81bc);
  assert.equal(!wrongSecret.ok && wrongSecret.reason, "bad-mac");
  const wrongAlgorithm = verifyMessage(bytes, key("hmac-sha512"), 0x6b0a81bc);
  assert.equal(!wrongAlgorithm.ok && wrongAlgorithm.reason, "wrong-key");
  const late = verifyMessage(bytes, key("hmac-sha256"), 0x6b0a81bc + TSIG_FUDGE_SECONDS + 1);
  assert.equal(!late.ok && late.reason, "bad-time");
  const justInTime = verifyMessage(bytes, key("hmac-sha256"), 0x6b0a81bc + TSIG_FUDGE_SECONDS);
  assert.equal(justInTime.ok, true);
});

for (const algorithm of TSIG_ALGORITHMS) {
  Deno.test(`signs and verifies a request and its response with ${algorithm}`, () => {
    const k = key(algorithm);
    const signed = signMessage(encodeMessage(request), k, 1_700_000_000);
    assert.equal(
      signed.mac.length,
      { md5: 16, sha1: 20, sha224: 28, sha256: 32, sha384: 48, sha512: 64 }[
        algorithm.slice(5) as "md5"
      ],
    );
    assert.equal(verifyMessage(signed.bytes, k, 1_700_000_010).ok, true);
    const response = encodeMessage({
      ...request,
      header: { ...request.header, response: true },
      authority: [],
    });
    const signedResponse = signMessage(response, k, 1_700_000_001, { requestMac: signed.mac });
    assert.equal(verifyMessage(signedResponse.bytes, k, 1_700_000_010, signed.mac).ok, true);
    const otherMac = signed.mac.slice();
    otherMac[0] ^= 1;
    const mismatch = verifyMessage(signedResponse.bytes, k, 1_700_000_010, otherMac);
    assert.equal(!mismatch.ok && mismatch.reason, "bad-mac");
  });
}

Deno.test("reports an unsigned message and an unsigned TSIG error distinctly", () => {
  const k = key("hmac-sha256");
  const plain = encodeMessage(request);
  const unsigned = verifyMessage(plain, k, 0);
  assert.equal(!unsigned.ok && unsigned.reason, "unsigned");
  // A BADKEY answer: TSIG record with error 17 and an empty MAC (RFC 8945 5.3.2).
  const withError = signMessage(plain, k, 100, { error: Rcode.BADKEY });
  const decoded = decodeMessage(withError.bytes);
  const tsig = decoded.additional[0];
  assert.equal(tsig.data.kind, "tsig");
  if (tsig.data.kind !== "tsig") return;
  tsig.data.tsig.mac = new Uint8Array(0);
  const verdict = verifyMessage(encodeMessage(decoded), k, 100);
  assert.equal(!verdict.ok && verdict.reason, "tsig-error");
  assert.equal(!verdict.ok && verdict.tsig?.error, Rcode.BADKEY);
});

Deno.test("reads the server time from a signed BADTIME answer", () => {
  const k = key("hmac-sha1");
  const serverTime = 1_700_000_412;
  const other = Uint8Array.of(
    0,
    0,
    serverTime >>> 24,
    (serverTime >>> 16) & 0xff,
    (serverTime >>> 8) & 0xff,
    serverTime & 0xff,
  );
  const signed = signMessage(encodeMessage(request), k, 1_700_000_000, {
    error: Rcode.BADTIME,
    otherData: other,
  });
  const verdict = verifyMessage(signed.bytes, k, 1_700_000_000);
  assert.equal(!verdict.ok && verdict.reason, "tsig-error");
  assert.equal(!verdict.ok && verdict.tsig && serverTimeOf(verdict.tsig), serverTime);
});
