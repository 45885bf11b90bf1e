import type { KeyType } from "../config/types.ts";
import { NotariatError } from "../errors.ts";
import { buildCsr } from "./csr.ts";
import { encodePem } from "./der.ts";
import { importSigningKey } from "./private_key.ts";

const GENERATE: Record<KeyType, RsaHashedKeyGenParams | EcKeyGenParams> = {
  "ecdsa-p256": { name: "ECDSA", namedCurve: "P-256" },
  "ecdsa-p384": { name: "ECDSA", namedCurve: "P-384" },
  "rsa2048": rsa(2048),
  "rsa3072": rsa(3072),
  "rsa4096": rsa(4096),
};

function rsa(modulusLength: number): RsaHashedKeyGenParams {
  return {
    name: "RSASSA-PKCS1-v1_5",
    modulusLength,
    publicExponent: new Uint8Array([1, 0, 1]),
    hash: "SHA-256",
  };
}

async function generatePair(type: KeyType): Promise<{ pair: CryptoKeyPair; pem: string }> {
  const params = GENERATE[type];
  if (!params) throw new NotariatError("pki", `unknown key type ${JSON.stringify(type)}`);
  const pair = await crypto.subtle.generateKey(params, true, ["sign", "verify"]) as CryptoKeyPair;
  const der = await crypto.subtle.exportKey("pkcs8", pair.privateKey);
  return { pair, pem: encodePem(der, "PRIVATE KEY") };
}

/** A fresh private key of the requested type, as PKCS#8 PEM (the form kubernetes.io/tls Secrets and CAs accept). */
export async function generatePrivateKey(type: KeyType): Promise<string> {
  return (await generatePair(type)).pem;
}

/** A new key and the request for its certificate, with the public key to recognize the issued certificate by. */
export interface KeyAndCsr {
  privateKeyPem: string;
  csrPem: string;
  /** The public key's JWK members (kty, crv, x, y or kty, n, e). */
  publicJwk: JsonWebKey;
}

/**
 * A fresh key of `type` and a CSR for exactly `domains` (see createCsr), signed with the generated key as it
 * is, without reading the PEM back.
 */
export async function generateKeyAndCsr(type: KeyType, domains: string[]): Promise<KeyAndCsr> {
  const { pair, pem } = await generatePair(type);
  const params = GENERATE[type];
  const signingAlgorithm = params.name === "ECDSA"
    ? { name: "ECDSA", hash: (params as EcKeyGenParams).namedCurve === "P-384" ? "SHA-384" : "SHA-256" }
    : { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
  const csrPem = await buildCsr(pair, signingAlgorithm, domains);
  const jwk = await crypto.subtle.exportKey("jwk", pair.publicKey);
  const publicJwk = jwk.kty === "EC"
    ? { kty: "EC", crv: jwk.crv, x: jwk.x, y: jwk.y }
    : { kty: "RSA", n: jwk.n, e: jwk.e };
  return { privateKeyPem: pem, csrPem, publicJwk };
}

/**
 * A PKCS#10 request signed by the key, asking for exactly `domains` as DNS SANs in the given order; the first
 * domain is also the common name when it fits, because some clients still display it.
 */
export async function createCsr(privateKeyPem: string, domains: string[]): Promise<string> {
  const key = await importSigningKey(privateKeyPem);
  return await buildCsr(key.keys, key.signingAlgorithm, domains);
}
