/**
 * The fast path for judging stored certificates: every Secret is inspected once per version, and a controller
 * may hold ten thousand. Certificates are read natively (certificate.ts), intermediates shared by many Secrets
 * are parsed once, and a private key is matched to its certificate by comparing the public key bytes it
 * carries instead of importing it.
 */
import { createPrivateKey, createPublicKey, type KeyObject, type X509Certificate } from "node:crypto";
import { Buffer } from "node:buffer";
import { type CertificateInfo, pemBlocks, readCertificateBlock } from "./certificate.ts";

/** A parsed certificate with what matching a key needs. */
interface Parsed {
  info: CertificateInfo;
  /** The SubjectPublicKeyInfo's key bytes (the BIT STRING's content); undefined when unreadable. */
  publicKeyBits?: Uint8Array;
  /** The native certificate, to check who signed it. */
  cert: X509Certificate;
}

/** Parsed CA certificates by PEM block: the intermediates every Secret of one CA repeats. */
const caCache = new Map<string, Parsed>();
const CA_CACHE_LIMIT = 256;

function parseBlock(block: string, index: number, count: number): Parsed {
  const cached = caCache.get(block);
  if (cached !== undefined) return cached;
  const { info, publicKey, cert } = readCertificateBlock(block, index, count);
  const parsed: Parsed = { info, publicKeyBits: spkiKeyBits(publicKey), cert };
  if (info.isCa) {
    if (caCache.size >= CA_CACHE_LIMIT) caCache.delete(caCache.keys().next().value!);
    caCache.set(block, parsed);
  }
  return parsed;
}

function parseAll(pem: string): Parsed[] {
  const blocks = pemBlocks(pem);
  return blocks.map((block, index) => parseBlock(block, index, blocks.length));
}

/** What inspection learns from a tls.crt and tls.key pair. */
export interface ChainInspection {
  /** Every certificate of tls.crt, in order. */
  chain: CertificateInfo[];
  /** Whether the private key belongs to the first certificate (an unreadable key: false). */
  keyMatches: boolean;
  /** Why a client could not follow the chain from the leaf to a root (see chainGap); undefined when it can. */
  chainGap?: string;
}

/**
 * Parses a PEM chain (leaf first) and checks the private key against its first certificate. Throws
 * NotariatError kind "pki" when there is no certificate or one does not parse.
 */
export function inspectChain(certificatePem: string, privateKeyPem: string): ChainInspection {
  const parsed = parseAll(certificatePem);
  const gap = chainGap(parsed);
  return {
    chain: parsed.map((p) => p.info),
    keyMatches: keyMatches(privateKeyPem, parsed[0]),
    ...(gap === undefined ? {} : { chainGap: gap }),
  };
}

/**
 * Why the chain would not let a client build a path to a root it trusts, or undefined when it would: the
 * certificate that issued the leaf must be in the chain (name and key identifier matching), unless the leaf is
 * self-signed (its own root). A chain cut to the leaf, or holding another CA's intermediate, is served as it
 * is and rejected by clients that do not happen to have the intermediate cached. The intermediates' own
 * issuers are not required: the last one is normally issued by a root, which is left out.
 */
function chainGap([leaf, ...rest]: Parsed[]): string | undefined {
  if (signedBy(leaf, leaf)) return undefined;
  const issuer = leaf.info.issuer;
  const named = rest.filter((candidate) => candidate.info.subject === issuer);
  if (named.some((candidate) => signedBy(leaf, candidate))) return undefined;
  if (named.length > 0) {
    return `the certificate in the chain named as its issuer (${issuer}) did not sign it: ` +
      "the intermediate is another CA's";
  }
  return rest.length === 0
    ? `it holds the server's certificate alone: the intermediate that issued it (${issuer}) is missing`
    : `the intermediate that issued the server's certificate (${issuer}) is not in it`;
}

/**
 * Whether `issuer` issued `cert` as OpenSSL's X509_check_issued judges it: the names match, and the
 * authority key identifier matches the issuer's subject key identifier. No signature check: that costs
 * 0.5 ms per Secret (the bulk of judging one), and a stored chain's job is to name the right intermediate.
 */
function signedBy(cert: Parsed, issuer: Parsed): boolean {
  try {
    return cert.cert.checkIssued(issuer.cert);
  } catch {
    return false;
  }
}

function keyMatches(privateKeyPem: string, leaf: Parsed): boolean {
  const embedded = embeddedPublicKey(privateKeyPem);
  if (embedded !== undefined && leaf.publicKeyBits !== undefined) {
    return Buffer.from(embedded).equals(Buffer.from(leaf.publicKeyBits));
  }
  // No public key in the private key's encoding (or an unusual one): derive it, the slow way.
  try {
    const derived = spkiKeyBits(createPublicKey(createPrivateKey(privateKeyPem)));
    return derived !== undefined && leaf.publicKeyBits !== undefined &&
      Buffer.from(derived).equals(Buffer.from(leaf.publicKeyBits));
  } catch {
    return false;
  }
}

// --- Minimal DER reading (X.690): only what locating the public key needs. ---

interface Tlv {
  tag: number;
  start: number;
  end: number;
}

function readTlv(der: Uint8Array, at: number): Tlv | undefined {
  if (at + 2 > der.length) return undefined;
  const tag = der[at];
  let length = der[at + 1];
  let start = at + 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    if (bytes === 0 || bytes > 4 || start + bytes > der.length) return undefined;
    length = 0;
    for (let i = 0; i < bytes; i++) length = length * 256 + der[start + i];
    start += bytes;
  }
  const end = start + length;
  return end > der.length ? undefined : { tag, start, end };
}

function children(der: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = parent.start; at < parent.end;) {
    const tlv = readTlv(der, at);
    if (tlv === undefined) return out;
    out.push(tlv);
    at = tlv.end;
  }
  return out;
}

function pemBody(pem: string, label: RegExp): Uint8Array | undefined {
  const match = label.exec(pem);
  if (match === null) return undefined;
  try {
    return Uint8Array.from(atob(match[1].replace(/\s+/g, "")), (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

/** The key bytes of a SubjectPublicKeyInfo: EC point, or the RSAPublicKey DER. */
function spkiKeyBits(key: KeyObject): Uint8Array | undefined {
  try {
    const der = new Uint8Array(key.export({ type: "spki", format: "der" }));
    const spki = readTlv(der, 0);
    const bitString = spki && children(der, spki)[1];
    // BIT STRING: one byte of unused bits (0), then the key.
    return bitString?.tag === 0x03 ? der.slice(bitString.start + 1, bitString.end) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The public key a PKCS#8 (or SEC 1) private key carries: the EC point in ECPrivateKey's [1] publicKey field
 * (RFC 5915), or for RSA the RSAPublicKey built from its modulus and exponent (RFC 8017 A.1.2). Undefined when
 * absent or unreadable.
 */
function embeddedPublicKey(pem: string): Uint8Array | undefined {
  const pkcs8 = pemBody(pem, /-----BEGIN PRIVATE KEY-----([\s\S]*?)-----END PRIVATE KEY-----/);
  if (pkcs8 !== undefined) {
    const top = readTlv(pkcs8, 0);
    const [, algorithm, octets] = top ? children(pkcs8, top) : [];
    if (algorithm === undefined || octets?.tag !== 0x04) return undefined;
    const inner = readTlv(pkcs8, octets.start);
    if (inner === undefined) return undefined;
    const oid = children(pkcs8, algorithm)[0];
    const oidHex = oid ? Buffer.from(pkcs8.slice(oid.start, oid.end)).toString("hex") : "";
    if (oidHex === "2a8648ce3d0201") return ecPoint(pkcs8, inner); // id-ecPublicKey
    if (oidHex === "2a864886f70d010101") return rsaPublicKey(pkcs8, inner); // rsaEncryption
    return undefined;
  }
  const sec1 = pemBody(pem, /-----BEGIN EC PRIVATE KEY-----([\s\S]*?)-----END EC PRIVATE KEY-----/);
  const top = sec1 && readTlv(sec1, 0);
  return sec1 && top ? ecPoint(sec1, top) : undefined;
}

function ecPoint(der: Uint8Array, ecPrivateKey: Tlv): Uint8Array | undefined {
  const field = children(der, ecPrivateKey).find((tlv) => tlv.tag === 0xa1);
  const bitString = field && readTlv(der, field.start);
  return bitString?.tag === 0x03 ? der.slice(bitString.start + 1, bitString.end) : undefined;
}

function rsaPublicKey(der: Uint8Array, rsaPrivateKey: Tlv): Uint8Array | undefined {
  const [, modulus, exponent] = children(der, rsaPrivateKey);
  if (modulus?.tag !== 0x02 || exponent?.tag !== 0x02) return undefined;
  const n = der.slice(modulus.start - headerLength(modulus), modulus.end);
  const e = der.slice(exponent.start - headerLength(exponent), exponent.end);
  const body = new Uint8Array(n.length + e.length);
  body.set(n);
  body.set(e, n.length);
  return Uint8Array.from([0x30, ...lengthBytes(body.length), ...body]);
}

/** How many bytes a TLV's tag and length took (its content starts that far after the tag). */
function headerLength(tlv: Tlv): number {
  const length = tlv.end - tlv.start;
  return 1 + lengthBytes(length).length;
}

function lengthBytes(length: number): number[] {
  if (length < 0x80) return [length];
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256);
  return [0x80 | bytes.length, ...bytes];
}
