/**
 * Choosing among the chains a CA offers for one certificate (RFC 8555 section 7.4.2: the default one, and
 * alternates linked with `Link: <url>;rel="alternate"`). Pure: the issuer downloads, this decides.
 */

/** The alternate chain URLs of a certificate download's Link header(s), in the CA's order. */
export function alternateLinks(linkHeader: string | undefined): string[] {
  if (linkHeader === undefined) return [];
  const links: string[] = [];
  // Headers with several values arrive joined by ", "; a URL itself has no unescaped ">".
  for (const match of linkHeader.matchAll(/<([^>]*)>\s*((?:;\s*[^;,]+)*)/g)) {
    const params = match[2];
    if (/;\s*rel\s*=\s*"?alternate"?(?:\s|;|$)/i.test(params)) links.push(match[1]);
  }
  return links;
}

/** A downloaded chain, reduced to what the choice looks at. */
export interface ChainCandidate {
  /** The common name of the issuer of the chain's last (top) certificate. */
  topIssuerCommonName?: string;
}

/**
 * The index of the chain to use: the first (default first) whose top certificate was issued by
 * `preferredIssuer` (compared exactly, as certbot and lego do), else 0, the default chain.
 */
export function chooseChain(chains: readonly ChainCandidate[], preferredIssuer: string | undefined): number {
  if (preferredIssuer === undefined || preferredIssuer === "") return 0;
  const index = chains.findIndex((chain) => chain.topIssuerCommonName === preferredIssuer);
  return index === -1 ? 0 : index;
}
