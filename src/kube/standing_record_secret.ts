import { applyChange, type StandingRecord, type StandingRecordStore } from "../dns/standing_record_store.ts";
import { errorMessage, NotariatError } from "../errors.ts";
import { COMPONENT_LABEL, isKubeStatus, type Kube, MANAGED_BY_LABEL, MANAGED_BY_VALUE } from "./types.ts";

/** The Secret in notariat's namespace that remembers the standing dns-persist-01 records notariat wrote. */
export const STANDING_RECORDS_SECRET = "notariat-standing-records";
/** Its data key: a JSON list of StandingRecord. */
export const STANDING_RECORDS_KEY = "records.json";
/** Its component label value. */
export const STANDING_RECORDS_COMPONENT = "standing-records";

const CONFLICT_RETRIES = 8;

/**
 * A StandingRecordStore in one Opaque Secret (a Secret because notariat's RBAC already lets it create and patch
 * Secrets in its namespace; the content is not secret). Updates are read-modify-write against the Secret's
 * resourceVersion, retried on conflict, so concurrent issuances never lose each other's records.
 */
export function createKubeStandingStore(kube: Kube, namespace: string): StandingRecordStore {
  const read = async () => {
    const secret = await kube.readSecret(namespace, STANDING_RECORDS_SECRET);
    if (secret === undefined) return { secret, records: [] as StandingRecord[] };
    const bytes = secret.data[STANDING_RECORDS_KEY];
    if (bytes === undefined) return { secret, records: [] };
    try {
      const records: unknown = JSON.parse(new TextDecoder().decode(bytes));
      if (!Array.isArray(records)) throw new Error("not a list");
      return { secret, records: records as StandingRecord[] };
    } catch (err) {
      throw new NotariatError(
        "kube",
        `Secret ${namespace}/${STANDING_RECORDS_SECRET} key ${STANDING_RECORDS_KEY} is not a JSON list of ` +
          `records (${errorMessage(err)}); fix it by hand: deleting it makes notariat forget which ` +
          "_validation-persist records it wrote",
      );
    }
  };
  return {
    async list() {
      return (await read()).records;
    },
    async update(change) {
      for (let attempt = 0;; attempt++) {
        const { secret, records } = await read();
        const next = applyChange(records, change);
        const data = { [STANDING_RECORDS_KEY]: new TextEncoder().encode(JSON.stringify(next, null, 1)) };
        try {
          if (secret === undefined) {
            await kube.createSecret({
              namespace,
              name: STANDING_RECORDS_SECRET,
              type: "Opaque",
              labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [COMPONENT_LABEL]: STANDING_RECORDS_COMPONENT },
              annotations: {},
              data,
            });
          } else {
            await kube.updateSecret({ ...secret, data });
          }
          return;
        } catch (err) {
          if (attempt < CONFLICT_RETRIES && isKubeStatus(err, 409)) continue;
          throw err;
        }
      }
    },
  };
}
