/**
 * DNS-ACCOUNT-01 (draft-ietf-acme-dns-account-label): each ACME account answers at its own name,
 * `_<label>._acme-challenge.<domain>`, so several clients can validate one domain at once without touching
 * each other's records. The label is the lower-case base32 (RFC 4648) of the first 10 octets of SHA-256 of the
 * account URL: 16 characters.
 */
import { createHash } from "node:crypto";

const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";

/** RFC 4648 base32 of `bytes` in lower case, without padding (10 octets give exactly 16 characters). */
export function base32Lower(bytes: Uint8Array): string {
  let out = "";
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(buffer >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(buffer << (5 - bits)) & 31];
  return out;
}

/** The account's label: base32 of SHA-256(account URL)[0..9], lower case. */
export function accountLabel(accountUrl: string): string {
  const digest = createHash("sha256").update(accountUrl).digest();
  return base32Lower(new Uint8Array(digest.subarray(0, 10)));
}

/**
 * `_<label>._acme-challenge.<domain>` for the account `accountUrl`; a wildcard's lives at its base name.
 *
 * @example accountChallengeName("https://localhost:14000/my-account/1")("*.example.com")
 *   // "_bpjsk7g2c3iuj47a._acme-challenge.example.com"
 */
export function accountChallengeName(accountUrl: string): (domain: string) => string {
  const label = accountLabel(accountUrl);
  return (domain) =>
    `_${label}._acme-challenge.${domain.toLowerCase().replace(/^\*\./, "").replace(/\.$/, "")}`;
}
