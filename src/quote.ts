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
 * Whether a run of letters and digits switches between upper case, lower case, digits and symbols as often
 * as random base64 does (about two characters in three), unlike a name such as `MyCertificate2024`.
 */
function randomLooking(run: string): boolean {
  const kind = (c: string) => /[A-Z]/.test(c) ? 0 : /[a-z]/.test(c) ? 1 : /[0-9]/.test(c) ? 2 : 3;
  let switches = 0;
  for (let i = 1; i < run.length; i++) if (kind(run[i]) !== kind(run[i - 1])) switches++;
  return switches * 3 >= run.length;
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
