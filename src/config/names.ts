/**
 * Validation of the names notariat is given: Kubernetes object names, `[namespace/]name` references and e-mail
 * contacts (DNS names: src/dns/names.ts; server addresses: src/dns/address.ts). Each function throws a
 * NotariatError of kind "config" whose message says what is wrong with the text; callers add which entry and
 * field it came from.
 */
import { domainToASCII } from "node:url";
import { dnsNameProblem, RFC1123_LABEL } from "../dns/names.ts";
import { NotariatError } from "../errors.ts";
import { quoteValue } from "../quote.ts";
import type { SecretRef } from "./types.ts";

const SUBDOMAIN_MAX = 253;
const LABEL_MAX = 63;

/**
 * Checks a Kubernetes object name that must be a DNS-1123 subdomain (Secrets, ConfigMaps): lower-case letters,
 * digits, `-` and `.`, each dot-separated part starting and ending with a letter or digit, at most 253
 * characters. `what` names the object in the message, e.g. "Secret name".
 */
export function validateSubdomain(name: string, what: string): void {
  const reason = name === ""
    ? "must not be empty"
    : name.length > SUBDOMAIN_MAX
    ? `must be at most ${SUBDOMAIN_MAX} characters, not ${name.length}`
    : name.split(".").every((part) => RFC1123_LABEL.test(part))
    ? undefined
    : "must be a lowercase RFC 1123 subdomain: letters a-z, digits, '-' and '.', " +
      "starting and ending with a letter or digit (e.g. 'example-tls')";
  if (reason !== undefined) throw invalid(`${quote(name)} is not a valid ${what}: ${reason}`);
}

/**
 * Checks a Kubernetes name that must be a DNS-1123 label (namespaces): lower-case letters, digits and `-`,
 * starting and ending with a letter or digit, at most 63 characters.
 */
export function validateLabel(name: string, what: string): void {
  const reason = name === ""
    ? "must not be empty"
    : name.length > LABEL_MAX
    ? `must be at most ${LABEL_MAX} characters, not ${name.length}`
    : RFC1123_LABEL.test(name)
    ? undefined
    : "must be a lowercase RFC 1123 label: letters a-z, digits and '-', " +
      "starting and ending with a letter or digit (e.g. 'my-namespace')";
  if (reason !== undefined) throw invalid(`${quote(name)} is not a valid ${what}: ${reason}`);
}

/**
 * Parses a Secret reference, `name` (in `defaultNamespace`) or `namespace/name`.
 *
 * @example parseSecretRef("dns/tsig", "notariat") // { namespace: "dns", name: "tsig" }
 */
export function parseSecretRef(text: string, defaultNamespace: string): SecretRef {
  const parts = text.split("/");
  if (parts.length > 2) {
    throw invalid(`${quote(text)} is not a Secret reference: expected name or namespace/name`);
  }
  const [namespace, name] = parts.length === 2 ? parts : [defaultNamespace, parts[0]];
  if (parts.length === 2) validateLabel(namespace, "namespace");
  validateSubdomain(name, "Secret name");
  return { namespace, name };
}

/**
 * Checks an ACME account contact loosely (`local@domain.tld`): the CA has the last word, this only catches
 * typos such as a missing `@` or a `mailto:` prefix. Returns the address unchanged.
 */
export function validateEmail(text: string): string {
  const at = text.lastIndexOf("@");
  const local = text.slice(0, at);
  const domain = text.slice(at + 1);
  const reason = at < 0
    ? "expected local@domain"
    : !/^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+$/.test(local)
    ? "the part before @ may hold only letters, digits, dots and !#$%&'*+/=?^_`{|}~-"
    : !domain.includes(".")
    ? "expected local@domain.tld"
    : dnsNameProblem(domainToASCII(domain) || domain);
  if (reason !== undefined) throw invalid(`${quote(text)} is not a valid e-mail address: ${reason}`);
  return text;
}

function quote(text: string): string {
  return quoteValue(text);
}

function invalid(message: string): NotariatError {
  return new NotariatError("config", message);
}
