/**
 * PKCS#10 certificate requests (RFC 2986) for ACME's finalize: a subject with the first name as common name
 * when it fits, the names as DNS subject alternative names (RFC 5280 section 4.2.1.6) in an extensionRequest
 * attribute (RFC 2985 section 5.4.2), signed with the new key through WebCrypto.
 */
import { NotariatError } from "../errors.ts";
import {
  bitString,
  contextConstructed,
  contextPrimitive,
  directoryString,
  ecdsaSignatureDer,
  encodePem,
  nullValue,
  octetString,
  oid,
  sequence,
  set,
  unsignedInteger,
} from "./der.ts";

const OID = {
  commonName: "2.5.4.3",
  extensionRequest: "1.2.840.113549.1.9.14",
  subjectAltName: "2.5.29.17",
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  ecdsaWithSha384: "1.2.840.10045.4.3.3",
  sha256WithRsa: "1.2.840.113549.1.1.11",
};

// RFC 5280 upper bound for a common name; CAs reject longer ones, and the SANs carry the names anyway.
const MAX_COMMON_NAME = 64;

/** How a key signs: WebCrypto's algorithm, and the AlgorithmIdentifier the request names. */
function signatureAlgorithm(algorithm: Algorithm | EcdsaParams): { der: Uint8Array; ecdsa: boolean } {
  if (algorithm.name === "ECDSA") {
    const hash = (algorithm as EcdsaParams).hash;
    const name = typeof hash === "string" ? hash : hash.name;
    return {
      der: sequence(oid(name === "SHA-384" ? OID.ecdsaWithSha384 : OID.ecdsaWithSha256)),
      ecdsa: true,
    };
  }
  if (algorithm.name === "RSASSA-PKCS1-v1_5") {
    return { der: sequence(oid(OID.sha256WithRsa), nullValue()), ecdsa: false };
  }
  throw new NotariatError("pki", `cannot sign a certificate request with ${algorithm.name}`);
}

/**
 * A PEM certificate request signed by `keys`, asking for exactly `domains` as DNS names in the given order;
 * the first domain is also the common name when it fits, because some clients still display it.
 */
export async function buildCsr(
  keys: CryptoKeyPair,
  algorithm: Algorithm | EcdsaParams,
  domains: string[],
): Promise<string> {
  if (domains.length === 0) throw new NotariatError("pki", "a certificate request needs at least one domain");
  const signing = signatureAlgorithm(algorithm);
  const subject = domains[0].length <= MAX_COMMON_NAME
    ? sequence(set(sequence(oid(OID.commonName), directoryString(domains[0]))))
    : sequence();
  const ascii = new TextEncoder();
  const names = sequence(...domains.map((domain) => contextPrimitive(2, ascii.encode(domain))));
  const extensions = sequence(sequence(oid(OID.subjectAltName), octetString(names)));
  const info = sequence(
    unsignedInteger(new Uint8Array([0])),
    subject,
    new Uint8Array(await crypto.subtle.exportKey("spki", keys.publicKey)),
    contextConstructed(0, sequence(oid(OID.extensionRequest), set(extensions))),
  );
  const raw = new Uint8Array(await crypto.subtle.sign(algorithm, keys.privateKey, info));
  const signature = signing.ecdsa ? ecdsaSignatureDer(raw) : raw;
  return encodePem(sequence(info, signing.der, bitString(signature)), "CERTIFICATE REQUEST");
}
