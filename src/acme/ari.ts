/**
 * ACME Renewal Information (RFC 9773): the CA's suggested renewal window for one certificate, fetched
 * unauthenticated from the directory's `renewalInfo` resource, and cached until the CA's Retry-After says to
 * look again. Whether and when to renew is decided elsewhere (src/controller/renewal.ts); this module only
 * names the certificate, asks and understands the answer.
 */
import { createHash } from "node:crypto";
import { NotariatError } from "../errors.ts";
import type { CertificateInfo } from "../pki/certificate.ts";
import { type AcmeResponse, expectJsonObject, parseRetryAfter, responseError } from "./problem.ts";

/** The window the CA suggests for renewing a certificate (RFC 9773 section 4.2). */
export interface SuggestedWindow {
  start: Date;
  end: Date;
}

/** One answer of the renewalInfo resource. */
export interface RenewalInfo {
  certId: string;
  window: SuggestedWindow;
  /** Why the CA moved the window (e.g. an incident), when it says. */
  explanationUrl?: string;
  /** When to ask again: the CA's Retry-After, bounded (see `ariCheckTime`). */
  checkAt: Date;
  /**
   * When notariat first saw this window. A window that had already begun by then was moved by the CA (a
   * revocation ahead, say): renewal is due at once rather than at a random time inside it.
   */
  seenAt: Date;
}

/** Without a Retry-After, look again after six hours (RFC 9773 section 4.3.3 suggests this). */
export const DEFAULT_ARI_INTERVAL_MS = 6 * 60 * 60 * 1000;
/** At least twice a day, as Let's Encrypt asks of ARI clients. */
export const MAX_ARI_INTERVAL_MS = 12 * 60 * 60 * 1000;
/** A Retry-After of zero or in the past must not make a tight loop. */
export const MIN_ARI_INTERVAL_MS = 60 * 1000;

/**
 * The ARI certificate identifier (RFC 9773 section 4.1): base64url of the Authority Key Identifier's key
 * identifier, a dot, base64url of the DER encoding of the serial number's value (without tag and length, so a
 * serial with its top bit set gets its leading zero byte).
 *
 * @example ariCertId("69882ea3b1b1b1b1", "87654321") // "aYguo7GxsbE.AIdlQyE"
 */
export function ariCertId(authorityKeyIdHex: string, serialHex: string): string {
  return `${base64url(hexBytes(authorityKeyIdHex))}.${base64url(serialDer(serialHex))}`;
}

/** The ARI identifier of a parsed certificate; undefined when it has no Authority Key Identifier. */
export function certIdOf(
  certificate: Pick<CertificateInfo, "authorityKeyId" | "serialNumber">,
): string | undefined {
  if (certificate.authorityKeyId === undefined || certificate.authorityKeyId === "") return undefined;
  return ariCertId(certificate.authorityKeyId, certificate.serialNumber);
}

/** The minimal DER INTEGER content octets of a positive serial given in hex. */
function serialDer(serialHex: string): Uint8Array {
  let hex = BigInt(`0x${serialHex.replace(/[^0-9a-fA-F]/g, "") || "0"}`).toString(16);
  if (hex.length % 2 === 1) hex = `0${hex}`;
  if (parseInt(hex.slice(0, 2), 16) >= 0x80) hex = `00${hex}`;
  return hexBytes(hex);
}

function hexBytes(hex: string): Uint8Array {
  const clean = hex.replace(/[^0-9a-fA-F]/g, "");
  const bytes = new Uint8Array(clean.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * When to ask the CA again: after its Retry-After, but at least twice a day and not sooner than a minute;
 * six hours when it did not say.
 */
export function ariCheckTime(retryAfter: Date | undefined, now: Date): Date {
  const asked = retryAfter === undefined ? DEFAULT_ARI_INTERVAL_MS : retryAfter.getTime() - now.getTime();
  const interval = Math.min(MAX_ARI_INTERVAL_MS, Math.max(MIN_ARI_INTERVAL_MS, asked));
  return new Date(now.getTime() + interval);
}

/** Understands a renewalInfo answer; throws NotariatError kind "acme" for an error or a malformed window. */
export function parseRenewalInfo(certId: string, response: AcmeResponse, now: Date): RenewalInfo {
  const what = `fetching the renewal information of certificate ${certId}`;
  if (response.status !== 200) throw responseError(what, response, now);
  const body = expectJsonObject(what, response, ["suggestedWindow"]) as {
    suggestedWindow: { start?: unknown; end?: unknown };
    explanationURL?: unknown;
  };
  const start = new Date(String(body.suggestedWindow?.start));
  const end = new Date(String(body.suggestedWindow?.end));
  if (Number.isNaN(start.getTime()) || Number.isNaN(end.getTime()) || end.getTime() < start.getTime()) {
    throw new NotariatError("acme", `${what}: the CA sent an unusable suggestedWindow`);
  }
  return {
    certId,
    window: { start, end },
    explanationUrl: typeof body.explanationURL === "string" ? body.explanationURL : undefined,
    checkAt: ariCheckTime(parseRetryAfter(response.headers["retry-after"], now), now),
    seenAt: now,
  };
}

/**
 * A number in [0, 1) derived from the certificate identifier: the same certificate and window give the same
 * renewal time on every look (and on every replica), while different certificates spread over the window.
 */
export function stableFraction(certId: string): number {
  const digest = createHash("sha256").update(certId).digest();
  return digest.readUInt32BE(0) / 2 ** 32;
}

/** How long a certificate whose renewal information could not be fetched is left to the lifetime rule. */
export const FAILURE_RETRY_MS = 60 * 60 * 1000;

/** Fetches renewal information, at most once per certificate until the CA's Retry-After has passed. */
export interface RenewalInfoCache {
  /** The current answer for `certId`; a failed fetch falls back to the last answer when there is one. */
  get(certId: string): Promise<RenewalInfo>;
}

/** A cache over `fetchInfo` (the GET of `<renewalInfo URL>/<certId>`), driven by the clock `now`. */
export function createRenewalInfoCache(
  fetchInfo: (certId: string) => Promise<AcmeResponse>,
  now: () => Date,
): RenewalInfoCache {
  const known = new Map<string, RenewalInfo>();
  // A certificate the CA cannot answer for (another CA's, say) is not asked about on every look.
  const failed = new Map<string, { error: unknown; until: number }>();
  return {
    async get(certId) {
      const cached = known.get(certId);
      if (cached !== undefined && now().getTime() < cached.checkAt.getTime()) return cached;
      const failure = failed.get(certId);
      if (cached === undefined && failure !== undefined && now().getTime() < failure.until) {
        throw failure.error;
      }
      try {
        const fresh = parseRenewalInfo(certId, await fetchInfo(certId), now());
        const same = cached !== undefined &&
          cached.window.start.getTime() === fresh.window.start.getTime() &&
          cached.window.end.getTime() === fresh.window.end.getTime();
        const info = same ? { ...fresh, seenAt: cached.seenAt } : fresh;
        known.set(certId, info);
        failed.delete(certId);
        return info;
      } catch (err) {
        if (cached !== undefined) return cached;
        failed.set(certId, { error: err, until: now().getTime() + FAILURE_RETRY_MS });
        throw err;
      }
    },
  };
}
