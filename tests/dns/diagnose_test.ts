import assert from "node:assert/strict";
import { diagnoseUpdate, type UpdateOutcome } from "../../src/dns/diagnose.ts";
import type { TsigVerdict } from "../../src/dns/tsig.ts";
import { Rcode, type TsigData } from "../../src/dns/wire.ts";

function tsig(patch: Partial<TsigData> = {}): TsigData {
  return {
    algorithm: "hmac-sha256",
    timeSigned: 1_000_000,
    fudge: 300,
    mac: new Uint8Array(0),
    originalId: 1,
    error: 0,
    otherData: new Uint8Array(0),
    ...patch,
  };
}

function outcome(rcode: number, verdict: TsigVerdict): UpdateOutcome {
  return {
    server: "192.0.2.1:53",
    zone: "example.com",
    key: { name: "k", algorithm: "hmac-sha256" },
    rcode,
    verdict,
    now: 1_000_000,
  };
}

const ok: TsigVerdict = { ok: true, tsig: tsig() };

Deno.test("a signed NOERROR answer is success", () => {
  assert.equal(diagnoseUpdate(outcome(Rcode.NOERROR, ok)), undefined);
});

Deno.test("NOTAUTH with TSIG BADKEY names the key and the zone", () => {
  const verdict: TsigVerdict = {
    ok: false,
    reason: "tsig-error",
    tsig: tsig({ error: Rcode.BADKEY }),
    detail: "",
  };
  assert.equal(
    diagnoseUpdate(outcome(Rcode.NOTAUTH, verdict)),
    "server 192.0.2.1:53 does not know key 'k' (hmac-sha256) or does not allow it to update zone 'example.com' " +
      "(NOTAUTH, TSIG BADKEY)",
  );
});

Deno.test("BADSIG says the secret differs", () => {
  const verdict: TsigVerdict = {
    ok: false,
    reason: "tsig-error",
    tsig: tsig({ error: Rcode.BADSIG }),
    detail: "",
  };
  assert.equal(
    diagnoseUpdate(outcome(Rcode.NOTAUTH, verdict)),
    "server 192.0.2.1:53 rejected the signature of key 'k': the secret differs from the server's (NOTAUTH, TSIG BADSIG)",
  );
});

Deno.test("BADTIME reports the clock skew from the server's time and the fudge", () => {
  const serverTime = 1_000_412;
  const other = Uint8Array.of(
    0,
    0,
    serverTime >>> 24,
    (serverTime >>> 16) & 0xff,
    (serverTime >>> 8) & 0xff,
    serverTime & 0xff,
  );
  const verdict: TsigVerdict = {
    ok: false,
    reason: "tsig-error",
    tsig: tsig({ error: Rcode.BADTIME, otherData: other, mac: new Uint8Array(32) }),
    detail: "",
  };
  assert.equal(
    diagnoseUpdate(outcome(Rcode.NOTAUTH, verdict)),
    "clock skew of 412 s between notariat and the server 192.0.2.1:53 (fudge 300 s, NOTAUTH, TSIG BADTIME)",
  );
});

Deno.test("RCODEs without a TSIG error each get their own explanation", () => {
  const cases: [number, string][] = [
    [
      Rcode.REFUSED,
      "server 192.0.2.1:53 refused to let key 'k' update TXT records in zone 'example.com' (REFUSED)",
    ],
    [
      Rcode.NOTAUTH,
      "server 192.0.2.1:53 is not authoritative for zone 'example.com' or did not accept key 'k' (NOTAUTH)",
    ],
    [Rcode.NOTZONE, "a record name is outside zone 'example.com' according to server 192.0.2.1:53 (NOTZONE)"],
    [
      Rcode.SERVFAIL,
      "server 192.0.2.1:53 failed to apply the update to zone 'example.com'; its log says why (SERVFAIL)",
    ],
    [Rcode.FORMERR, "server 192.0.2.1:53 could not parse the update for zone 'example.com' (FORMERR)"],
    [Rcode.NOTIMP, "server 192.0.2.1:53 does not implement DNS UPDATE (NOTIMP)"],
    [Rcode.YXRRSET, "server 192.0.2.1:53 rejected the update of zone 'example.com' with YXRRSET"],
    [12, "server 192.0.2.1:53 rejected the update of zone 'example.com' with RCODE 12"],
  ];
  for (const [rcode, message] of cases) assert.equal(diagnoseUpdate(outcome(rcode, ok)), message);
});

Deno.test("a NOERROR answer without a valid signature is a failure", () => {
  assert.equal(
    diagnoseUpdate(outcome(Rcode.NOERROR, { ok: false, reason: "unsigned", detail: "" })),
    "server 192.0.2.1:53 answered the update of zone 'example.com' with NOERROR but without a TSIG signature, " +
      "so the answer cannot be trusted",
  );
  assert.equal(
    diagnoseUpdate(outcome(Rcode.NOERROR, { ok: false, reason: "bad-mac", tsig: tsig(), detail: "" })),
    "server 192.0.2.1:53 answered the update of zone 'example.com' with NOERROR but its TSIG signature does not " +
      "verify with key 'k'",
  );
  assert.equal(
    diagnoseUpdate(
      outcome(Rcode.NOERROR, {
        ok: false,
        reason: "bad-time",
        tsig: tsig({ timeSigned: 999_000 }),
        detail: "",
      }),
    ),
    "clock skew of 1000 s between notariat and the server 192.0.2.1:53 (fudge 300 s)",
  );
});
