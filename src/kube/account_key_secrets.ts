import type { AccountKeyStore } from "../acme/account_key_store.ts";
import { errorMessage, NotariatError } from "../errors.ts";
import { importSigningKey } from "../pki/private_key.ts";
import {
  ANNOTATION_PREFIX,
  COMPONENT_LABEL,
  isKubeStatus,
  type Kube,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
} from "./types.ts";

/** The Secret data key holding an ACME account's private key (PEM). */
export const ACCOUNT_KEY_DATA_KEY = "account.key";
/** The component label value of account key Secrets. */
export const ACCOUNT_COMPONENT = "acme-account";

/**
 * Keeps ACME account keys in Opaque Secrets in notariat's namespace, labelled as notariat's and annotated
 * with the account's email and CA directory, so an operator can tell which Secret is which account.
 */
export function createKubeAccountStore(kube: Kube, namespace: string): AccountKeyStore {
  return {
    async read(name) {
      const secret = await kube.readSecret(namespace, name);
      if (secret === undefined) return undefined;
      const bytes = secret.data[ACCOUNT_KEY_DATA_KEY];
      const pem = bytes === undefined ? "" : new TextDecoder().decode(bytes);
      if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]+-----END [A-Z ]*PRIVATE KEY-----/.test(pem)) {
        throw new NotariatError(
          "kube",
          `ACME account Secret ${namespace}/${name} has no PEM private key under ${ACCOUNT_KEY_DATA_KEY}; ` +
            "fix or delete it (deleting it registers a new account)",
        );
      }
      try {
        // A damaged key would fail later, inside the ACME client, without naming this Secret.
        await importSigningKey(pem);
      } catch (err) {
        throw new NotariatError(
          "kube",
          `ACME account Secret ${namespace}/${name} holds no usable private key under ${ACCOUNT_KEY_DATA_KEY} ` +
            `(${errorMessage(err)}); fix or delete it (deleting it registers a new account)`,
        );
      }
      return pem;
    },
    async create(name, keyPem, info) {
      try {
        await kube.createSecret({
          namespace,
          name,
          type: "Opaque",
          labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [COMPONENT_LABEL]: ACCOUNT_COMPONENT },
          annotations: {
            [`${ANNOTATION_PREFIX}acme-email`]: info.email,
            [`${ANNOTATION_PREFIX}acme-directory`]: info.directoryUrl,
          },
          data: { [ACCOUNT_KEY_DATA_KEY]: new TextEncoder().encode(keyPem) },
        });
        return true;
      } catch (err) {
        if (isKubeStatus(err, 409)) return false;
        throw err;
      }
    },
  };
}
