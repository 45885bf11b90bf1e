import { createPrivateKey, type KeyObject } from "node:crypto";
import { NotariatError } from "../errors.ts";

/** The WebCrypto shape of a private key notariat can sign with, and the matching signature algorithm. */
export interface SigningKey {
  keys: CryptoKeyPair;
  signingAlgorithm: Algorithm | EcdsaParams;
  /** The public half as a JWK holding only public members, for comparing keys. */
  publicJwk: JsonWebKey;
}

const EC_CURVES: Record<string, { namedCurve: string; hash: string }> = {
  prime256v1: { namedCurve: "P-256", hash: "SHA-256" },
  secp384r1: { namedCurve: "P-384", hash: "SHA-384" },
};

/**
 * Imports a PEM private key (PKCS#8, or the older PKCS#1 / SEC1 forms other tools write) for signing.
 * Throws NotariatError kind "pki" naming the problem, never the key.
 */
export async function importSigningKey(privateKeyPem: string): Promise<SigningKey> {
  let key: KeyObject;
  try {
    key = createPrivateKey(privateKeyPem);
  } catch (err) {
    throw new NotariatError("pki", `private key is not a readable PEM key (${describeKeyError(err)})`);
  }
  const pkcs8 = new Uint8Array(key.export({ type: "pkcs8", format: "der" }));
  const jwk = key.export({ format: "jwk" }) as JsonWebKey;
  if (key.asymmetricKeyType === "ec") {
    const curve = EC_CURVES[key.asymmetricKeyDetails?.namedCurve ?? ""];
    if (!curve) {
      throw new NotariatError(
        "pki",
        `private key uses the unsupported curve ${key.asymmetricKeyDetails?.namedCurve ?? "(unknown)"}`,
      );
    }
    const algorithm = { name: "ECDSA", namedCurve: curve.namedCurve };
    const publicJwk = { kty: "EC", crv: jwk.crv, x: jwk.x, y: jwk.y };
    return {
      keys: {
        privateKey: await crypto.subtle.importKey("pkcs8", pkcs8, algorithm, true, ["sign"]),
        publicKey: await crypto.subtle.importKey("jwk", publicJwk, algorithm, true, ["verify"]),
      },
      signingAlgorithm: { name: "ECDSA", hash: curve.hash },
      publicJwk,
    };
  }
  if (key.asymmetricKeyType === "rsa") {
    const algorithm = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
    const publicJwk = { kty: "RSA", n: jwk.n, e: jwk.e };
    return {
      keys: {
        privateKey: await crypto.subtle.importKey("pkcs8", pkcs8, algorithm, true, ["sign"]),
        publicKey: await crypto.subtle.importKey("jwk", publicJwk, algorithm, true, ["verify"]),
      },
      signingAlgorithm: algorithm,
      publicJwk,
    };
  }
  throw new NotariatError("pki", `private key type ${key.asymmetricKeyType ?? "(unknown)"} is not supported`);
}

// Parser errors may quote the input; keep only their code or first words so no key bytes reach a message.
function describeKeyError(err: unknown): string {
  const code = (err as { code?: unknown })?.code;
  if (typeof code === "string") return code;
  return "unrecognized format";
}
