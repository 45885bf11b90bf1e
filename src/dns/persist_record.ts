/**
 * The standing TXT record of DNS-PERSIST-01 (draft-ietf-acme-dns-persist; CA/Browser Forum method 3.2.2.4.22):
 * `_validation-persist.<domain>` holding an RFC 8659 issue-value,
 * `<issuer-domain-name>; accounturi=<account URI>[; policy=wildcard][; persistUntil=<seconds>]`. Pure: naming,
 * formatting, parsing and comparing; writing it is the DNS UPDATE path's job.
 */
import { createHash } from "node:crypto";

/** The label under which the standing record lives. */
export const PERSIST_LABEL = "_validation-persist";

/** `_validation-persist.<domain>`; a wildcard's record lives at its base name, like a dns-01 challenge. */
export function persistRecordName(domain: string): string {
  return `${PERSIST_LABEL}.${baseDomain(domain)}`;
}

/** The domain without a leading `*.` or trailing dot, lower-cased. */
export function baseDomain(domain: string): string {
  return domain.toLowerCase().replace(/^\*\./, "").replace(/\.$/, "");
}

/** What a standing record says. */
export interface PersistRecord {
  /** The CA's issuer domain name, as its challenge object (or directory) lists it. */
  issuerDomainName: string;
  /** The account, in the form the CA's draft revision expects (see persistAccountUri). */
  accountUri: string;
  /** The record also authorizes wildcard certificates (`policy=wildcard`). */
  wildcard: boolean;
  /** After this instant the CA no longer honours the record (`persistUntil`, whole seconds). */
  persistUntil?: Date;
}

/**
 * The record's TXT value, in the order and spelling of the drafts' examples.
 *
 * @example formatPersistValue({ issuerDomainName: "letsencrypt.org", accountUri: "https://ca/acct/1", wildcard: true })
 *   // "letsencrypt.org; accounturi=https://ca/acct/1; policy=wildcard"
 */
export function formatPersistValue(record: PersistRecord): string {
  let value = `${record.issuerDomainName}; accounturi=${record.accountUri}`;
  if (record.wildcard) value += "; policy=wildcard";
  if (record.persistUntil !== undefined) {
    value += `; persistUntil=${Math.floor(record.persistUntil.getTime() / 1000)}`;
  }
  return value;
}

/**
 * Reads a TXT value as a standing record the way a CA does (RFC 8659 issue-value: tags case-insensitive,
 * whitespace around `;` and `=` ignored, a policy other than `wildcard` treated as absent); undefined when the
 * value is not one (no issuer, a malformed or repeated parameter, no accounturi).
 */
export function parsePersistValue(text: string): PersistRecord | undefined {
  const [issuerPart, ...params] = text.split(";");
  const issuerDomainName = trimWsp(issuerPart).toLowerCase();
  if (issuerDomainName === "") return undefined;
  const seen = new Set<string>();
  let accountUri: string | undefined;
  let wildcard = false;
  let persistUntil: Date | undefined;
  for (const raw of params) {
    const param = trimWsp(raw);
    const eq = param.indexOf("=");
    if (eq <= 0) return undefined;
    const tag = trimWsp(param.slice(0, eq)).toLowerCase();
    const value = trimWsp(param.slice(eq + 1));
    if (seen.has(tag) || !/^[\x21-\x3a\x3c-\x7e]*$/.test(value)) return undefined;
    seen.add(tag);
    if (tag === "accounturi") accountUri = value;
    else if (tag === "policy") wildcard = value.toLowerCase() === "wildcard";
    else if (tag === "persistuntil") {
      if (!/^\d+$/.test(value)) return undefined;
      persistUntil = new Date(Number(value) * 1000);
    }
  }
  if (!accountUri) return undefined;
  return persistUntil === undefined
    ? { issuerDomainName, accountUri, wildcard }
    : { issuerDomainName, accountUri, wildcard, persistUntil };
}

/**
 * Whether a served TXT value says exactly what `wanted` says: one of the CA's issuer domain names, the same
 * account, the same policy and the same persistUntil (so a changed entry gets its record replaced).
 */
export function persistValueMatches(
  served: string,
  wanted: Omit<PersistRecord, "issuerDomainName">,
  issuerDomainNames: readonly string[],
): boolean {
  const record = parsePersistValue(served);
  if (record === undefined) return false;
  const seconds = (d: Date | undefined) => d === undefined ? undefined : Math.floor(d.getTime() / 1000);
  return issuerDomainNames.some((name) => name.toLowerCase() === record.issuerDomainName) &&
    record.accountUri === wanted.accountUri && record.wildcard === wanted.wildcard &&
    seconds(record.persistUntil) === seconds(wanted.persistUntil);
}

/** The inputs of the account URI, from the account and the CA's directory and challenge objects. */
export interface AccountUriInputs {
  /** The account URL (RFC 8555 `kid`). */
  accountUrl: string;
  /** The record's domain (its base name). */
  domain: string;
  /** base64url SHA-256 JWK thumbprint of the account key (RFC 7638), as in a key authorization. */
  thumbprint: string;
  /** The directory's `meta.accountHashPrefix`: present only at CAs following draft -02. */
  accountHashPrefix?: string;
  /** The challenge object's `accounturi`, which some CAs of draft -01 send. */
  challengeAccountUri?: string;
}

/**
 * The `accounturi` a CA expects. Draft -02 (a CA announcing `accountHashPrefix`) binds account key, account URL
 * and domain: `<prefix>sha-256/<base64url SHA-256(len(domain) || domain || thumbprint || account URL)>`. Drafts
 * -00 and -01 write the account URL itself, which a CA may also spell out in the challenge object.
 */
export function persistAccountUri(inputs: AccountUriInputs): string {
  if (inputs.accountHashPrefix !== undefined) {
    const domain = new TextEncoder().encode(inputs.domain);
    const digest = createHash("sha256")
      .update(new Uint8Array([domain.length]))
      .update(domain)
      .update(inputs.thumbprint)
      .update(inputs.accountUrl)
      .digest("base64url");
    return `${inputs.accountHashPrefix}sha-256/${digest}`;
  }
  return inputs.challengeAccountUri ?? inputs.accountUrl;
}

/** A zone-file line for the record, with the value cut into 255-byte character-strings (RFC 1035 3.3.14). */
export function formatPersistZoneLine(domain: string, value: string): string {
  const strings: string[] = [];
  for (let i = 0; i < value.length; i += 255) strings.push(JSON.stringify(value.slice(i, i + 255)));
  return `${persistRecordName(domain)}. IN TXT ${strings.join(" ")}`;
}

function trimWsp(text: string): string {
  return text.replace(/^[ \t]+|[ \t]+$/g, "");
}
