/**
 * The challenge journal: what notariat is about to publish is written down durably before the UPDATE is sent,
 * and crossed out once the values are deleted again. A process killed in between (OOM, a forced pod deletion,
 * node loss) leaves its values in the zone; the next run finds them in the journal and deletes exactly those
 * values, never a value another tool or another notariat instance published at the same name.
 *
 * This module is the pure part: the record format and what a sweep deletes. The I/O around it (where records
 * are stored, how keys are found) is the journal's implementation (src/controller/challenge_journal.ts).
 */
import { formatServer } from "./address.ts";
import type { ServerAddress } from "./types.ts";
import type { PlacedValue, TxtValue } from "./update.ts";

/** What one publish added, and the Secret (`namespace/name`) whose TSIG key removes it. */
export interface JournalRecord {
  id: string;
  keySecret: string;
  recordedAt: Date;
  values: PlacedValue[];
}

/** A recorded publish of this process; `settle` says whether its values were removed. */
export interface JournalEntry {
  /**
   * `removed`: the values were deleted, the record is crossed out. Otherwise the record stays for a later
   * sweep (at the next start, or before the next order for the same names). Never throws.
   */
  settle(removed: boolean): Promise<void>;
}

/** What the DNS module asks of the journal (see DnsContext.journal). */
export interface ChallengeJournal {
  /**
   * Durably records `values` before they are published, with the Secret (`namespace/name`) whose key will
   * delete them. Throws when the record cannot be written: then nothing must be published.
   */
  record(keySecret: string, values: PlacedValue[]): Promise<JournalEntry>;
  /**
   * Deletes left-over values of earlier publishes (of this process or a previous one) that are no longer in
   * flight: all of them, or those at `owners` only. Failures are logged and the records kept; never throws.
   */
  sweep(owners?: readonly string[]): Promise<void>;
}

/** The stored form of one record (JSON in one data key of the journal). */
export function encodeRecord(record: JournalRecord): string {
  return JSON.stringify({
    keySecret: record.keySecret,
    recordedAt: record.recordedAt.toISOString(),
    values: record.values,
  });
}

/** Reads a stored record; undefined when `text` is not one (a damaged record is reported, not guessed at). */
export function decodeRecord(id: string, text: string): JournalRecord | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  const r = parsed as { keySecret?: unknown; recordedAt?: unknown; values?: unknown };
  if (typeof r?.keySecret !== "string" || typeof r.recordedAt !== "string" || !Array.isArray(r.values)) {
    return undefined;
  }
  const values: PlacedValue[] = [];
  for (const v of r.values as Record<string, unknown>[]) {
    const server = v?.server as { host?: unknown; port?: unknown } | undefined;
    if (
      typeof v?.zone !== "string" || typeof v.owner !== "string" || typeof v.value !== "string" ||
      typeof server?.host !== "string" || typeof server.port !== "number"
    ) {
      return undefined;
    }
    values.push({
      zone: v.zone,
      owner: v.owner,
      value: v.value,
      server: { host: server.host, port: server.port },
    });
  }
  return { id, keySecret: r.keySecret, recordedAt: new Date(r.recordedAt), values };
}

/** The deletes of a sweep that go out in one UPDATE: one key, one zone, one server. */
export interface SweepBatch {
  keySecret: string;
  zone: string;
  server: ServerAddress;
  values: TxtValue[];
  /** The records whose values this batch deletes. */
  recordIds: string[];
}

/** What a sweep does: the deletes to send, and the records crossed out without a delete. */
export interface SweepPlan {
  batches: SweepBatch[];
  /** Records with nothing left to delete (their values are all in flight again in another record). */
  forgetNow: string[];
}

/**
 * Plans a sweep of `records`, leaving out the records in `held` (publishes in flight in this process) and,
 * when `owners` is given, records with no value at those names. A value that a held record also holds is not
 * deleted (the CA may be checking it right now; the held record's own removal deletes it). Deterministic:
 * batches in order of key, zone and server.
 */
export function planSweep(
  records: readonly JournalRecord[],
  held: ReadonlySet<string>,
  owners?: readonly string[],
): SweepPlan {
  const normalize = (name: string) => name.toLowerCase().replace(/\.$/, "");
  const wanted = owners === undefined ? undefined : new Set(owners.map(normalize));
  const identity = (v: PlacedValue) =>
    `${normalize(v.zone)} ${formatServer(v.server)} ${normalize(v.owner)} ${v.value}`;
  const inFlight = new Set(records.filter((r) => held.has(r.id)).flatMap((r) => r.values.map(identity)));
  const batches = new Map<string, SweepBatch>();
  const forgetNow: string[] = [];
  for (const record of records) {
    if (held.has(record.id)) continue;
    if (wanted !== undefined && !record.values.some((v) => wanted.has(normalize(v.owner)))) continue;
    const toDelete = record.values.filter((v) => !inFlight.has(identity(v)));
    if (toDelete.length === 0) {
      forgetNow.push(record.id);
      continue;
    }
    for (const v of toDelete) {
      const key = `${record.keySecret} ${normalize(v.zone)} ${formatServer(v.server)}`;
      const batch = batches.get(key) ??
        { keySecret: record.keySecret, zone: v.zone, server: v.server, values: [], recordIds: [] };
      batches.set(key, batch);
      if (!batch.values.some((x) => normalize(x.owner) === normalize(v.owner) && x.value === v.value)) {
        batch.values.push({ owner: v.owner, value: v.value });
      }
      if (!batch.recordIds.includes(record.id)) batch.recordIds.push(record.id);
    }
  }
  const sorted = [...batches.entries()].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0).map(([, b]) => b);
  return { batches: sorted, forgetNow };
}
