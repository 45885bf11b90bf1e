/**
 * External account binding (RFC 8555 section 7.3.4): a CA that knows its customers (ZeroSSL, Google Trust
 * Services, Sectigo, SSL.com) hands out a key identifier and an HMAC key, and the newAccount request carries
 * a JWS over the account's public key, MACed with that key. The HMAC key stays in memory here: it is never
 * part of a message.
 */
import { Buffer } from "node:buffer";
import { createHmac } from "node:crypto";
import { NotariatError } from "../errors.ts";

/** The credentials the CA issued for binding an account. */
export interface EabCredentials {
  kid: string;
  /** base64url (or base64) of the HMAC key, as CAs print it. */
  hmacKey: string;
}

/** A JWS in flattened JSON serialization (RFC 7515 section 7.2.2). */
export interface FlattenedJws {
  protected: string;
  payload: string;
  signature: string;
}

/**
 * The `externalAccountBinding` field of newAccount: protected header {alg HS256, kid, url}, payload the
 * account's public JWK, MAC with the decoded HMAC key.
 */
export function externalAccountBinding(
  credentials: EabCredentials,
  newAccountUrl: string,
  accountJwk: Record<string, unknown>,
): FlattenedJws {
  const protectedHeader = encode(JSON.stringify({ alg: "HS256", kid: credentials.kid, url: newAccountUrl }));
  const payload = encode(JSON.stringify(accountJwk));
  const signature = createHmac("sha256", hmacKeyBytes(credentials.hmacKey))
    .update(`${protectedHeader}.${payload}`)
    .digest("base64url");
  return { protected: protectedHeader, payload, signature };
}

function encode(text: string): string {
  return Buffer.from(text, "utf8").toString("base64url");
}

function hmacKeyBytes(hmacKey: string): Buffer {
  // Node's base64 decoder takes both alphabets, with or without padding.
  return Buffer.from(hmacKey.trim(), "base64");
}

/**
 * The credentials in an EAB Secret's data (`kid`, `hmacKey`); `where` names the Secret in messages. Errors
 * name the key that is wrong, never its value.
 */
export function parseEabSecret(data: Record<string, Uint8Array>, where: string): EabCredentials {
  const decoder = new TextDecoder();
  const field = (name: string) => {
    const value = data[name] === undefined ? "" : decoder.decode(data[name]).trim();
    if (value === "") {
      throw new NotariatError("config", `external account binding Secret ${where}: key "${name}" is missing`);
    }
    return value;
  };
  const kid = field("kid");
  const hmacKey = field("hmacKey");
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(hmacKey) || hmacKeyBytes(hmacKey).length < 16) {
    throw new NotariatError(
      "config",
      `external account binding Secret ${where}: key "hmacKey" is not a base64url key of at least 16 bytes`,
    );
  }
  return { kid, hmacKey };
}
