/** The TSIG HMAC algorithms notariat signs with (RFC 8945 section 6). */
export const TSIG_ALGORITHMS = [
  "hmac-md5",
  "hmac-sha1",
  "hmac-sha224",
  "hmac-sha256",
  "hmac-sha384",
  "hmac-sha512",
] as const;
/** One of TSIG_ALGORITHMS, by the name tsig-keygen and keymgr print. */
export type TsigAlgorithm = typeof TSIG_ALGORITHMS[number];
/** The algorithm of a key given without one, as tsig-keygen and keymgr -t default to it. */
export const DEFAULT_TSIG_ALGORITHM: TsigAlgorithm = "hmac-sha256";

/** A parsed TSIG key. `secret` is raw key material: never log it or put it in a message. */
export interface TsigKey {
  algorithm: TsigAlgorithm;
  /** Key name, lower-case, without trailing dot. */
  name: string;
  secret: Uint8Array;
}

/**
 * A DNS server: `host` is an IPv4 or IPv6 address literal, or (for a configured nameserver, before it is
 * resolved) a host name. Read from text by parseServerAddress (src/dns/address.ts) only.
 */
export interface ServerAddress {
  host: string;
  port: number;
}

/** Which servers must serve a new TXT value before the CA is told to look. */
export type PropagationCheck = "all" | "update-server" | "off";
