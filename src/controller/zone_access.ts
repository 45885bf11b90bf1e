import type { ZoneAccess } from "../dns/challenges.ts";
import { parseTsigKey } from "../dns/tsig_key.ts";
import { type CertificateSpec, formatRef, type SecretRef } from "../config/types.ts";
import { errorMessage, NotariatError } from "../errors.ts";
import type { Kube } from "../kube/types.ts";

/** The TSIG Secret's data key holding the key, in any form parseTsigKey reads. */
export const TSIG_KEY_DATA_KEY = "key";
/** The TSIG Secret's optional data key naming the server that takes updates for the key's zones. */
export const TSIG_NAMESERVER_DATA_KEY = "nameserver";

/**
 * The server an entry's updates go to: the entry's own `nameserver`, else the TSIG Secret's, else none
 * (the DNS module then asks the zone's SOA MNAME). Blank values count as absent.
 */
export function chooseNameserver(
  entry: string | undefined,
  fromSecret: string | undefined,
): string | undefined {
  for (const candidate of [entry, fromSecret]) {
    const value = candidate?.trim();
    if (value) return value;
  }
  return undefined;
}

/**
 * Reads the entry's TSIG Secret (in any namespace notariat may read) into what the DNS module needs.
 * Errors name the entry's Secret and the TSIG Secret, never the key.
 */
export async function loadZoneAccess(kube: Kube, spec: CertificateSpec): Promise<ZoneAccess> {
  const tsigSecret = spec.tsigSecret;
  // Only a dns-persist-01 entry has none: it may read the zone, never write it.
  if (tsigSecret === undefined) return spec.nameserver === undefined ? {} : { nameserver: spec.nameserver };
  return await loadTsigAccess(kube, tsigSecret, spec.nameserver);
}

/** The key in the TSIG Secret `tsigSecret` and the nameserver the entry or that Secret names. */
export async function loadTsigAccess(
  kube: Kube,
  tsigSecret: SecretRef,
  entryNameserver: string | undefined,
): Promise<ZoneAccess> {
  const ref = formatRef(tsigSecret);
  const secret = await kube.readSecret(tsigSecret.namespace, tsigSecret.name).catch((err) => {
    throw new NotariatError("kube", `cannot read TSIG Secret: ${errorMessage(err)}`, { cause: err });
  });
  if (secret === undefined) throw new NotariatError("config", `TSIG Secret ${ref} does not exist`);
  const keyBytes = secret.data[TSIG_KEY_DATA_KEY];
  if (keyBytes === undefined) {
    throw new NotariatError("config", `TSIG Secret ${ref} has no data key "${TSIG_KEY_DATA_KEY}"`);
  }
  const source = `secret ${ref} key "${TSIG_KEY_DATA_KEY}"`;
  let text: string;
  try {
    // Replacement characters would turn into a misleading "not base64" or "not a DNS name" further on.
    text = new TextDecoder("utf-8", { fatal: true }).decode(keyBytes);
  } catch {
    throw new NotariatError("tsig-key", `invalid TSIG key in ${source}: it is not UTF-8 text`);
  }
  const key = parseTsigKey(text, source);
  const decoder = new TextDecoder();
  const fromSecret = secret.data[TSIG_NAMESERVER_DATA_KEY];
  const nameserver = chooseNameserver(entryNameserver, fromSecret && decoder.decode(fromSecret));
  return nameserver === undefined ? { key } : { key, nameserver };
}
