/**
 * What notariat remembers about the standing dns-persist-01 records it wrote, so it can replace them when the
 * account or policy changes and remove them when their entry leaves the ConfigMap, and never touch a record it
 * did not write. Kept apart from the per-attempt challenge values: these records are meant to stay.
 */

/** One TXT value notariat wrote at a `_validation-persist` name. */
export interface StandingRecord {
  /** `namespace/name` of the entry's TLS Secret: the entry the record belongs to. */
  entry: string;
  /** The record's domain (base name, no `*.`). */
  domain: string;
  /** The TXT owner written (after CNAMEs). */
  owner: string;
  zone: string;
  /** `host:port` the UPDATE went to. */
  server: string;
  value: string;
  /** `namespace/name` of the TSIG Secret whose key wrote it (and will delete it). */
  tsigSecret: string;
  /** The nameserver configured on the entry when it was written, if any. */
  nameserver?: string;
}

/** A change to the remembered records: `remove` is matched by entry, owner and value. */
export interface StandingRecordChange {
  add?: StandingRecord[];
  remove?: StandingRecord[];
}

/** A durable list of StandingRecords (the Kubernetes implementation keeps it in one Secret). */
export interface StandingRecordStore {
  list(): Promise<StandingRecord[]>;
  /** Applies `change` atomically against concurrent writers; adding a remembered record again is a no-op. */
  update(change: StandingRecordChange): Promise<void>;
}

/** Whether two records are the same value of the same entry at the same owner. */
export function sameRecord(a: StandingRecord, b: StandingRecord): boolean {
  return a.entry === b.entry && a.owner.toLowerCase() === b.owner.toLowerCase() && a.value === b.value;
}

/** `records` with `change` applied (pure; the stores share it). */
export function applyChange(records: StandingRecord[], change: StandingRecordChange): StandingRecord[] {
  const kept = records.filter((r) => !(change.remove ?? []).some((x) => sameRecord(r, x)));
  for (const added of change.add ?? []) if (!kept.some((r) => sameRecord(r, added))) kept.push(added);
  return kept;
}
