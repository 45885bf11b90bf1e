/** PEM text (RFC 7468) as the protocols want its contents. */

/**
 * The DER inside a PEM block as base64url without padding, as ACME's finalize wants the CSR (RFC 8555
 * section 7.4) and JOSE wants binary values.
 */
export function pemToBase64Url(pem: string): string {
  return pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "").replace(/\+/g, "-").replace(/\//g, "_")
    .replace(/=+$/, "");
}
