/**
 * notariat's errors are values with a kind, so callers decide (retry, back off, report) on data rather than on
 * message text. Messages name the entry, the field and the cause, and never carry key material.
 */
export type ErrorKind =
  | "config" // the ConfigMap or an entry is invalid
  | "tsig-key" // a TSIG key cannot be parsed
  | "dns" // DNS UPDATE, zone discovery or propagation failed
  | "acme" // the ACME CA refused or failed
  | "kube" // the Kubernetes API refused or failed
  | "pki" // a key, certificate or CSR is unusable
  | "usage" // the command line is wrong
  | "stopped"; // work was abandoned because notariat is shutting down (or lost leadership)

/** An error notariat understands: a kind, a human message, and optionally when a retry makes sense. */
export class NotariatError extends Error {
  readonly kind: ErrorKind;
  /** When the remote side asked us to come back (ACME Retry-After); undefined when it did not say. */
  readonly retryAfter?: Date;

  constructor(kind: ErrorKind, message: string, options?: { cause?: unknown; retryAfter?: Date }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "NotariatError";
    this.kind = kind;
    this.retryAfter = options?.retryAfter;
  }
}

/** The message of anything thrown, for logs; Error subclasses keep their message, anything else is stringified. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
