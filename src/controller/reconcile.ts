import { certIdOf, type RenewalInfo, stableFraction } from "../acme/ari.ts";
import { type DirectoryInfo, profileProblem } from "../acme/directory.ts";
import type { Issuer } from "../acme/issuer.ts";
import {
  type CertificateSpec,
  type ChallengeType,
  DEFAULT_CHALLENGE,
  formatRef,
  type SecretRef,
} from "../config/types.ts";
import { type ErrorKind, errorMessage, NotariatError } from "../errors.ts";
import type { Kube, KubeSecret } from "../kube/types.ts";
import { type CertificateInfo, parseCertificateChain } from "../pki/certificate.ts";
import { caIdentity, type CertificateOrigin, normalizeDirectory } from "./ca_identity.ts";
import { formatServer } from "../dns/address.ts";
import { inspectSecret, TLS_CERT_KEY } from "./inspect.ts";
import { decide, type RefusalReason, type ReissueReason, type UpToDateReason } from "./policy.ts";
import { planRenewal, type RenewalPlan, type RenewalSource } from "./renewal.ts";
import { ANNOTATIONS, renewalAnnotations } from "./tls_secret.ts";
import { writeCertificate } from "./write.ts";
import { loadZoneAccess } from "./zone_access.ts";

/**
 * What reconciling one entry came to; the `result` label of notariat_reconcile_total and the log line:
 * - "valid": the Secret's certificate is up to date, nothing to do until `renewAt`;
 * - "issued" / "renewed": a new certificate was written (renewed: the old one was expiring, or the CA
 *   suggested renewing it);
 * - "kept": a new certificate was obtained, but the Secret's still serves at least as long (it was written
 *   meanwhile, or the new one is shorter-lived), so the Secret was left as it is;
 * - "would-issue": dry run, a certificate would have been requested;
 * - "failed": see `error`; retried with backoff.
 */
export type OutcomeResult = "valid" | "issued" | "renewed" | "kept" | "would-issue" | "failed";

/** Why an entry failed: the error's kind (dns, acme, config, kube, pki...), "internal" for anything else. */
export type FailureReason = ErrorKind | "internal";

/**
 * Why the outcome is what it is: the policy's reason for a certificate requested (or, dry run, that would be),
 * "Valid" for one up to date, the refusal (WrongType) or the failure's kind for a failure.
 */
export type OutcomeReason = ReissueReason | UpToDateReason | RefusalReason | FailureReason;

/** What reconciling one entry came to, with what the log line, the Event, the metrics and the schedule need. */
export interface Outcome {
  spec: CertificateSpec;
  /** The entry's challenge type (for logs, metrics and status). */
  challenge: ChallengeType;
  result: OutcomeResult;
  reason: OutcomeReason;
  /** For a failed issuance: why it was attempted (the policy's reason and message), told apart from the failure. */
  attempt?: { reason: ReissueReason; message: string };
  message: string;
  durationMs: number;
  /**
   * When the entry is next due to be looked at (results valid, issued, renewed, kept): its renewal time, or
   * the next check of the CA's renewal information when that comes first.
   */
  renewAt?: Date;
  /**
   * When the certificate in the Secret will be renewed and where that time comes from: "ari" (the CA's
   * suggested window) or "rule" (the lifetime rule). The value of the renewal-time metric.
   */
  renewal?: { at: Date; source: RenewalSource };
  /** Validity of the certificate in the Secret after the reconcile, when it holds one that parses. */
  notBefore?: Date;
  notAfter?: Date;
  /** The Secret's resourceVersion as last read or written, so the watch can ignore versions already seen. */
  secretVersion?: string;
  error?: unknown;
}

/** What reconciling needs; `issuer` is unused in a dry run. */
export interface ReconcileDeps {
  kube: Kube;
  issuer: Issuer;
  now: () => Date;
  renewBeforeMs: number;
  dryRun: boolean;
  /** The ACME directory URL, recorded on written Secrets. */
  acmeDirectory: string;
  /** Aborting it stops an issuance in flight (shutdown); the outcome is then "failed" with kind "stopped". */
  signal?: AbortSignal;
  /** Where the entry's Secret is read from (default: a GET); the controller hands out what it listed. */
  readSecret?: (ref: SecretRef) => Promise<KubeSecret | undefined>;
  /** Where the TSIG Secret is read from (default: a GET); the controller keeps it while its version holds. */
  readSharedSecret?: (ref: SecretRef) => Promise<KubeSecret | undefined>;
}

/** How an entry is named in messages, the label of issuance requests and Events: `certificates[0] (secret ns/name)`. */
export function entryLabel(spec: CertificateSpec): string {
  return `certificates[${spec.index}] (secret ${formatRef(spec.secret)})`;
}

/**
 * Brings one entry's Secret up to date: reads it, asks the CA when it suggests renewing the certificate there
 * (ARI), asks the policy whether it needs a certificate, and if so reads the TSIG Secret, obtains a
 * certificate (replacing the old one) and writes it. A valid certificate's renewal annotations are kept
 * current. Never throws: a failure is an outcome.
 */
export async function reconcileEntry(spec: CertificateSpec, deps: ReconcileDeps): Promise<Outcome> {
  const started = performance.now();
  let secretVersion: string | undefined;
  let validity: { notBefore?: Date; notAfter?: Date } = {};
  const done = (
    result: OutcomeResult,
    reason: OutcomeReason,
    message: string,
    extra: Partial<Outcome> = {},
  ): Outcome => ({
    spec,
    challenge: spec.challenge ?? DEFAULT_CHALLENGE,
    result,
    reason,
    message,
    durationMs: Math.round(performance.now() - started),
    secretVersion,
    ...validity,
    ...extra,
  });
  let attempt: Outcome["attempt"];
  try {
    const existing = deps.readSecret
      ? await deps.readSecret(spec.secret)
      : await deps.kube.readSecret(spec.secret.namespace, spec.secret.name);
    secretVersion = existing?.resourceVersion;
    const profile = spec.profile ?? deps.issuer.defaultProfile;
    // A dry run contacts no CA; without the directory, profiles and renewal information wait for issuance.
    const directory = deps.dryRun ? undefined : await deps.issuer.directoryInfo().catch(() => undefined);
    const offered = directory === undefined || profile === undefined
      ? undefined
      : profileProblem(profile, directory);
    if (offered !== undefined) {
      const field = spec.profile === undefined ? "-acme-profile" : "profile";
      const message = `${field}: ${offered}`;
      return done("failed", "config", message, { error: new NotariatError("config", message) });
    }

    const known = caIdentitiesOf(deps.issuer);
    const acme = { directory: deps.acmeDirectory, knownCaIdentities: [...known] };
    const inspected = await inspectSecret(
      existing,
      spec.domains,
      deps.now(),
      deps.renewBeforeMs,
      spec.keyType,
      acme,
    );
    learnCaIdentity(known, inspected.origin, deps.acmeDirectory);
    const current = inspected.certificate as CertificateInfo | undefined;
    if (current !== undefined) validity = { notBefore: current.notBefore, notAfter: current.notAfter };
    // The inspected leaf carries its Authority Key Identifier (the ARI name); the stored chain is read again only
    // when it does not.
    const currentId = current === undefined || directory?.renewalInfo === undefined
      ? undefined
      : certIdOf(current) ?? storedCertId(existing);
    const ari = current === undefined ? {} : await renewalInfo(deps.issuer, directory, currentId);
    const plan = current === undefined ? undefined : planOf(current, deps.renewBeforeMs, ari.info);
    const decision = decide({
      ...inspected,
      profile,
      issuedProfile: existing?.annotations?.[ANNOTATIONS.profile] || undefined,
      renewal: plan && { at: plan.at, source: plan.source, explanationUrl: ari.info?.explanationUrl },
    });
    const note = ari.problem === undefined ? "" : ` (renewal information unavailable: ${ari.problem})`;
    if (decision.action === "renew-later") {
      const renewal = { at: plan!.at, source: plan!.source };
      if (!deps.dryRun) secretVersion = await recordRenewal(deps.kube, existing!, renewal) ?? secretVersion;
      return done("valid", decision.reason, decision.message + note, { renewAt: plan!.nextLookAt, renewal });
    }
    if (decision.action === "refuse") {
      const error = new NotariatError("config", decision.message);
      return done("failed", decision.reason, decision.message, { error });
    }
    attempt = { reason: decision.reason, message: decision.message };
    const zoneAccess = await loadZoneAccess(deps.kube, spec, deps.readSharedSecret);
    if (deps.dryRun) {
      return done("would-issue", decision.reason, `would request a certificate: ${decision.message}`);
    }
    const replaces = currentId;
    const issued = await deps.issuer.issue({
      label: entryLabel(spec),
      domains: spec.domains,
      email: spec.email,
      keyType: spec.keyType,
      zoneAccess,
      profile,
      replaces: directory?.renewalInfo === undefined ? undefined : replaces,
      signal: deps.signal,
      challenge: spec.challenge ?? DEFAULT_CHALLENGE,
      persistUntil: spec.persistUntil,
      standingOwner: {
        entry: formatRef(spec.secret),
        ...(spec.tsigSecret === undefined ? {} : { tsigSecret: formatRef(spec.tsigSecret) }),
        ...(spec.nameserver === undefined ? {} : { nameserver: formatServer(spec.nameserver) }),
      },
    });
    // The issuer hands over the leaf it parsed when it checked the chain.
    const { leaf } = issued;
    known.add(caIdentity(leaf.issuer));
    const fresh = await renewalInfo(deps.issuer, directory, certIdOf(leaf));
    const next = planOf(leaf, deps.renewBeforeMs, fresh.info);
    const renewal = { at: next.at, source: next.source };
    const written = await writeCertificate(deps.kube, spec.secret, issued, {
      existing,
      domains: spec.domains,
      keyType: spec.keyType,
      acme: { directory: deps.acmeDirectory, knownCaIdentities: [...known] },
      renewBeforeMs: deps.renewBeforeMs,
      now: deps.now,
      facts: {
        issuer: leaf.issuer,
        serialNumber: leaf.serialNumber,
        acmeDirectory: deps.acmeDirectory,
        issuedAt: deps.now(),
        profile,
        renewal,
        challenge: spec.challenge ?? DEFAULT_CHALLENGE,
      },
    });
    if (!written.written) {
      // What is in the Secret now is another certificate: look at it again soon rather than plan for ours.
      return done("kept", decision.reason, written.keptBecause, {
        renewAt: next.nextLookAt,
        secretVersion: written.resourceVersion,
      });
    }
    validity = { notBefore: leaf.notBefore, notAfter: leaf.notAfter };
    const verb = decision.reason === "Expiring" || decision.reason === "RenewalSuggested"
      ? "renewed"
      : "issued";
    const conflicts = written.conflicts > 0 ? ` after ${written.conflicts} write conflict(s)` : "";
    return done(
      verb,
      decision.reason,
      `${verb} a certificate for ${spec.domains.join(", ")} valid until ${leaf.notAfter.toISOString()} ` +
        `(${decision.message}); next renewal at ${renewal.at.toISOString()} (${renewal.source})${conflicts}`,
      { renewAt: next.nextLookAt, renewal, secretVersion: written.secret.resourceVersion },
    );
  } catch (error) {
    const kind: FailureReason = error instanceof NotariatError ? error.kind : "internal";
    return done("failed", kind, withoutLabel(errorMessage(error), entryLabel(spec)), { error, attempt });
  }
}

/**
 * The CA's renewal information for a certificate named by its ARI identifier, when the CA offers ARI; a
 * failure is not the entry's failure (the lifetime rule still holds), only noted.
 */
async function renewalInfo(
  issuer: Issuer,
  directory: DirectoryInfo | undefined,
  certId: string | undefined,
): Promise<{ info?: RenewalInfo; problem?: string }> {
  if (directory?.renewalInfo === undefined) return {};
  if (certId === undefined) return { problem: "the certificate has no Authority Key Identifier" };
  try {
    return { info: await issuer.renewalInfo(certId) };
  } catch (err) {
    return { problem: errorMessage(err) };
  }
}

/** The ARI identifier of the Secret's leaf certificate, read with the full parser; undefined when it has none. */
function storedCertId(secret: KubeSecret | undefined): string | undefined {
  const crt = secret?.data[TLS_CERT_KEY];
  if (crt === undefined) return undefined;
  try {
    const [leaf] = parseCertificateChain(new TextDecoder().decode(crt));
    return certIdOf(leaf);
  } catch {
    return undefined;
  }
}

function planOf(
  certificate: CertificateInfo,
  renewBeforeMs: number,
  info: RenewalInfo | undefined,
): RenewalPlan {
  return planRenewal({
    notBefore: certificate.notBefore,
    notAfter: certificate.notAfter,
    renewBeforeMs,
    ari: info && {
      window: info.window,
      checkAt: info.checkAt,
      random: stableFraction(info.certId),
      seenAt: info.seenAt,
    },
  });
}

/**
 * Brings a valid certificate's renewal annotations up to date when the CA moved its window; returns the new
 * resourceVersion, or undefined when nothing was written. A conflict is left to the next look: the
 * annotations are informative.
 */
async function recordRenewal(
  kube: Kube,
  secret: KubeSecret,
  renewal: { at: Date; source: RenewalSource },
): Promise<string | undefined> {
  const wanted = renewalAnnotations(renewal);
  const annotations = secret.annotations ?? {};
  // A Secret notariat has not written yet (adopted from another tool) stays untouched until it is reissued.
  if (annotations[ANNOTATIONS.renewAt] === undefined) return undefined;
  if (Object.entries(wanted).every(([key, value]) => annotations[key] === value)) return undefined;
  try {
    const updated = await kube.updateSecret({ ...secret, annotations: { ...annotations, ...wanted } });
    return updated.resourceVersion;
  } catch {
    return undefined;
  }
}

/**
 * The identities each issuer's CA is known to issue as: learned from what it issued, and from certificates
 * notariat wrote from its directory. Kept per issuer (one per CA and process), so a Secret another tool wrote
 * is judged against the CA notariat uses now, and only once that CA is known.
 */
const knownCaIdentities = new WeakMap<Issuer, Set<string>>();

function caIdentitiesOf(issuer: Issuer): Set<string> {
  let known = knownCaIdentities.get(issuer);
  if (known === undefined) knownCaIdentities.set(issuer, known = new Set());
  return known;
}

function learnCaIdentity(known: Set<string>, origin: CertificateOrigin | undefined, directory: string): void {
  if (origin?.directory === undefined) return;
  if (normalizeDirectory(origin.directory) === normalizeDirectory(directory)) known.add(origin.caIdentity);
}

/** The issuer names the entry in its errors; the recorder names it once more, so it is dropped here. */
function withoutLabel(message: string, label: string): string {
  return message.startsWith(`${label}: `) ? message.slice(label.length + 2) : message;
}
