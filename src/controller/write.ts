import type { IssuedCertificate } from "../acme/issuer.ts";
import { formatRef, type KeyType, type SecretRef } from "../config/types.ts";
import { NotariatError } from "../errors.ts";
import { isKubeStatus, type Kube, type KubeSecret } from "../kube/types.ts";
import { inspectSecret } from "./inspect.ts";
import { type AcmeExpectation, decide, type Decision, type PolicyInput, TLS_SECRET_TYPE } from "./policy.ts";
import { type IssuedFacts, tlsSecret } from "./tls_secret.ts";

/** How many times a write is tried when the Secret keeps changing under it (409 Conflict). */
export const MAX_WRITE_ATTEMPTS = 5;

/** What the write did: wrote the certificate, or kept a better one someone else wrote meanwhile. */
export type WriteResult =
  | { written: true; secret: KubeSecret; conflicts: number }
  | { written: false; reason: string; conflicts: number; resourceVersion?: string };

/** What `writeCertificate` needs besides the certificate. */
export interface WriteOptions {
  /** The Secret as read before issuing (undefined when it did not exist): the first write goes against it. */
  existing: KubeSecret | undefined;
  domains: string[];
  /** The entry's key type: a certificate with another kind of key does not count as valid. */
  keyType?: KeyType;
  /** The CA certificates must come from: one from another CA does not count as valid. */
  acme?: AcmeExpectation;
  facts: IssuedFacts;
  renewBeforeMs: number;
  now: () => Date;
}

/**
 * Stores an issued certificate in its Secret: creates it, or updates it in place against the version read
 * (keeping the user's keys, labels and annotations). A conflict (409: the Secret changed) re-reads it and
 * tries again, at most MAX_WRITE_ATTEMPTS times; if what is there (first or after a conflict) is a certificate
 * still valid for the same domains and lasting at least as long, it is kept: a valid certificate is never
 * replaced by a worse one. An issued certificate that is itself unusable (other names, another key, expired)
 * is never written: NotariatError kind "pki".
 */
export async function writeCertificate(
  kube: Kube,
  ref: SecretRef,
  issued: IssuedCertificate,
  options: WriteOptions,
): Promise<WriteResult> {
  await checkUsable(ref, issued, options);
  let current = options.existing;
  for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
    if (attempt > 0) current = await kube.readSecret(ref.namespace, ref.name);
    const better = await betterThan(current, issued, options, attempt > 0);
    if (better !== undefined) {
      return {
        written: false,
        reason: better,
        conflicts: attempt,
        resourceVersion: current?.resourceVersion,
      };
    }
    if (current !== undefined && current.type !== TLS_SECRET_TYPE) {
      const type = JSON.stringify(current.type);
      throw new NotariatError(
        "kube",
        `Secret ${formatRef(ref)} became of type ${type} meanwhile; not overwriting it`,
      );
    }
    const desired = tlsSecret(ref, current, issued, options.facts);
    try {
      const secret = current === undefined
        ? await kube.createSecret(desired)
        : await kube.updateSecret(desired);
      return { written: true, secret, conflicts: attempt };
    } catch (err) {
      if (!isKubeStatus(err, 409)) throw err;
    }
  }
  const secret = formatRef(ref);
  throw new NotariatError(
    "kube",
    `Secret ${secret} kept changing while being written (${MAX_WRITE_ATTEMPTS} conflicts); will retry`,
  );
}

/**
 * The issued certificate judged by the same policy as a stored one: it must name exactly the domains, belong
 * to its key and not have expired. Only the renewal window may be entered already (a short-lived certificate).
 * A certificate the issuer verified comes with its parsed chain and is judged from that, not parsed again.
 */
async function checkUsable(ref: SecretRef, issued: IssuedCertificate, options: WriteOptions): Promise<void> {
  const leaf = issued.verified?.chain[0];
  const input = leaf === undefined
    ? await inspectSecret(
      tlsSecret(ref, undefined, issued, {
        issuer: "",
        serialNumber: "",
        acmeDirectory: "",
        issuedAt: options.now(),
      }),
      options.domains,
      options.now(),
      options.renewBeforeMs,
      options.keyType,
      options.acme,
    )
    : {
      domains: options.domains,
      keyType: options.keyType,
      now: options.now(),
      renewBeforeMs: options.renewBeforeMs,
      exists: true,
      type: TLS_SECRET_TYPE,
      certificate: leaf,
      dataProblem: leaf.isCa ? "the issued chain begins with a CA certificate" : undefined,
      keyMatches: true,
    };
  const { decision, validUntil } = judgeInput(input);
  if (validUntil !== undefined) return;
  throw new NotariatError(
    "pki",
    `the issued certificate is unusable and was not written to Secret ${formatRef(ref)}: ${decision.message}`,
  );
}

/**
 * Why `current` is kept instead of the issued certificate, or undefined to write: it is kept when it still
 * serves the domains with its key, has not expired and lasts at least as long as the issued one.
 */
async function betterThan(
  current: KubeSecret | undefined,
  issued: IssuedCertificate,
  options: WriteOptions,
  meanwhile: boolean,
): Promise<string | undefined> {
  const { validUntil: notAfter } = await judge(current, options);
  if (notAfter === undefined) return undefined;
  // A tie goes to what is there when it was written meanwhile, and to the new certificate when a renewal was
  // asked for: expiry has a one-second grain, and a quick renewal can end in the same second.
  const margin = notAfter.getTime() - issued.notAfter.getTime();
  if (margin < 0 || (margin === 0 && !meanwhile)) return undefined;
  if (meanwhile) return `a valid certificate until ${notAfter.toISOString()} was written meanwhile; kept it`;
  return `the issued certificate expires at ${issued.notAfter.toISOString()}, before the Secret's certificate ` +
    `(valid until ${notAfter.toISOString()}); kept the Secret's`;
}

/**
 * The policy's decision on `secret`, and the certificate's expiry when it still serves the domains with its
 * key: valid, or inside its renewal window but not yet expired. Both the issued certificate and the one it
 * would replace are judged by this one rule.
 */
async function judge(
  secret: KubeSecret | undefined,
  options: WriteOptions,
): Promise<{ decision: Decision; validUntil?: Date }> {
  const now = options.now();
  return judgeInput(
    await inspectSecret(secret, options.domains, now, options.renewBeforeMs, options.keyType, options.acme),
  );
}

/** judge on what the policy looks at, however it was gathered. */
function judgeInput(input: PolicyInput): { decision: Decision; validUntil?: Date } {
  const decision = decide(input);
  const notAfter = input.certificate?.notAfter;
  if (notAfter === undefined) return { decision };
  const serving = decision.action === "renew-later" ||
    (decision.reason === "Expiring" && input.now.getTime() < notAfter.getTime());
  return serving ? { decision, validUntil: notAfter } : { decision };
}
