/**
 * DNS names as notariat takes them in: the domains a certificate is requested for and the host names of DNS
 * servers, lower-cased, without the trailing dot, in punycode, and checked label by label (RFC 1123). Each
 * function throws a NotariatError of kind "config" whose message says what is wrong with the text; callers add
 * which entry and field it came from.
 */
import { domainToASCII } from "node:url";
import { NotariatError } from "../errors.ts";
import { quoteValue } from "../quote.ts";

const SUBDOMAIN_MAX = 253;
const LABEL_MAX = 63;

/** An RFC 1123 label in lower case: Kubernetes names and (lower-cased) DNS host names share this rule. */
export const RFC1123_LABEL: RegExp = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * Normalizes a domain name a certificate is requested for: lower-cased, trailing dot dropped, international
 * names converted to punycode. Labels are letters, digits and hyphens (no leading or trailing hyphen) of at
 * most 63 octets, the whole at most 253; a wildcard is allowed only as the entire leftmost label. A single
 * label is refused: a public CA does not issue for it.
 *
 * @example normalizeDomain("*.Bücher.example.") // "*.xn--bcher-kva.example"
 */
export function normalizeDomain(text: string): string {
  const wildcard = text.startsWith("*.");
  const name = normalizeDnsName(wildcard ? text.slice(2) : text, text, "a valid domain name");
  if (!name.includes(".")) {
    throw invalid(
      `${quote(text)} is not a valid domain name: it has a single label, and a CA will not issue for it`,
    );
  }
  if (/^[0-9]+$/.test(name.slice(name.lastIndexOf(".") + 1))) {
    throw invalid(
      `${quote(text)} is not a valid domain name: it ends in an all-numeric label (an IP address?), ` +
        "and a CA issues certificates for DNS names only over DNS-01",
    );
  }
  const result = wildcard ? `*.${name}` : name;
  if (result.length > SUBDOMAIN_MAX) {
    throw invalid(`${quote(text)} is not a valid domain name: longer than ${SUBDOMAIN_MAX} characters`);
  }
  return result;
}

/**
 * Normalizes a host name (single labels allowed, e.g. a Kubernetes Service `knot`): lower-cased, trailing dot
 * dropped, international names converted to punycode.
 */
export function normalizeHostName(text: string): string {
  return normalizeDnsName(text, text, "a valid host name");
}

/** Lower-cases, drops one trailing dot, converts to punycode when needed, and checks the labels. */
function normalizeDnsName(name: string, original: string, what: string): string {
  let ascii = name.endsWith(".") ? name.slice(0, -1) : name;
  // deno-lint-ignore no-control-regex
  if (/[^\x00-\x7f]/.test(ascii) || /(^|\.)xn--/i.test(ascii)) {
    const converted = domainToASCII(ascii);
    if (converted === "") {
      throw invalid(
        `${quote(original)} is not a valid internationalized name: it cannot be converted to punycode`,
      );
    }
    ascii = converted;
  }
  ascii = ascii.toLowerCase();
  const reason = dnsNameProblem(ascii);
  if (reason !== undefined) throw invalid(`${quote(original)} is not ${what}: ${reason}`);
  return ascii;
}

/**
 * Why `name` (ASCII, no trailing dot, no wildcard) is not a DNS host name, or undefined when it is one: the
 * reason a message gives after the quoted name.
 */
export function dnsNameProblem(name: string): string | undefined {
  if (name === "") return "it is empty";
  if (name.length > SUBDOMAIN_MAX) return `longer than ${SUBDOMAIN_MAX} characters`;
  for (const label of name.toLowerCase().split(".")) {
    if (label === "") return "it has an empty label (two dots in a row, or a leading dot)";
    if (label.length > LABEL_MAX) return `label ${quote(label)} is longer than ${LABEL_MAX} characters`;
    if (label.includes("*")) {
      return "a wildcard is allowed only as the whole leftmost label, as in *.example.com";
    }
    if (!RFC1123_LABEL.test(label)) {
      return /^-|-$/.test(label)
        ? `label ${quote(label)} starts or ends with a hyphen`
        : `label ${quote(label)} may hold only letters, digits and hyphens`;
    }
  }
  return undefined;
}

function quote(text: string): string {
  return quoteValue(text);
}

function invalid(message: string): NotariatError {
  return new NotariatError("config", message);
}
