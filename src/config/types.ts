import type { ServerAddress } from "../dns/types.ts";

/** A reference to a Secret; a reference without a namespace means notariat's own namespace. */
export interface SecretRef {
  namespace: string;
  name: string;
}

/** The private key algorithms an entry may ask for. */
export const KEY_TYPES = ["ecdsa-p256", "ecdsa-p384", "rsa2048", "rsa3072", "rsa4096"] as const;
/** One of KEY_TYPES, as an entry's `keyType` names it. */
export type KeyType = typeof KEY_TYPES[number];
/** An entry without `keyType` gets P-256: small, quick to make and use, accepted by public CAs and TLS clients. */
export const DEFAULT_KEY_TYPE: KeyType = "ecdsa-p256";

/** The ACME challenge types an entry may use; all three prove control through DNS. */
export const CHALLENGE_TYPES = ["dns-01", "dns-persist-01", "dns-account-01"] as const;
/** One of CHALLENGE_TYPES, as an entry's `challenge` names it. */
export type ChallengeType = typeof CHALLENGE_TYPES[number];
/** An entry without `challenge` uses RFC 8555's dns-01, which every ACME CA offers. */
export const DEFAULT_CHALLENGE: ChallengeType = "dns-01";

/** One validated entry of the ConfigMap's `certificates` list. */
export interface CertificateSpec {
  /** Position in the `certificates` list, for messages. */
  index: number;
  /** The kubernetes.io/tls Secret notariat keeps valid. */
  secret: SecretRef;
  /** Lower-case ASCII (punycode) DNS names, without trailing dot, deduplicated, in configured order. */
  domains: string[];
  /** ACME account contact. */
  email: string;
  /**
   * The Secret whose `key` holds the TSIG key for DNS UPDATE. Absent only for dns-persist-01, whose standing
   * record is then managed outside notariat (see `notariat persist-record`).
   */
  tsigSecret?: SecretRef;
  /** The server that receives the updates, when configured on the entry (its host may be a name). */
  nameserver?: ServerAddress;
  keyType: KeyType;
  /** The CA's certificate profile to ask for (e.g. Let's Encrypt's "shortlived"); else the `-acme-profile` flag's. */
  profile?: string;
  /** How the CA is asked to check control of the domains; absent means DEFAULT_CHALLENGE (dns-01). */
  challenge?: ChallengeType;
  /** dns-persist-01 only: the standing record's `persistUntil`, after which the CA no longer honours it. */
  persistUntil?: Date;
}

/** `namespace/name`, the form used in every message. */
export function formatRef(ref: SecretRef): string {
  return `${ref.namespace}/${ref.name}`;
}
