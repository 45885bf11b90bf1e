/**
 * Trust for an ACME server behind a private CA (`-acme-ca`): the HTTP layer's per-origin trust (http.ts), held
 * for as long as any work for the CA runs, and the CA certificate checked once up front.
 */
import { errorMessage, NotariatError } from "../errors.ts";
import { parseCertificateChain } from "../pki/certificate.ts";
import { trustCa } from "./http.ts";

/** Runs `work` with the CA's trust held, released when the work ends. */
export type TrustedRunner = <T>(work: () => Promise<T>) => Promise<T>;

/**
 * A runner holding the trust for `caPem` (none when undefined) around each piece of work, so the HTTP client
 * (and its connections) lives as long as any issuance needs it. The certificate is checked once: an unusable
 * one fails each piece of work with the cause, so every entry reports it.
 */
export function caTrustRunner(directoryUrl: string, caPem: string | undefined): TrustedRunner {
  if (caPem === undefined) return (work) => work();
  let problem: NotariatError | undefined;
  try {
    // Deno's HTTP client silently ignores text without certificates; check first, so the cause is named.
    parseCertificateChain(caPem);
  } catch (err) {
    problem = new NotariatError(
      "acme",
      `the CA certificate given for the ACME server is unusable: ${errorMessage(err)}`,
    );
  }
  return async (work) => {
    if (problem) throw problem;
    const release = trustCa(directoryUrl, caPem);
    try {
      return await work();
    } finally {
      release();
    }
  };
}
