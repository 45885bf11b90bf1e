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
  /** The Secret whose `key` holds the TSIG key for DNS UPDATE. */
  tsigSecret: SecretRef;
  /** The server that receives the updates, when configured on the entry (its host may be a name). */
  nameserver?: ServerAddress;
  keyType: KeyType;
}

/** `namespace/name`, the form used in every message. */
export function formatRef(ref: SecretRef): string {
  return `${ref.namespace}/${ref.name}`;
}
