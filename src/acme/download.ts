import { NotariatError } from "../errors.ts";
import { parseCertificateChain } from "../pki/certificate.ts";
import { alternateLinks, chooseChain } from "./chain.ts";
import type { AcmeSession } from "./client.ts";
import { type AcmeResponse, expectStatus } from "./problem.ts";

/** A downloaded chain and where it came from. */
export interface DownloadedChain {
  pem: string;
  /** The URL of the chain used (the default one, or an alternate). */
  url: string;
  /** How many chains the CA offered (1 + alternates fetched). */
  offered: number;
}

/**
 * Downloads the certificate chain (RFC 8555 section 7.4.2). With `preferredIssuer`, also the alternate chains
 * the CA links, and picks the one whose top certificate was issued by that common name; the default chain
 * when none is (or when an alternate cannot be fetched).
 */
export async function downloadChain(
  session: AcmeSession,
  url: string,
  preferredIssuer: string | undefined,
): Promise<DownloadedChain> {
  const what = "downloading the certificate";
  const first = pemOf(what, await session.post(url, null));
  const alternates = preferredIssuer ? alternateLinks(first.headers.link) : [];
  const chains = [{ url, pem: first.pem }];
  for (const alternate of alternates) {
    try {
      chains.push({ url: alternate, pem: pemOf(what, await session.post(alternate, null)).pem });
    } catch {
      // An alternate is an option, not a requirement: the default chain is still good.
    }
  }
  const index = chooseChain(
    chains.map((chain) => ({ topIssuerCommonName: topIssuer(chain.pem) })),
    preferredIssuer,
  );
  return { ...chains[index], offered: chains.length };
}

function pemOf(what: string, response: AcmeResponse): { pem: string; headers: Record<string, string> } {
  expectStatus(what, response, [200]);
  if (typeof response.body !== "string") {
    throw new NotariatError("acme", `${what}: the CA did not send a PEM chain`);
  }
  return { pem: response.body, headers: response.headers };
}

function topIssuer(pem: string): string | undefined {
  try {
    return parseCertificateChain(pem).at(-1)?.issuerCommonName;
  } catch {
    return undefined;
  }
}
