/**
 * Which CA a stored certificate came from, so a change of `-acme` (say from Let's Encrypt's staging CA to its
 * production CA) reissues certificates of the old CA instead of keeping them until renewal.
 *
 * A certificate notariat wrote carries the directory it came from (annotation `notariat.io/acme-directory`,
 * trusted while the Secret's `notariat.io/serial` annotation is the certificate's serial). For any other
 * certificate only its issuer tells: a CA's identity is its issuing certificate's organization (O=), which
 * stays the same across the intermediates a CA rotates through (Let's Encrypt's R10/R11, E5/E6), or the whole
 * issuer name when it has no organization.
 */
import type { KubeSecret } from "../kube/types.ts";
import type { CertificateInfo } from "../pki/certificate.ts";
import { ANNOTATIONS } from "./tls_secret.ts";

/** Where a stored certificate came from, as far as can be told. */
export interface CertificateOrigin {
  /** The ACME directory, when notariat wrote this very certificate; undefined otherwise. */
  directory?: string;
  /** The issuing CA's identity (see caIdentity). */
  caIdentity: string;
}

/** The identity of the CA that issued a certificate with issuer name `issuer` (e.g. "CN=R10, O=Let's Encrypt, C=US"). */
export function caIdentity(issuer: string): string {
  const organization = /(?:^|,\s*)O=((?:\\.|[^,\\])+)/.exec(issuer);
  return organization ? `O=${organization[1].trim()}` : issuer;
}

/** A directory URL in a comparable form: lower-case scheme and host, no trailing slash. */
export function normalizeDirectory(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname.replace(/\/+$/, "")}${parsed.search}`;
  } catch {
    return url.replace(/\/+$/, "");
  }
}

/** The origin of `leaf`, the certificate stored in `secret`. */
export function certificateOrigin(secret: KubeSecret, leaf: CertificateInfo): CertificateOrigin {
  const directory = secret.annotations[ANNOTATIONS.acmeDirectory];
  const serial = secret.annotations[ANNOTATIONS.serial];
  const written = directory !== undefined && serial !== undefined &&
    serial.toLowerCase() === leaf.serialNumber.toLowerCase();
  return written
    ? { directory, caIdentity: caIdentity(leaf.issuer) }
    : { caIdentity: caIdentity(leaf.issuer) };
}
