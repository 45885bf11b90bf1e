import type { IssuedCertificate } from "../acme/issuer.ts";
import { formatRef, type KeyType, type SecretRef } from "../config/types.ts";
import { NotariatError } from "../errors.ts";
import { isKubeStatus, type Kube, type KubeSecret } from "../kube/types.ts";
import { inspectIssued, inspectSecret } from "./inspect.ts";
import { type AcmeExpectation, stillServing, TLS_SECRET_TYPE } from "./policy.ts";
import { type IssuedFacts, tlsSecret } from "./tls_secret.ts";

/** How many times a write is tried when the Secret keeps changing under it (409 Conflict). */
export const MAX_WRITE_ATTEMPTS = 5;

/** What the write did: wrote the certificate, or kept the Secret's, which serves at least as long. */
export type WriteResult =
  | { written: true; secret: KubeSecret; conflicts: number }
  | {
    written: false;
    /** Why the Secret's certificate was kept instead of the issued one, for the log line. */
    keptBecause: string;
    conflicts: number;
    resourceVersion?: string;
  };

/** What `writeCertificate` needs besides the certificate: the Secret as read, and what the entry asks for. */
export interface WriteOptions {
  /** The Secret as read before issuing (undefined when it did not exist): the first write goes against it. */
  existing: KubeSecret | undefined;
  domains: string[];
  /** The entry's key type: a certificate with another kind of key does not serve the entry. */
  keyType?: KeyType;
  /** The CA certificates must come from: one from another CA does not serve the entry. */
  acme?: AcmeExpectation;
  facts: IssuedFacts;
  renewBeforeMs: number;
  now: () => Date;
}

/**
 * Stores an issued certificate in its Secret: creates it, or updates it in place against the version read
 * (keeping the user's keys, labels and annotations). A conflict (409: the Secret changed) re-reads it and
 * tries again, at most MAX_WRITE_ATTEMPTS times. What is judged is the policy's (`stillServing`): an issued
 * certificate that does not serve (other names, expired) is never written (NotariatError kind "pki"), and a
 * Secret whose certificate still serves and lasts at least as long is kept, first or after a conflict.
 */
export async function writeCertificate(
  kube: Kube,
  ref: SecretRef,
  issued: IssuedCertificate,
  options: WriteOptions,
): Promise<WriteResult> {
  const usable = stillServing(
    inspectIssued(issued, options.domains, options.now(), options.renewBeforeMs, options.keyType),
  );
  if (!usable.serving) {
    throw new NotariatError(
      "pki",
      `the issued certificate is unusable and was not written to Secret ${formatRef(ref)}: ${usable.message}`,
    );
  }
  let current = options.existing;
  for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
    if (attempt > 0) current = await kube.readSecret(ref.namespace, ref.name);
    const keptBecause = await whyKeep(current, issued, options, attempt > 0);
    if (keptBecause !== undefined) {
      return { written: false, keptBecause, conflicts: attempt, resourceVersion: current?.resourceVersion };
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
 * Why `current` is kept instead of the issued certificate, or undefined to write: it is kept when its
 * certificate still serves and lasts at least as long as the issued one.
 */
async function whyKeep(
  current: KubeSecret | undefined,
  issued: IssuedCertificate,
  options: WriteOptions,
  meanwhile: boolean,
): Promise<string | undefined> {
  const serving = stillServing(
    await inspectSecret(
      current,
      options.domains,
      options.now(),
      options.renewBeforeMs,
      options.keyType,
      options.acme,
    ),
  );
  if (!serving.serving) return undefined;
  const until = serving.until;
  // A tie goes to what is there when it was written meanwhile, and to the new certificate when a renewal was
  // asked for: expiry has a one-second grain, and a quick renewal can end in the same second.
  const margin = until.getTime() - issued.leaf.notAfter.getTime();
  if (margin < 0 || (margin === 0 && !meanwhile)) return undefined;
  if (meanwhile) return `a valid certificate until ${until.toISOString()} was written meanwhile; kept it`;
  return `the issued certificate expires at ${issued.leaf.notAfter.toISOString()}, before the Secret's ` +
    `certificate (valid until ${until.toISOString()}); kept the Secret's`;
}
