import type { KeyType } from "../config/types.ts";
import { type CertificateOrigin, normalizeDirectory } from "./ca_identity.ts";
import { type RenewalSource, renewalTime } from "./renewal.ts";

/**
 * Why a Secret needs a new certificate. The reason is the log field, the event message and the metric label.
 */
export type ReissueReason =
  | "DoesNotExist"
  | "MissingData"
  | "InvalidKeyPair"
  | "DomainsMismatch"
  | "KeyTypeMismatch"
  | "ProfileChanged"
  | "RenewalSuggested"
  | "IncompleteChain"
  | "IssuerChanged"
  | "Expiring";

/** Why notariat refuses to touch a Secret at all: it is of another type (a user's Secret). */
export type RefusalReason = "WrongType";

/** The reason of a certificate that needs nothing until its renewal time. */
export type UpToDateReason = "Valid";

/** What the Secret holds, as far as the policy cares; gathered by `inspectSecret`, plain data here. */
export interface PolicyInput {
  /** The configured domains of the entry. */
  domains: string[];
  /** The configured key type of the entry; undefined: any key type will do. */
  keyType?: KeyType;
  now: Date;
  renewBeforeMs: number;
  exists: boolean;
  /** The Secret's `type`. */
  type?: string;
  /** The leaf certificate of `tls.crt` when it parses. */
  certificate?: CertificateFacts;
  /** Why `tls.crt` or `tls.key` is missing or not PEM; undefined when both are present and parse. */
  dataProblem?: string;
  /** Whether `tls.key` is the private key of the leaf certificate. */
  keyMatches?: boolean;
  /** The profile the entry asks for now; undefined: the CA's default. */
  profile?: string;
  /** The profile the certificate was issued under, as notariat recorded it on the Secret. */
  issuedProfile?: string;
  /**
   * When the certificate is to be renewed and by what: the CA's renewal information ("ari") or the lifetime
   * rule. Undefined: the rule, computed here.
   */
  renewal?: { at: Date; source: RenewalSource; explanationUrl?: string };
  /** Why `tls.crt` is not a chain a client can follow to a root (see chainGap); undefined when it is. */
  chainProblem?: string;
  /** The CA certificates must come from; undefined: any CA will do. */
  acme?: AcmeExpectation;
  /** Where the certificate came from (see certificateOrigin). */
  origin?: CertificateOrigin;
}

/** The configured ACME directory, and the identities its CA is known to issue as (learned from its certificates). */
export interface AcmeExpectation {
  directory: string;
  knownCaIdentities: readonly string[];
}

/** The parts of a leaf certificate the policy looks at (a subset of the PKI module's CertificateInfo). */
export interface CertificateFacts {
  notBefore: Date;
  notAfter: Date;
  /** SAN DNS names, lower-case. */
  dnsNames: string[];
  /** The type of the certificate's key, when it is one notariat can ask for. */
  keyType?: KeyType;
}

/** The answer to "should the Secret get a new certificate?" for one Secret. */
export type Decision =
  /** Obtain a new certificate and write it. */
  | { action: "issue"; reason: ReissueReason; message: string }
  /** The entry cannot be served without a human (e.g. the Secret is of another type): an error, never a write. */
  | { action: "refuse"; reason: RefusalReason; message: string }
  /** The certificate is up to date: nothing to do until `renewAt`. */
  | { action: "renew-later"; reason: UpToDateReason; message: string; renewAt: Date };

/** One check: a verdict when the Secret fails it, undefined when it passes. */
export type PolicyCheck = (input: PolicyInput) => Exclude<Decision, { action: "renew-later" }> | undefined;

/** The Secret is managed as kubernetes.io/tls; any other type is a user's Secret notariat must not overwrite. */
export const TLS_SECRET_TYPE = "kubernetes.io/tls";

const doesNotExist: PolicyCheck = (input) =>
  input.exists
    ? undefined
    : { action: "issue", reason: "DoesNotExist", message: "the Secret does not exist" };

const wrongType: PolicyCheck = (input) =>
  input.type === TLS_SECRET_TYPE ? undefined : {
    action: "refuse",
    reason: "WrongType",
    message: `the Secret has type ${JSON.stringify(input.type ?? "")}, not ${TLS_SECRET_TYPE}; ` +
      "notariat does not convert it: delete it or point the entry at another Secret",
  };

const missingData: PolicyCheck = (input) =>
  input.dataProblem === undefined && input.certificate !== undefined ? undefined : {
    action: "issue",
    reason: "MissingData",
    message: input.dataProblem ?? "tls.crt holds no certificate",
  };

const invalidKeyPair: PolicyCheck = (input) =>
  input.keyMatches === true ? undefined : {
    action: "issue",
    reason: "InvalidKeyPair",
    message: "tls.key is not the private key of the certificate in tls.crt",
  };

const domainsMismatch: PolicyCheck = (input) => {
  const have = new Set(input.certificate?.dnsNames ?? []);
  const want = new Set(input.domains.map((d) => d.toLowerCase()));
  const missing = [...want].filter((d) => !have.has(d));
  const extra = [...have].filter((d) => !want.has(d));
  if (missing.length === 0 && extra.length === 0) return undefined;
  const parts = [];
  if (missing.length > 0) parts.push(`missing ${missing.join(", ")}`);
  if (extra.length > 0) parts.push(`not configured ${extra.join(", ")}`);
  return {
    action: "issue",
    reason: "DomainsMismatch",
    message: `the certificate does not cover exactly the configured domains (${parts.join("; ")})`,
  };
};

const keyTypeMismatch: PolicyCheck = (input) => {
  const have = input.certificate?.keyType;
  if (input.keyType === undefined || have === input.keyType) return undefined;
  return {
    action: "issue",
    reason: "KeyTypeMismatch",
    message: `the certificate's key is ${have ?? "of another type"}, the entry asks for ${input.keyType}`,
  };
};

const profileChanged: PolicyCheck = (input) => {
  const want = input.profile ?? "";
  const have = input.issuedProfile ?? "";
  if (want === have) return undefined;
  const name = (profile: string) => profile === "" ? "the CA's default profile" : `profile "${profile}"`;
  return {
    action: "issue",
    reason: "ProfileChanged",
    message: `the certificate was issued under ${name(have)}, the entry asks for ${name(want)}`,
  };
};

/** When the certificate is due: the CA's suggestion when it made one, else the lifetime rule. */
function renewalOf(input: PolicyInput, cert: CertificateFacts): { at: Date; source: RenewalSource } {
  return input.renewal ??
    { at: renewalTime(cert.notBefore, cert.notAfter, input.renewBeforeMs), source: "rule" };
}

const incompleteChain: PolicyCheck = (input) =>
  input.chainProblem === undefined
    ? undefined
    : { action: "issue", reason: "IncompleteChain", message: input.chainProblem };

const issuerChanged: PolicyCheck = (input) => {
  const { acme, origin } = input;
  if (acme === undefined || origin === undefined) return undefined;
  if (origin.directory !== undefined) {
    if (normalizeDirectory(origin.directory) === normalizeDirectory(acme.directory)) return undefined;
    return {
      action: "issue",
      reason: "IssuerChanged",
      message: `the certificate came from ${origin.directory}; notariat now uses ${acme.directory}`,
    };
  }
  // Not written by notariat: judged by its issuer, once the configured CA's is known; a guess never reissues.
  if (acme.knownCaIdentities.length === 0 || acme.knownCaIdentities.includes(origin.caIdentity)) {
    return undefined;
  }
  return {
    action: "issue",
    reason: "IssuerChanged",
    message: `the certificate was issued by ${origin.caIdentity}, not by the CA of ${acme.directory} ` +
      `(${acme.knownCaIdentities.join("; ")})`,
  };
};

const expiring: PolicyCheck = (input) => {
  const cert = input.certificate;
  if (cert === undefined) return undefined;
  const renewal = renewalOf(input, cert);
  const renewAt = renewal.at;
  if (input.now.getTime() < renewAt.getTime()) return undefined;
  const expired = input.now.getTime() >= cert.notAfter.getTime();
  if (renewal.source === "ari" && !expired) {
    const why = input.renewal?.explanationUrl ? ` (explanation: ${input.renewal.explanationUrl})` : "";
    return {
      action: "issue",
      reason: "RenewalSuggested",
      message: `the CA's renewal information suggests renewing since ${renewAt.toISOString()}${why}; ` +
        `the certificate expires at ${cert.notAfter.toISOString()}`,
    };
  }
  return {
    action: "issue",
    reason: "Expiring",
    message: expired
      ? `the certificate expired at ${cert.notAfter.toISOString()}`
      : `the certificate expires at ${cert.notAfter.toISOString()}, inside the renewal window (since ${renewAt.toISOString()})`,
  };
};

/** The checks in order; the first that fails decides. Order matters: later checks assume earlier ones passed. */
export const POLICY_CHECKS: readonly PolicyCheck[] = [
  doesNotExist,
  wrongType,
  missingData,
  invalidKeyPair,
  domainsMismatch,
  keyTypeMismatch,
  issuerChanged,
  profileChanged,
  expiring,
  incompleteChain,
];

/**
 * The first question: should the Secret get a new certificate, and why; or, when it is up to date, when it is
 * due for renewal.
 */
export function decide(input: PolicyInput): Decision {
  for (const check of POLICY_CHECKS) {
    const verdict = check(input);
    if (verdict !== undefined) return verdict;
  }
  const cert = input.certificate!;
  const renewal = renewalOf(input, cert);
  const renewAt = renewal.at;
  return {
    action: "renew-later",
    reason: "Valid",
    message: `the certificate is valid until ${cert.notAfter.toISOString()}; renewal at ` +
      `${renewAt.toISOString()} (${
        renewal.source === "ari" ? "the CA's renewal information" : "lifetime rule"
      })`,
    renewAt,
  };
}

/**
 * The answer to "is this certificate still serving?": it is, until `until` (its expiry), or it is not, and the
 * reason and message say why (the policy's).
 */
export type Serving =
  | { serving: true; until: Date }
  | { serving: false; reason: ReissueReason | RefusalReason; message: string };

/**
 * The second question, apart from whether to reissue (as cert-manager tells "should it be reissued" from "is
 * it ready"): does the certificate still serve its domains with its key? It does when it passes every reissue
 * check, or fails only by being due for renewal (Expiring, RenewalSuggested) while it has not expired. Asked
 * of a certificate the CA just issued before it is written, and of the Secret's certificate before it is
 * replaced: a serving certificate is never replaced by one that ends sooner.
 */
export function stillServing(input: PolicyInput): Serving {
  const decision = decide(input);
  const notAfter = input.certificate?.notAfter;
  if (decision.action === "renew-later") return { serving: true, until: notAfter! };
  const due = decision.reason === "Expiring" || decision.reason === "RenewalSuggested";
  if (due && notAfter !== undefined && input.now.getTime() < notAfter.getTime()) {
    return { serving: true, until: notAfter };
  }
  return { serving: false, reason: decision.reason, message: decision.message };
}
