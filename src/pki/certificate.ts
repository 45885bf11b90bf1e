import * as x509 from "@peculiar/x509";
import { createPublicKey, type KeyObject } from "node:crypto";
import { Buffer } from "node:buffer";
import type { KeyType } from "../config/types.ts";
import { errorMessage, NotariatError } from "../errors.ts";
import { importSigningKey } from "./private_key.ts";

/** What notariat needs to know about one certificate: names, validity and who issued it. */
export interface CertificateInfo {
  subject: string;
  issuer: string;
  /** Hex, as x509 tools print it. */
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  /** SAN DNS names, lower-case, in certificate order. */
  dnsNames: string[];
  /** Whether it is a CA certificate (basic constraints CA:TRUE): an intermediate or root, never a leaf. */
  isCa: boolean;
  /** The public key's type in the configuration's terms; undefined for any other kind of key. */
  keyType?: KeyType;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

function parseCertificates(pem: string): x509.X509Certificate[] {
  const blocks = pem.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw new NotariatError("pki", "no PEM certificate found");
  return blocks.map((block, index) => {
    try {
      return new x509.X509Certificate(block);
    } catch (err) {
      throw new NotariatError(
        "pki",
        `certificate ${index + 1} of ${blocks.length} is not valid DER (${errorMessage(err)})`,
      );
    }
  });
}

function describe(cert: x509.X509Certificate): CertificateInfo {
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  const dnsNames = (san?.names.items ?? [])
    .filter((name) => name.type === "dns")
    .map((name) => name.value.toLowerCase());
  return {
    subject: cert.subject,
    issuer: cert.issuer,
    serialNumber: cert.serialNumber,
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    dnsNames,
    isCa: isCa(cert),
    keyType: publicKeyType(cert),
  };
}

const CURVES: Record<string, KeyType> = { prime256v1: "ecdsa-p256", secp384r1: "ecdsa-p384" };
const RSA_SIZES: Record<number, KeyType> = { 2048: "rsa2048", 3072: "rsa3072", 4096: "rsa4096" };

/** The certificate's public key as node:crypto reads it; throws for a key it cannot read. */
function publicKeyOf(cert: x509.X509Certificate): KeyObject {
  return createPublicKey({ key: Buffer.from(cert.publicKey.rawData), format: "der", type: "spki" });
}

function publicKeyType(cert: x509.X509Certificate): KeyType | undefined {
  try {
    const key = publicKeyOf(cert);
    const details = key.asymmetricKeyDetails ?? {};
    if (key.asymmetricKeyType === "ec") return CURVES[details.namedCurve ?? ""];
    if (key.asymmetricKeyType === "rsa") return RSA_SIZES[details.modulusLength ?? 0];
  } catch {
    // an unusual key: no configured type matches it
  }
  return undefined;
}

/**
 * Every certificate of a PEM chain, leaf first as ACME and kubernetes.io/tls Secrets order them.
 * Throws NotariatError kind "pki" when there is no certificate or one does not parse.
 */
export function parseCertificateChain(pem: string): CertificateInfo[] {
  return parseCertificates(pem).map(describe);
}

/** A chain as parsed once, with the leaf's public key for comparing it with the key it was requested for. */
export interface ParsedChain {
  /** Leaf first. */
  chain: CertificateInfo[];
  /** The leaf's public key as JWK members (kty, crv, x, y or kty, n, e); undefined for a key it cannot read. */
  leafPublicJwk?: JsonWebKey;
}

/** parseCertificateChain, plus the leaf's public key, from one parse. Throws as parseCertificateChain does. */
export function parseChainWithKey(pem: string): ParsedChain {
  const certificates = parseCertificates(pem);
  let leafPublicJwk: JsonWebKey | undefined;
  try {
    const jwk = publicKeyOf(certificates[0]).export({ format: "jwk" }) as JsonWebKey;
    leafPublicJwk = jwk.kty === "EC"
      ? { kty: "EC", crv: jwk.crv, x: jwk.x, y: jwk.y }
      : { kty: jwk.kty, n: jwk.n, e: jwk.e };
  } catch {
    // an unusual key: it matches no key notariat generates
  }
  return { chain: certificates.map(describe), leafPublicJwk };
}

/** Whether two public JWKs (as from parseChainWithKey and generateKeyAndCsr) are the same key. */
export function samePublicKey(a: JsonWebKey, b: JsonWebKey): boolean {
  if (a.kty !== b.kty) return false;
  if (a.kty === "EC") return a.crv === b.crv && a.x === b.x && a.y === b.y;
  return a.kty === "RSA" && a.n === b.n && a.e === b.e;
}

/**
 * Whether the private key is the one the (first) certificate was issued for. An unreadable key is a mismatch
 * rather than an error, so a damaged Secret is simply reissued.
 */
export async function privateKeyMatchesCertificate(
  privateKeyPem: string,
  certificatePem: string,
): Promise<boolean> {
  const [cert] = parseCertificates(certificatePem);
  let privateJwk: JsonWebKey;
  try {
    privateJwk = (await importSigningKey(privateKeyPem)).publicJwk;
  } catch {
    return false;
  }
  let certJwk: JsonWebKey;
  try {
    certJwk = publicKeyOf(cert).export({ format: "jwk" }) as JsonWebKey;
  } catch {
    return false;
  }
  if (privateJwk.kty !== certJwk.kty) return false;
  if (privateJwk.kty === "EC") {
    return privateJwk.crv === certJwk.crv && privateJwk.x === certJwk.x && privateJwk.y === certJwk.y;
  }
  return privateJwk.n === certJwk.n && privateJwk.e === certJwk.e;
}

/**
 * Whether `chainPem` (leaf first, then intermediates) leads by valid signatures to `rootPem`, with every
 * certificate valid at `at` and every issuer a CA. A chain that ends with the root itself is accepted too.
 */
export async function verifyChain(
  chainPem: string,
  rootPem: string,
  at: Date = new Date(),
): Promise<boolean> {
  const chain = parseCertificates(chainPem);
  const [root] = parseCertificates(rootPem);
  if (!(await root.verify({ date: at }))) return false;
  for (let i = 0; i < chain.length; i++) {
    const cert = chain[i];
    if (Buffer.from(cert.rawData).equals(Buffer.from(root.rawData))) return true;
    const issuer = chain[i + 1] ?? root;
    if (cert.issuer !== issuer.subject || !isCa(issuer)) return false;
    if (!(await cert.verify({ publicKey: issuer, date: at }))) return false;
  }
  return true;
}

function isCa(cert: x509.X509Certificate): boolean {
  return cert.getExtension(x509.BasicConstraintsExtension)?.ca === true;
}
