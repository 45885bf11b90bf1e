import {
  applyChange,
  type StandingRecord,
  type StandingRecordStore,
} from "../../src/dns/standing_record_store.ts";

/** A StandingRecordStore in memory, for issuer tests without a cluster (the Kubernetes store has its own test). */
export interface MemoryStandingStore extends StandingRecordStore {
  records: StandingRecord[];
}

/** An empty MemoryStandingStore. */
export function createMemoryStandingStore(): MemoryStandingStore {
  const store: MemoryStandingStore = {
    records: [],
    list: () => Promise.resolve([...store.records]),
    update(change) {
      store.records = applyChange(store.records, change);
      return Promise.resolve();
    },
  };
  return store;
}
