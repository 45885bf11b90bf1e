import type { IssuedCertificate } from "../acme/issuer.ts";
import type { SecretRef } from "../config/types.ts";
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
  challenge: `${ANNOTATION_PREFIX}challenge`,
} as const;

/** Facts about the issued certificate that go into annotations. */
export interface IssuedFacts {
  issuer: string;
  serialNumber: string;
  acmeDirectory: string;
  issuedAt: Date;
  /** The challenge type that proved control of the domains (dns-01, dns-persist-01, dns-account-01). */
  challenge?: string;
}

/**
 * The kubernetes.io/tls Secret holding `issued`: tls.crt is the full chain (leaf first), tls.key the key.
 * Built on top of `existing` when there is one, so keys, labels and annotations a user added are kept.
 */
export function tlsSecret(
  ref: SecretRef,
  existing: KubeSecret | undefined,
  issued: IssuedCertificate,
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
      [ANNOTATIONS.notBefore]: issued.notBefore.toISOString(),
      [ANNOTATIONS.expiresAt]: issued.notAfter.toISOString(),
      [ANNOTATIONS.issuer]: facts.issuer,
      [ANNOTATIONS.serial]: facts.serialNumber,
      [ANNOTATIONS.acmeDirectory]: facts.acmeDirectory,
      ...(facts.challenge === undefined ? {} : { [ANNOTATIONS.challenge]: facts.challenge }),
    },
    data: {
      ...existing?.data,
      [TLS_CERT_KEY]: encoder.encode(issued.certificatePem),
      [TLS_KEY_KEY]: encoder.encode(issued.privateKeyPem),
    },
  };
}
