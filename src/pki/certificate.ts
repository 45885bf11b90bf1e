import { type KeyObject, X509Certificate as NativeCertificate } from "node:crypto";
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
  /** The key identifier of the Authority Key Identifier extension, hex; undefined when absent. */
  authorityKeyId?: string;
  /** The common name (CN) of the issuer, as preferred-chain selection compares it. */
  issuerCommonName?: string;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/**
 * One certificate read by the runtime's native X.509 parser (node:crypto): some fifty times faster than an
 * ASN.1 decoder in JavaScript, and it checks signatures too.
 */
function readNative(block: string, index: number, total: number): NativeCertificate {
  try {
    return new NativeCertificate(block);
  } catch (err) {
    throw new NotariatError(
      "pki",
      `certificate ${index + 1} of ${total} is not valid DER (${errorMessage(err)})`,
    );
  }
}

/** "C=US\nO=Org\nCN=name" (node's form) as "C=US, O=Org, CN=name"; "" for an empty name (short-lived
 * certificates of some CAs have no subject at all). */
function distinguishedName(text: string | undefined): string {
  return (text ?? "").split("\n").join(", ");
}

/** The DNS names of a subjectAltName text ("DNS:a, IP Address:1.2.3.4, DNS:b"), lower-case, in order. */
function sanDnsNames(san: string | undefined): string[] {
  if (san === undefined || san === "") return [];
  return san.split(", ").filter((entry) => entry.startsWith("DNS:")).map((entry) => {
    const value = entry.slice(4);
    // node quotes a name holding characters that need escaping, as a JSON string.
    return (value.startsWith('"') ? String(JSON.parse(value)) : value).toLowerCase();
  });
}

/** Hex of the serial's bytes, as openssl prints it: even length, lower-case. */
function serialHex(serial: string): string {
  const hex = serial.toLowerCase();
  return hex.length % 2 === 1 ? `0${hex}` : hex;
}

function describe(cert: NativeCertificate): CertificateInfo {
  return {
    subject: distinguishedName(cert.subject),
    issuer: distinguishedName(cert.issuer),
    serialNumber: serialHex(cert.serialNumber),
    notBefore: new Date(cert.validFrom),
    notAfter: new Date(cert.validTo),
    dnsNames: sanDnsNames(cert.subjectAltName),
    isCa: cert.ca,
    keyType: keyTypeOf(cert.publicKey),
    authorityKeyId: authorityKeyIdOf(cert.raw),
    issuerCommonName: commonNameOf(cert.issuer),
  };
}

/** The first CN of a name in node's text form ("C=US\nO=Org\nCN=name"); undefined when it has none. */
function commonNameOf(name: string | undefined): string | undefined {
  const line = (name ?? "").split("\n").find((part) => part.startsWith("CN="));
  if (line === undefined) return undefined;
  const value = line.slice(3);
  // node quotes a value holding characters that need escaping, as a JSON string.
  return value.startsWith('"') ? String(JSON.parse(value)) : value;
}

/** One DER element: its tag, and where its contents start and end in the buffer. */
interface DerElement {
  tag: number;
  start: number;
  end: number;
}

function derElement(der: Uint8Array, offset: number, limit: number): DerElement | undefined {
  if (offset + 2 > limit) return undefined;
  const tag = der[offset];
  let length = der[offset + 1];
  let start = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4 || start + count > limit) return undefined;
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + der[start + i];
    start += count;
  }
  const end = start + length;
  return end > limit ? undefined : { tag, start, end };
}

function derChildren(der: Uint8Array, parent: DerElement): DerElement[] {
  const children: DerElement[] = [];
  for (let offset = parent.start; offset < parent.end;) {
    const child = derElement(der, offset, parent.end);
    if (child === undefined) break;
    children.push(child);
    offset = child.end;
  }
  return children;
}

/** DER of the Authority Key Identifier's OID, 2.5.29.35. */
const AKI_OID = "551d23";

/**
 * The keyIdentifier of the Authority Key Identifier extension (RFC 5280 4.2.1.1) as lower-case hex, read
 * from the certificate's DER (the native reader does not expose extensions); undefined when absent.
 */
function authorityKeyIdOf(raw: Uint8Array): string | undefined {
  const der = new Uint8Array(raw);
  const certificate = derElement(der, 0, der.length);
  if (certificate === undefined) return undefined;
  const [tbs] = derChildren(der, certificate);
  if (tbs === undefined) return undefined;
  const extensionsField = derChildren(der, tbs).find((element) => element.tag === 0xa3);
  if (extensionsField === undefined) return undefined;
  const [extensions] = derChildren(der, extensionsField);
  if (extensions === undefined) return undefined;
  for (const extension of derChildren(der, extensions)) {
    const parts = derChildren(der, extension);
    const oid = parts[0];
    if (oid?.tag !== 0x06 || Buffer.from(der.subarray(oid.start, oid.end)).toString("hex") !== AKI_OID) {
      continue;
    }
    const value = parts.find((part) => part.tag === 0x04);
    if (value === undefined) return undefined;
    const sequence = derElement(der, value.start, value.end);
    if (sequence === undefined) return undefined;
    const keyId = derChildren(der, sequence).find((part) => part.tag === 0x80);
    return keyId === undefined
      ? undefined
      : Buffer.from(der.subarray(keyId.start, keyId.end)).toString("hex");
  }
  return undefined;
}

const CURVES: Record<string, KeyType> = { prime256v1: "ecdsa-p256", secp384r1: "ecdsa-p384" };
const RSA_SIZES: Record<number, KeyType> = { 2048: "rsa2048", 3072: "rsa3072", 4096: "rsa4096" };

function keyTypeOf(key: KeyObject): KeyType | undefined {
  try {
    const details = key.asymmetricKeyDetails ?? {};
    if (key.asymmetricKeyType === "ec") return CURVES[details.namedCurve ?? ""];
    if (key.asymmetricKeyType === "rsa") return RSA_SIZES[details.modulusLength ?? 0];
  } catch {
    // an unusual key: no configured type matches it
  }
  return undefined;
}

/** The public key's JWK members (kty, crv, x, y or kty, n, e); undefined for a key that cannot be exported. */
function publicJwkOf(key: KeyObject): JsonWebKey | undefined {
  try {
    const jwk = key.export({ format: "jwk" }) as JsonWebKey;
    return jwk.kty === "EC"
      ? { kty: "EC", crv: jwk.crv, x: jwk.x, y: jwk.y }
      : { kty: jwk.kty, n: jwk.n, e: jwk.e };
  } catch {
    return undefined;
  }
}

/** One PEM certificate block, read natively: what notariat knows of it, and its public key. */
export function readCertificateBlock(
  block: string,
  index: number,
  total: number,
): { info: CertificateInfo; publicKey: KeyObject; cert: NativeCertificate } {
  const cert = readNative(block, index, total);
  return { info: describe(cert), publicKey: cert.publicKey, cert };
}

/** The PEM certificate blocks of `pem`, in order; NotariatError kind "pki" when there is none. */
export function pemBlocks(pem: string): string[] {
  const blocks = pem.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw new NotariatError("pki", "no PEM certificate found");
  return blocks;
}

/**
 * Every certificate of a PEM chain, leaf first as ACME and kubernetes.io/tls Secrets order them.
 * Throws NotariatError kind "pki" when there is no certificate or one does not parse.
 */
export function parseCertificateChain(pem: string): CertificateInfo[] {
  const blocks = pemBlocks(pem);
  return blocks.map((block, i) => describe(readNative(block, i, blocks.length)));
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
  const blocks = pemBlocks(pem);
  const certificates = blocks.map((block, i) => readNative(block, i, blocks.length));
  return { chain: certificates.map(describe), leafPublicJwk: publicJwkOf(certificates[0].publicKey) };
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
  const [block] = pemBlocks(certificatePem);
  const certJwk = publicJwkOf(readNative(block, 0, 1).publicKey);
  if (certJwk === undefined) return false;
  let privateJwk: JsonWebKey;
  try {
    privateJwk = (await importSigningKey(privateKeyPem)).publicJwk;
  } catch {
    return false;
  }
  return samePublicKey(privateJwk, certJwk);
}

/**
 * Whether `chainPem` (leaf first, then intermediates) leads by valid signatures to `rootPem`, with every
 * certificate valid at `at` and every issuer a CA. A chain that ends with the root itself is accepted too.
 */
export function verifyChain(
  chainPem: string,
  rootPem: string,
  at: Date = new Date(),
): Promise<boolean> {
  const blocks = pemBlocks(chainPem);
  const chain = blocks.map((block, i) => readNative(block, i, blocks.length));
  const root = readNative(pemBlocks(rootPem)[0], 0, 1);
  const validAt = (cert: NativeCertificate) =>
    new Date(cert.validFrom).getTime() <= at.getTime() && at.getTime() <= new Date(cert.validTo).getTime();
  if (!validAt(root) || !root.verify(root.publicKey)) return Promise.resolve(false);
  for (let i = 0; i < chain.length; i++) {
    const cert = chain[i];
    if (cert.raw.equals(root.raw)) return Promise.resolve(true);
    const issuer = chain[i + 1] ?? root;
    if (cert.issuer !== issuer.subject || !issuer.ca) return Promise.resolve(false);
    if (!validAt(cert) || !cert.verify(issuer.publicKey)) return Promise.resolve(false);
  }
  return Promise.resolve(true);
}
