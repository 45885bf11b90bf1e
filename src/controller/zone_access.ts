import type { ZoneAccess } from "../dns/challenges.ts";
import { parseTsigKey } from "../dns/tsig_key.ts";
import { type CertificateSpec, formatRef, type SecretRef } from "../config/types.ts";
import { errorMessage, NotariatError } from "../errors.ts";
import type { Kube, KubeSecret } from "../kube/types.ts";
import { parseServerAddress } from "../dns/address.ts";
import type { ServerAddress, TsigKey } from "../dns/types.ts";

/** The TSIG Secret's data key holding the key, in any form parseTsigKey reads. */
export const TSIG_KEY_DATA_KEY = "key";
/** The TSIG Secret's optional data key naming the server that takes updates for the key's zones. */
export const TSIG_NAMESERVER_DATA_KEY = "nameserver";

/**
 * The server an entry's updates go to: the entry's own `nameserver`, else the TSIG Secret's (read with the
 * same parser as the entry's; a blank value counts as absent), else none (the DNS module then asks the zone's
 * SOA MNAME). `source` names the Secret's value in the error a bad value gets.
 */
export function chooseNameserver(
  entry: ServerAddress | undefined,
  fromSecret: string | undefined,
  source: string,
): ServerAddress | undefined {
  if (entry !== undefined) return entry;
  const text = fromSecret?.trim();
  if (!text) return undefined;
  try {
    return parseServerAddress(text);
  } catch (err) {
    throw new NotariatError("config", `${source}: ${errorMessage(err)}`);
  }
}

/** Reads a Secret (undefined: it does not exist); by default a GET, the controller's index keeps shared ones. */
export type SecretReader = (ref: SecretRef) => Promise<KubeSecret | undefined>;

/**
 * Reads the entry's TSIG Secret (in any namespace notariat may read) into what the DNS module needs.
 * Errors name the entry's Secret and the TSIG Secret, never the key.
 */
export async function loadZoneAccess(
  kube: Kube,
  spec: CertificateSpec,
  read?: SecretReader,
): Promise<ZoneAccess> {
  const tsigSecret = spec.tsigSecret;
  // Only a dns-persist-01 entry has none: it may read the zone, never write it.
  if (tsigSecret === undefined) return spec.nameserver === undefined ? {} : { nameserver: spec.nameserver };
  return await loadTsigAccess(kube, tsigSecret, spec.nameserver, read);
}

/** The key in the TSIG Secret `tsigSecret` and the nameserver the entry or that Secret names. */
export async function loadTsigAccess(
  kube: Kube,
  tsigSecret: SecretRef,
  entryNameserver: ServerAddress | undefined,
  read?: SecretReader,
): Promise<ZoneAccess> {
  const ref = formatRef(tsigSecret);
  const { key, secret } = await readTsigSecret(kube, tsigSecret, read);
  const decoder = new TextDecoder();
  const fromSecret = secret.data[TSIG_NAMESERVER_DATA_KEY];
  const nameserver = chooseNameserver(
    entryNameserver,
    fromSecret && decoder.decode(fromSecret),
    `TSIG Secret ${ref} key "${TSIG_NAMESERVER_DATA_KEY}"`,
  );
  return nameserver === undefined ? { key, keySecret: ref } : { key, nameserver, keySecret: ref };
}

/** The TSIG key held by the Secret `tsigSecret`; errors as loadZoneAccess's. */
export async function loadTsigKey(kube: Kube, tsigSecret: SecretRef): Promise<TsigKey> {
  return (await readTsigSecret(kube, tsigSecret)).key;
}

async function readTsigSecret(
  kube: Kube,
  tsigSecret: SecretRef,
  read: SecretReader = (ref) => kube.readSecret(ref.namespace, ref.name),
): Promise<{ key: TsigKey; secret: KubeSecret }> {
  const ref = formatRef(tsigSecret);
  const secret = await read(tsigSecret).catch((err) => {
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
  return { key: parseTsigKey(text, source), secret };
}
