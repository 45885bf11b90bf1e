import type { IssuedCertificate } from "../acme/issuer.ts";
import type { KeyType } from "../config/types.ts";
import { errorMessage } from "../errors.ts";
import type { KubeSecret } from "../kube/types.ts";
import { inspectChain } from "../pki/inspect_chain.ts";
import { certificateOrigin } from "./ca_identity.ts";
import { type AcmeExpectation, type PolicyInput, TLS_SECRET_TYPE } from "./policy.ts";

/** The data key of a kubernetes.io/tls Secret holding the certificate chain, leaf first. */
export const TLS_CERT_KEY = "tls.crt";
/** The data key of a kubernetes.io/tls Secret holding the private key. */
export const TLS_KEY_KEY = "tls.key";

/**
 * Gathers what the reissue policy looks at from a Secret (or its absence): type, whether tls.crt and tls.key
 * are PEM and parse, the leaf certificate, and whether the key belongs to it. Never throws for bad data:
 * bad data is a reason to reissue, not an error.
 */
export function inspectSecret(
  secret: KubeSecret | undefined,
  domains: string[],
  now: Date,
  renewBeforeMs: number,
  keyType?: KeyType,
  acme?: AcmeExpectation,
): Promise<PolicyInput> {
  return Promise.resolve(inspectSync(secret, domains, now, renewBeforeMs, keyType, acme));
}

/**
 * What the policy looks at for a certificate the issuer just obtained: its leaf as the issuer parsed it, and
 * its key, which the issuer checked it was issued for. Nothing is parsed again.
 */
export function inspectIssued(
  issued: IssuedCertificate,
  domains: string[],
  now: Date,
  renewBeforeMs: number,
  keyType?: KeyType,
): PolicyInput {
  const { leaf } = issued;
  return {
    domains,
    keyType,
    now,
    renewBeforeMs,
    exists: true,
    type: TLS_SECRET_TYPE,
    certificate: leaf,
    dataProblem: leaf.isCa ? "the issued chain begins with a CA certificate" : undefined,
    keyMatches: true,
  };
}

function inspectSync(
  secret: KubeSecret | undefined,
  domains: string[],
  now: Date,
  renewBeforeMs: number,
  keyType?: KeyType,
  acme?: AcmeExpectation,
): PolicyInput {
  const base = { domains, keyType, now, renewBeforeMs, ...(acme === undefined ? {} : { acme }) };
  if (secret === undefined) return { ...base, exists: false };
  const input: PolicyInput = { ...base, exists: true, type: secret.type };
  const decoder = new TextDecoder("utf-8", { fatal: false });
  const crt = secret.data[TLS_CERT_KEY];
  const key = secret.data[TLS_KEY_KEY];
  if (crt === undefined || crt.length === 0) return { ...input, dataProblem: `${TLS_CERT_KEY} is missing` };
  if (key === undefined || key.length === 0) return { ...input, dataProblem: `${TLS_KEY_KEY} is missing` };
  const crtPem = decoder.decode(crt);
  const keyPem = decoder.decode(key);
  if (!crtPem.includes("-----BEGIN CERTIFICATE-----")) {
    return { ...input, dataProblem: `${TLS_CERT_KEY} is not a PEM certificate` };
  }
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(keyPem)) {
    return { ...input, dataProblem: `${TLS_KEY_KEY} is not a PEM private key` };
  }
  let inspection;
  try {
    inspection = inspectChain(crtPem, keyPem);
  } catch (err) {
    return { ...input, dataProblem: `${TLS_CERT_KEY} does not parse: ${errorMessage(err)}` };
  }
  const [leaf] = inspection.chain;
  // A CA certificate first means the chain is in the wrong order or holds no server certificate at all.
  if (leaf.isCa) {
    return {
      ...input,
      dataProblem: `${TLS_CERT_KEY} begins with a CA certificate (${leaf.subject}), not the server's ` +
        "certificate: the leaf must come first",
    };
  }
  const chainProblem = inspection.chainGap === undefined
    ? {}
    : { chainProblem: `${TLS_CERT_KEY} is not a full chain: ${inspection.chainGap}` };
  const origin = certificateOrigin(secret, leaf);
  return { ...input, certificate: leaf, keyMatches: inspection.keyMatches, ...chainProblem, origin };
}
