/**
 * How a value someone typed appears in a message. Every message that repeats a configured value (a ConfigMap
 * field, a flag, a TSIG Secret's `nameserver`) goes through `quoteValue`, so that a key pasted into the wrong
 * field never reaches a log line or an Event, and a megabyte-long value does not become a megabyte-long line.
 */

/** Values longer than this (longer than any DNS name) are shown as a prefix and their length. */
export const MAX_QUOTED_LENGTH = 256;
/** How much of a long value is shown. */
const PREFIX_LENGTH = 40;

// A run of base64 (or base64url) long enough to be a key: TSIG secrets are 16 to 64 bytes, 24 to 88 characters.
const BASE64_RUN = /[A-Za-z0-9+/_-]{16,}={0,2}/g;
const HEX_RUN = /[0-9a-fA-F]{32,}/g;
const PEM_BLOCK = /-----BEGIN [A-Z0-9 ]+-----/;
// BIND's tsig-keygen / rndc-confgen block: key "name" { algorithm ...; secret "..."; };
const KEY_BLOCK = /\bsecret\s*"[^"]*"|\bkey\s+"?[^\s"{]+"?\s*\{/i;
// `[hmac-alg:]name:secret`, as keymgr -t prints it (with its `# ` prefix) and as the TSIG Secret holds it.
const KEY_LINE = /^\s*#?\s*(hmac-[a-z0-9]+:)?[^:\s]+:[A-Za-z0-9+/]{8,}={0,2}\s*$/i;

/**
 * Whether `text` holds something shaped like key material: a TSIG key line, a tsig-keygen block, a PEM block,
 * or a base64 or hex run of key length. Errs towards yes: it decides only whether a bad value is repeated in
 * its error message, never whether a value is accepted.
 */
export function looksLikeKeyMaterial(text: string): boolean {
  if (PEM_BLOCK.test(text) || KEY_BLOCK.test(text) || KEY_LINE.test(text)) return true;
  for (const [run] of text.matchAll(HEX_RUN)) {
    if (/[0-9]/.test(run) && /[a-f]/i.test(run)) return true;
  }
  for (const [run] of text.matchAll(BASE64_RUN)) {
    if (run.endsWith("=") || randomLooking(run)) return true;
  }
  return false;
}

/**
 * Whether the letters and digits of a run switch between upper case, lower case and digits as often as random
 * base64 does (about two characters in three), unlike names such as `MyCertificate2024` or `my-ns/web-tls-2`
 * (separators are left out of the count).
 */
function randomLooking(run: string): boolean {
  const chars = run.replace(/[^A-Za-z0-9]/g, "");
  // Random base64 of this length all but always has both cases; hex and lower-case names are not taken for it.
  if (chars.length < 16 || !/[A-Z]/.test(chars) || !/[a-z]/.test(chars)) return false;
  const kind = (c: string) => /[A-Z]/.test(c) ? 0 : /[a-z]/.test(c) ? 1 : 2;
  let switches = 0;
  for (let i = 1; i < chars.length; i++) if (kind(chars[i]) !== kind(chars[i - 1])) switches++;
  return switches * 3 >= chars.length;
}

/**
 * `text` JSON-quoted for a message; a long value as its first characters and its length, and a value that
 * looks like key material not at all (only its length).
 *
 * @example quoteValue("a..b") // "\"a..b\""
 * @example quoteValue("x".repeat(1_000_000)) // "\"xxxx…\" (1000000 characters)" with 40 x's
 */
export function quoteValue(text: string): string {
  if (looksLikeKeyMaterial(text)) {
    return `a value of ${text.length} characters that looks like key material (not repeated here)`;
  }
  if (text.length > MAX_QUOTED_LENGTH) {
    return `${JSON.stringify(text.slice(0, PREFIX_LENGTH) + "…")} (${text.length} characters)`;
  }
  return JSON.stringify(text);
}
