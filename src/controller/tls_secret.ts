import type { IssuedCertificate } from "../acme/issuer.ts";
import type { SecretRef } from "../config/types.ts";
import type { RenewalSource } from "./renewal.ts";
import { ANNOTATION_PREFIX, type KubeSecret, MANAGED_BY_LABEL, MANAGED_BY_VALUE } from "../kube/types.ts";
import { TLS_SECRET_TYPE } from "./policy.ts";
import { TLS_CERT_KEY, TLS_KEY_KEY } from "./inspect.ts";

/**
 * Annotations notariat writes on a certificate Secret, for operators (`kubectl describe secret`): what the
 * certificate covers, when it was issued and expires, who issued it. They are informative; the policy always
 * looks at the certificate itself.
 */
export const ANNOTATIONS = {
  domains: `${ANNOTATION_PREFIX}domains`,
  issuedAt: `${ANNOTATION_PREFIX}issued-at`,
  notBefore: `${ANNOTATION_PREFIX}not-before`,
  expiresAt: `${ANNOTATION_PREFIX}expires-at`,
  issuer: `${ANNOTATION_PREFIX}issuer`,
  serial: `${ANNOTATION_PREFIX}serial`,
  acmeDirectory: `${ANNOTATION_PREFIX}acme-directory`,
  /** The CA profile the certificate was asked for under; "" for the CA's default. Compared on each look. */
  profile: `${ANNOTATION_PREFIX}profile`,
  /** When notariat will renew the certificate (RFC 3339), kept current as the CA's window moves. */
  renewAt: `${ANNOTATION_PREFIX}renew-at`,
  /** Where that time comes from: "ari" (the CA's renewal information) or "rule" (the lifetime rule). */
  renewalSource: `${ANNOTATION_PREFIX}renewal-source`,
  challenge: `${ANNOTATION_PREFIX}challenge`,
} as const;

/** Facts about the issued certificate that go into annotations. */
export interface IssuedFacts {
  issuer: string;
  serialNumber: string;
  acmeDirectory: string;
  issuedAt: Date;
  /** The profile the order asked for; undefined: the CA's default. */
  profile?: string;
  /** When the certificate will be renewed and why. */
  renewal?: { at: Date; source: RenewalSource };
  /** The challenge type that proved control of the domains (dns-01, dns-persist-01, dns-account-01). */
  challenge?: string;
}

/** What of an issued certificate goes into its Secret: the chain, the key, the domains and the validity. */
export type TlsContent = Pick<IssuedCertificate, "certificatePem" | "privateKeyPem" | "domains"> & {
  leaf: Pick<IssuedCertificate["leaf"], "notBefore" | "notAfter">;
};

/** The renewal annotations for a plan, to write or to compare with what a Secret carries. */
export function renewalAnnotations(renewal: { at: Date; source: RenewalSource }): Record<string, string> {
  return { [ANNOTATIONS.renewAt]: renewal.at.toISOString(), [ANNOTATIONS.renewalSource]: renewal.source };
}

/**
 * The kubernetes.io/tls Secret holding `issued`: tls.crt is the full chain (leaf first), tls.key the key.
 * Built on top of `existing` when there is one, so keys, labels and annotations a user added are kept.
 */
export function tlsSecret(
  ref: SecretRef,
  existing: KubeSecret | undefined,
  issued: TlsContent,
  facts: IssuedFacts,
): KubeSecret {
  const encoder = new TextEncoder();
  return {
    namespace: ref.namespace,
    name: ref.name,
    resourceVersion: existing?.resourceVersion,
    type: TLS_SECRET_TYPE,
    labels: { ...existing?.labels, [MANAGED_BY_LABEL]: MANAGED_BY_VALUE },
    annotations: {
      ...existing?.annotations,
      [ANNOTATIONS.domains]: issued.domains.join(","),
      [ANNOTATIONS.issuedAt]: facts.issuedAt.toISOString(),
      [ANNOTATIONS.notBefore]: issued.leaf.notBefore.toISOString(),
      [ANNOTATIONS.expiresAt]: issued.leaf.notAfter.toISOString(),
      [ANNOTATIONS.issuer]: facts.issuer,
      [ANNOTATIONS.serial]: facts.serialNumber,
      [ANNOTATIONS.acmeDirectory]: facts.acmeDirectory,
      [ANNOTATIONS.profile]: facts.profile ?? "",
      ...(facts.renewal === undefined ? {} : renewalAnnotations(facts.renewal)),
      ...(facts.challenge === undefined ? {} : { [ANNOTATIONS.challenge]: facts.challenge }),
    },
    data: {
      ...existing?.data,
      [TLS_CERT_KEY]: encoder.encode(issued.certificatePem),
      [TLS_KEY_KEY]: encoder.encode(issued.privateKeyPem),
    },
  };
}
