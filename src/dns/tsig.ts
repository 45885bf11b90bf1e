/**
 * TSIG (RFC 8945): signing a message and verifying a signed one, as pure functions over bytes and a clock value.
 * node:crypto computes the HMACs because WebCrypto lacks MD5 and SHA-224, which servers still offer.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import type { TsigAlgorithm, TsigKey } from "./types.ts";
import {
  canonicalName,
  decodeMessage,
  encodeName,
  encodeRecord,
  RecordClass,
  RecordType,
  type TsigData,
  tsigRecordOf,
  WireError,
} from "./wire.ts";

/** Seconds of clock difference a signature tolerates; 300 is what RFC 8945 10 recommends and servers use. */
export const TSIG_FUDGE_SECONDS = 300;

/** The algorithm names as they appear on the wire (RFC 8945 6); only MD5 keeps its historic long name. */
const WIRE_NAMES: Record<TsigAlgorithm, string> = {
  "hmac-md5": "hmac-md5.sig-alg.reg.int",
  "hmac-sha1": "hmac-sha1",
  "hmac-sha224": "hmac-sha224",
  "hmac-sha256": "hmac-sha256",
  "hmac-sha384": "hmac-sha384",
  "hmac-sha512": "hmac-sha512",
};

const HASHES: Record<TsigAlgorithm, { name: string; length: number }> = {
  "hmac-md5": { name: "md5", length: 16 },
  "hmac-sha1": { name: "sha1", length: 20 },
  "hmac-sha224": { name: "sha224", length: 28 },
  "hmac-sha256": { name: "sha256", length: 32 },
  "hmac-sha384": { name: "sha384", length: 48 },
  "hmac-sha512": { name: "sha512", length: 64 },
};

/** A signed message and its MAC; the MAC is needed to verify the response (RFC 8945 5.3). */
export interface SignedMessage {
  bytes: Uint8Array;
  mac: Uint8Array;
}

function u16(value: number): Uint8Array {
  return Uint8Array.of((value >>> 8) & 0xff, value & 0xff);
}

/** RFC 8945 4.3.3: the TSIG variables covered by the MAC, names in canonical (lower-case) wire form. */
function tsigVariables(keyName: string, tsig: Omit<TsigData, "mac" | "originalId">): Uint8Array[] {
  const time = tsig.timeSigned;
  const timeBytes = Uint8Array.of(
    Math.floor(time / 0x10000000000) & 0xff,
    Math.floor(time / 0x100000000) & 0xff,
    (time >>> 24) & 0xff,
    (time >>> 16) & 0xff,
    (time >>> 8) & 0xff,
    time & 0xff,
  );
  return [
    encodeName(canonicalName(keyName)),
    u16(RecordClass.ANY),
    new Uint8Array(4), // TTL 0
    encodeName(canonicalName(tsig.algorithm)),
    timeBytes,
    u16(tsig.fudge),
    u16(tsig.error),
    u16(tsig.otherData.length),
    tsig.otherData,
  ];
}

function hmac(key: TsigKey, parts: Uint8Array[]): Uint8Array {
  const h = createHmac(HASHES[key.algorithm].name, key.secret);
  for (const part of parts) h.update(part);
  return new Uint8Array(h.digest());
}

/** RFC 8945 4.3.1/4.3.2: a response's MAC also covers the request's MAC, prefixed by its length. */
function macPrefix(requestMac: Uint8Array | undefined): Uint8Array[] {
  return requestMac === undefined ? [] : [u16(requestMac.length), requestMac];
}

/**
 * Signs `message` (a complete message without TSIG) with `key` at `timeSigned` (seconds since the epoch) and
 * appends the TSIG record. With `requestMac` it signs as a response to that request (used by tests to play a
 * server).
 */
export function signMessage(
  message: Uint8Array,
  key: TsigKey,
  timeSigned: number,
  options: { requestMac?: Uint8Array; fudge?: number; error?: number; otherData?: Uint8Array } = {},
): SignedMessage {
  const variables = {
    algorithm: WIRE_NAMES[key.algorithm],
    timeSigned,
    fudge: options.fudge ?? TSIG_FUDGE_SECONDS,
    error: options.error ?? 0,
    otherData: options.otherData ?? new Uint8Array(0),
  };
  const mac = hmac(key, [...macPrefix(options.requestMac), message, ...tsigVariables(key.name, variables)]);
  const record = encodeRecord({
    name: key.name,
    type: RecordType.TSIG,
    class: RecordClass.ANY,
    ttl: 0,
    data: { kind: "tsig", tsig: { ...variables, mac, originalId: (message[0] << 8) | message[1] } },
  });
  const bytes = new Uint8Array(message.length + record.length);
  bytes.set(message);
  bytes.set(record, message.length);
  const arcount = ((message[10] << 8) | message[11]) + 1;
  bytes[10] = arcount >> 8;
  bytes[11] = arcount & 0xff;
  return { bytes, mac };
}

/** The outcome of verifying a TSIG-signed message. Failures carry the TSIG record when there was one. */
export type TsigVerdict =
  | { ok: true; tsig: TsigData }
  | {
    ok: false;
    /**
     * unsigned: no TSIG record; wrong-key: signed with another key name or algorithm; bad-mac: the MAC does not
     * match; tsig-error: the signer reports a TSIG error (BADSIG, BADKEY, BADTIME...); bad-time: our clock and
     * the signer's differ by more than the fudge.
     */
    reason: "unsigned" | "wrong-key" | "bad-mac" | "tsig-error" | "bad-time" | "malformed";
    tsig?: TsigData;
    detail: string;
  };

/**
 * Verifies the TSIG record of `bytes` with `key` at `now` (seconds since the epoch). Pass the request's MAC to
 * verify a response. A TSIG error with an empty MAC (RFC 8945 5.3.2: BADSIG, BADKEY answers are unsigned) is
 * reported as `tsig-error`; a signed TSIG error (BADTIME) is reported as `tsig-error` only once its MAC checks.
 */
export function verifyMessage(
  bytes: Uint8Array,
  key: TsigKey,
  now: number,
  requestMac?: Uint8Array,
): TsigVerdict {
  let decoded;
  try {
    decoded = decodeMessage(bytes);
  } catch (err) {
    return { ok: false, reason: "malformed", detail: err instanceof WireError ? err.message : String(err) };
  }
  const record = tsigRecordOf(decoded);
  if (record === undefined || decoded.tsigOffset === undefined) {
    return { ok: false, reason: "unsigned", detail: "the message carries no TSIG record" };
  }
  const tsig = record.data.tsig;
  if (canonicalName(record.name) !== canonicalName(key.name)) {
    return {
      ok: false,
      reason: "wrong-key",
      tsig,
      detail: `signed with key '${canonicalName(record.name)}'`,
    };
  }
  if (canonicalName(tsig.algorithm) !== WIRE_NAMES[key.algorithm]) {
    return { ok: false, reason: "wrong-key", tsig, detail: `signed with algorithm '${tsig.algorithm}'` };
  }
  if (tsig.mac.length === 0 && tsig.error !== 0) {
    return { ok: false, reason: "tsig-error", tsig, detail: `TSIG error ${tsig.error}, unsigned` };
  }
  // RFC 8945 5.2.2.1: a MAC may be truncated, but not below half the hash length or 10 bytes.
  const full = HASHES[key.algorithm].length;
  if (tsig.mac.length > full || tsig.mac.length < Math.max(10, full / 2)) {
    return { ok: false, reason: "bad-mac", tsig, detail: `MAC of ${tsig.mac.length} bytes` };
  }
  // The MAC covers the message as it was before the TSIG record was added: original id, ARCOUNT one less.
  const unsigned = bytes.slice(0, decoded.tsigOffset);
  unsigned[0] = tsig.originalId >> 8;
  unsigned[1] = tsig.originalId & 0xff;
  const arcount = ((unsigned[10] << 8) | unsigned[11]) - 1;
  unsigned[10] = arcount >> 8;
  unsigned[11] = arcount & 0xff;
  const expected = hmac(key, [...macPrefix(requestMac), unsigned, ...tsigVariables(record.name, tsig)])
    .subarray(0, tsig.mac.length);
  if (!timingSafeEqual(expected, tsig.mac)) {
    return { ok: false, reason: "bad-mac", tsig, detail: "the MAC does not match" };
  }
  if (tsig.error !== 0) {
    return { ok: false, reason: "tsig-error", tsig, detail: `TSIG error ${tsig.error}, signed` };
  }
  if (Math.abs(now - tsig.timeSigned) > tsig.fudge) {
    return {
      ok: false,
      reason: "bad-time",
      tsig,
      detail: `signed at ${tsig.timeSigned}, now ${now}, fudge ${tsig.fudge} s`,
    };
  }
  return { ok: true, tsig };
}

/** The 48-bit server time a BADTIME answer carries in its other data (RFC 8945 5.2.3), if present. */
export function serverTimeOf(tsig: TsigData): number | undefined {
  const d = tsig.otherData;
  if (d.length !== 6) return undefined;
  return ((d[0] << 8) | d[1]) * 0x100000000 + ((d[2] << 24) >>> 0) + ((d[3] << 16) | (d[4] << 8) | d[5]);
}
