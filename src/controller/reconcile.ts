import type { Issuer } from "../acme/issuer.ts";
import {
  type CertificateSpec,
  type ChallengeType,
  DEFAULT_CHALLENGE,
  formatRef,
  type SecretRef,
} from "../config/types.ts";
import { errorMessage, NotariatError } from "../errors.ts";
import type { Kube, KubeSecret } from "../kube/types.ts";
import { parseCertificateChain } from "../pki/certificate.ts";
import { caIdentity, type CertificateOrigin, normalizeDirectory } from "./ca_identity.ts";
import { formatServer } from "../dns/address.ts";
import { inspectSecret } from "./inspect.ts";
import { decide, type ReissueReason } from "./policy.ts";
import { renewalTime } from "./renewal.ts";
import { writeCertificate } from "./write.ts";
import { loadZoneAccess } from "./zone_access.ts";

/**
 * What reconciling one entry came to:
 * - "valid": nothing to do until `renewAt`;
 * - "issued" / "renewed": a new certificate was written (renewed: the old one was expiring);
 * - "kept": a new certificate was obtained, but a better one appeared in the Secret meanwhile;
 * - "would-issue": dry run, a certificate would have been requested;
 * - "failed": see `error`; retried with backoff.
 */
export interface Outcome {
  spec: CertificateSpec;
  /** The entry's challenge type (for logs, metrics and status). */
  challenge: ChallengeType;
  result: "valid" | "issued" | "renewed" | "kept" | "would-issue" | "failed";
  /**
   * Why a certificate was (or would be) requested, or "Valid"; for a failure, why it failed: the policy's
   * refusal (WrongType) or the error kind (dns, acme, config, kube, pki...).
   */
  reason: ReissueReason | "Valid" | string;
  /** For a failed issuance: why it was attempted (the policy's reason and message), told apart from the failure. */
  attempt?: { reason: ReissueReason; message: string };
  message: string;
  durationMs: number;
  /** When the certificate in the Secret is next due (results valid, issued, renewed, kept). */
  renewAt?: Date;
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
}

/** How an entry is named in messages, the label of issuance requests and Events: `certificates[0] (secret ns/name)`. */
export function entryLabel(spec: CertificateSpec): string {
  return `certificates[${spec.index}] (secret ${formatRef(spec.secret)})`;
}

/**
 * Brings one entry's Secret up to date: reads it, asks the policy whether it needs a certificate, and if so
 * reads the TSIG Secret, obtains a certificate and writes it. Never throws: a failure is an outcome.
 */
export async function reconcileEntry(spec: CertificateSpec, deps: ReconcileDeps): Promise<Outcome> {
  const started = performance.now();
  let secretVersion: string | undefined;
  let validity: { notBefore?: Date; notAfter?: Date } = {};
  const done = (
    result: Outcome["result"],
    reason: string,
    message: string,
    extra: Partial<Outcome> = {},
  ) => ({
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
    const known = caIdentitiesOf(deps.issuer);
    const acme = { directory: deps.acmeDirectory, knownCaIdentities: [...known] };
    const input = await inspectSecret(
      existing,
      spec.domains,
      deps.now(),
      deps.renewBeforeMs,
      spec.keyType,
      acme,
    );
    learnCaIdentity(known, input.origin, deps.acmeDirectory);
    if (input.certificate !== undefined) {
      validity = { notBefore: input.certificate.notBefore, notAfter: input.certificate.notAfter };
    }
    const decision = decide(input);
    if (decision.action === "keep") {
      return done("valid", decision.reason, decision.message, { renewAt: decision.renewAt });
    }
    if (decision.action === "refuse") {
      const error = new NotariatError("config", decision.message);
      return done("failed", decision.reason, decision.message, { error });
    }
    attempt = { reason: decision.reason, message: decision.message };
    const zoneAccess = await loadZoneAccess(deps.kube, spec);
    if (deps.dryRun) {
      return done("would-issue", decision.reason, `would request a certificate: ${decision.message}`);
    }
    const issued = await deps.issuer.issue({
      label: entryLabel(spec),
      domains: spec.domains,
      email: spec.email,
      keyType: spec.keyType,
      zoneAccess,
      signal: deps.signal,
      challenge: spec.challenge ?? DEFAULT_CHALLENGE,
      persistUntil: spec.persistUntil,
      standingOwner: {
        entry: formatRef(spec.secret),
        ...(spec.tsigSecret === undefined ? {} : { tsigSecret: formatRef(spec.tsigSecret) }),
        ...(spec.nameserver === undefined ? {} : { nameserver: formatServer(spec.nameserver) }),
      },
    });
    // The issuer hands over the chain it parsed when it checked it.
    const [leaf] = issued.verified?.chain ?? parseCertificateChain(issued.certificatePem);
    known.add(caIdentity(leaf.issuer));
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
        challenge: spec.challenge ?? DEFAULT_CHALLENGE,
      },
    });
    const renewAt = renewalTime(issued.notBefore, issued.notAfter, deps.renewBeforeMs);
    if (!written.written) {
      return done("kept", decision.reason, written.reason, {
        renewAt,
        secretVersion: written.resourceVersion,
      });
    }
    validity = { notBefore: issued.notBefore, notAfter: issued.notAfter };
    const verb = decision.reason === "Expiring" ? "renewed" : "issued";
    const conflicts = written.conflicts > 0 ? ` after ${written.conflicts} write conflict(s)` : "";
    return done(
      verb,
      decision.reason,
      `${verb} a certificate for ${spec.domains.join(", ")} valid until ${issued.notAfter.toISOString()} ` +
        `(${decision.message})${conflicts}`,
      { renewAt, secretVersion: written.secret.resourceVersion },
    );
  } catch (error) {
    const kind = error instanceof NotariatError ? error.kind : "internal";
    return done("failed", kind, withoutLabel(errorMessage(error), entryLabel(spec)), { error, attempt });
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
