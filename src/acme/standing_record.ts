/**
 * `notariat persist-record`: the standing dns-persist-01 records an entry needs, for zones kept by hand or
 * through GitOps (no TSIG key in the cluster). The issuer domain name comes from the CA's directory
 * (`meta.issuerDomainNames` in draft -02, else `meta.caaIdentities`), the account URI from the entry's account
 * in the form the CA's draft revision expects; the values are those issuance then finds in place.
 */
import type { CertificateSpec } from "../config/types.ts";
import {
  baseDomain,
  formatPersistValue,
  formatPersistZoneLine,
  persistAccountUri,
} from "../dns/persist_record.ts";
import { NotariatError } from "../errors.ts";
import type { AcmeSession } from "./client.ts";

/** One record to put in the zone. */
export interface StandingRecordLine {
  domain: string;
  value: string;
  /** `_validation-persist.<domain>. IN TXT "<value>"`, ready for a zone file. */
  zoneLine: string;
}

/** The issuer domain names a directory lists for dns-persist-01, lower-cased. */
export function directoryIssuerNames(meta: Record<string, unknown>): string[] {
  const names = Array.isArray(meta.issuerDomainNames) ? meta.issuerDomainNames : meta.caaIdentities;
  return Array.isArray(names)
    ? names.filter((n): n is string => typeof n === "string" && n !== "").map((n) => n.toLowerCase())
    : [];
}

/**
 * The records for `spec` (one per base domain, `policy=wildcard` where the entry has the wildcard), for the
 * registered account of `session`. Throws NotariatError kind "acme" when the CA names no issuer domain.
 */
export async function standingRecordLines(
  spec: CertificateSpec,
  session: AcmeSession,
): Promise<StandingRecordLine[]> {
  const accountUrl = session.accountUrl;
  if (accountUrl === undefined) throw new NotariatError("acme", "the account is not registered");
  const [meta, thumbprint] = await Promise.all([session.directoryMeta(), session.thumbprint()]);
  const [issuerDomainName] = directoryIssuerNames(meta);
  if (issuerDomainName === undefined) {
    throw new NotariatError(
      "acme",
      "the CA's directory names no issuer domain (meta.caaIdentities): the record cannot be written in advance",
    );
  }
  const prefix = typeof meta.accountHashPrefix === "string" ? meta.accountHashPrefix : undefined;
  const bases = [...new Set(spec.domains.map(baseDomain))];
  return bases.map((domain) => {
    const value = formatPersistValue({
      issuerDomainName,
      accountUri: persistAccountUri({ accountUrl, domain, thumbprint, accountHashPrefix: prefix }),
      wildcard: spec.domains.some((d) => d.startsWith("*.") && baseDomain(d) === domain),
      ...(spec.persistUntil === undefined ? {} : { persistUntil: spec.persistUntil }),
    });
    return { domain, value, zoneLine: formatPersistZoneLine(domain, value) };
  });
}
