import type { IssuedCertificate } from "../acme/issuer.ts";
import { formatRef, type SecretRef } from "../config/types.ts";
import { NotariatError } from "../errors.ts";
import { isKubeStatus, type Kube, type KubeSecret } from "../kube/types.ts";
import { inspectSecret } from "./inspect.ts";
import { decide, TLS_SECRET_TYPE } from "./policy.ts";
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
  facts: IssuedFacts;
  renewBeforeMs: number;
  now: () => Date;
}

/**
 * Stores an issued certificate in its Secret: creates it, or updates it in place against the version read
 * (keeping the user's keys, labels and annotations). A conflict (409: the Secret changed) re-reads it and
 * tries again, at most MAX_WRITE_ATTEMPTS times; if what is there now is a valid certificate for the same
 * domains lasting at least as long, it is kept: a valid certificate is never replaced by a worse one.
 */
export async function writeCertificate(
  kube: Kube,
  ref: SecretRef,
  issued: IssuedCertificate,
  options: WriteOptions,
): Promise<WriteResult> {
  let current = options.existing;
  for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
    if (attempt > 0) {
      current = await kube.readSecret(ref.namespace, ref.name);
      const better = await betterThan(current, issued, options);
      if (better !== undefined) {
        return {
          written: false,
          reason: better,
          conflicts: attempt,
          resourceVersion: current?.resourceVersion,
        };
      }
    }
    if (current !== undefined && current.type !== TLS_SECRET_TYPE) {
      throw new NotariatError(
        "kube",
        `Secret ${formatRef(ref)} became of type ${
          JSON.stringify(current.type)
        } meanwhile; not overwriting it`,
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
  throw new NotariatError(
    "kube",
    `Secret ${
      formatRef(ref)
    } kept changing while being written (${MAX_WRITE_ATTEMPTS} conflicts); will retry`,
  );
}

async function betterThan(
  current: KubeSecret | undefined,
  issued: IssuedCertificate,
  options: WriteOptions,
): Promise<string | undefined> {
  const input = await inspectSecret(current, options.domains, options.now(), options.renewBeforeMs);
  const decision = decide(input);
  if (decision.action !== "keep" || decision.notAfter.getTime() < issued.notAfter.getTime()) return undefined;
  return `a valid certificate until ${decision.notAfter.toISOString()} was written meanwhile; kept it`;
}
