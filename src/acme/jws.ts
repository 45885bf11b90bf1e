/**
 * JSON Web Signatures of ACME requests (RFC 8555 section 6.2, RFC 7515 flattened JSON serialization), signed
 * with an account key imported once: WebCrypto keeps the imported key, and its signatures run off the
 * JavaScript thread, so concurrent issuances do not queue behind each other's signing.
 */
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { NotariatError } from "../errors.ts";
import { importSigningKey } from "../pki/private_key.ts";

/** A flattened JWS as ACME servers take it in a POST body. */
export interface FlattenedJws {
  protected: string;
  payload: string;
  signature: string;
}

/** Who signs: the account URL once registered (`kid`), else the public key itself (newAccount). */
export interface JwsHeaderOptions {
  nonce: string;
  kid?: string;
}

/** An account key ready to sign requests. */
export interface JwsSigner {
  /** "ES256", "ES384" or "RS256". */
  readonly alg: string;
  /** The public key as a JWK with its required members only, in lexicographic order. */
  readonly jwk: JsonWebKey;
  /** RFC 7638 thumbprint (SHA-256, base64url), the account's part of every key authorization. */
  readonly thumbprint: string;
  /** Signs `payload` for `url`; null is POST-as-GET (an empty payload, RFC 8555 section 6.3). */
  sign(url: string, payload: unknown, header: JwsHeaderOptions): Promise<FlattenedJws>;
}

const EC_ALGS: Record<string, string> = { "P-256": "ES256", "P-384": "ES384" };

function base64url(data: string | Uint8Array | ArrayBuffer): string {
  const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : Buffer.from(new Uint8Array(data));
  return bytes.toString("base64url");
}

/**
 * Imports an account key (PEM; EC P-256, P-384 or RSA) for signing. Throws NotariatError kind "pki" for a key
 * it cannot use, never quoting the key.
 */
export async function createJwsSigner(accountKeyPem: string): Promise<JwsSigner> {
  const key = await importSigningKey(accountKeyPem);
  const pub = key.publicJwk;
  // RFC 7638 section 3.2: the required members, sorted, no whitespace; also the form sent in newAccount.
  const jwk: JsonWebKey = pub.kty === "EC"
    ? { crv: pub.crv, kty: "EC", x: pub.x, y: pub.y }
    : { e: pub.e, kty: "RSA", n: pub.n };
  const alg = pub.kty === "EC" ? EC_ALGS[pub.crv ?? ""] : "RS256";
  if (alg === undefined) throw new NotariatError("pki", `account key curve ${pub.crv} is not supported`);
  const thumbprint = createHash("sha256").update(JSON.stringify(jwk)).digest("base64url");
  return {
    alg,
    jwk,
    thumbprint,
    async sign(url, payload, header) {
      const protectedHeader = {
        alg,
        url,
        nonce: header.nonce,
        ...(header.kid === undefined ? { jwk } : { kid: header.kid }),
      };
      const encodedHeader = base64url(JSON.stringify(protectedHeader));
      const encodedPayload = payload === null || payload === undefined
        ? ""
        : base64url(JSON.stringify(payload));
      const signature = await crypto.subtle.sign(
        key.signingAlgorithm,
        key.keys.privateKey,
        new TextEncoder().encode(`${encodedHeader}.${encodedPayload}`),
      );
      return { protected: encodedHeader, payload: encodedPayload, signature: base64url(signature) };
    },
  };
}

/** The dns-01 TXT value of a challenge token (RFC 8555 section 8.4): base64url(SHA-256(token "." thumbprint)). */
export function dnsChallengeValue(token: string, thumbprint: string): string {
  return createHash("sha256").update(`${token}.${thumbprint}`).digest("base64url");
}
