/**
 * Removes the standing dns-persist-01 records of entries that left the ConfigMap. Driven by the configured
 * entries themselves (read afresh at each sweep) and by the store of records notariat wrote, not by any watch,
 * so a removal missed while notariat was down is caught by the next sweep. Only remembered values are deleted.
 */
import { parseCertificatesConfig, type ParsedConfig } from "../config/parse.ts";
import { parseSecretRef } from "../config/names.ts";
import { formatRef } from "../config/types.ts";
import type { DnsContext } from "../dns/challenges.ts";
import { baseDomain } from "../dns/persist_record.ts";
import { deleteStandingRecords } from "../dns/standing.ts";
import type { StandingRecord, StandingRecordStore } from "../dns/standing_record_store.ts";
import { errorMessage } from "../errors.ts";
import type { Kube } from "../kube/types.ts";
import { parseServerAddress } from "../dns/address.ts";
import { loadTsigAccess } from "./zone_access.ts";

/**
 * The remembered records no configured entry wants any more (pure). A record is kept while a valid
 * dns-persist-01 entry for its Secret lists its domain, and while its entry is present but invalid (a typo must
 * not revoke an authorization). Nothing is orphaned when the configuration cannot be read as a whole, or when
 * some entry's Secret cannot be told.
 */
export function orphanedRecords(
  records: StandingRecord[],
  config: ParsedConfig | undefined,
): StandingRecord[] {
  if (config === undefined) return [];
  if (config.problems.some((p) => p.index === undefined || p.secret === undefined)) return [];
  const invalid = new Set(config.problems.map((p) => p.secret));
  const wanted = new Set<string>();
  for (const spec of config.specs) {
    if (spec.challenge !== "dns-persist-01") continue;
    for (const domain of spec.domains) wanted.add(`${formatRef(spec.secret)} ${baseDomain(domain)}`);
  }
  return records.filter((r) => !invalid.has(r.entry) && !wanted.has(`${r.entry} ${r.domain}`));
}

/** What a sweep works with. */
export interface SweepDeps {
  kube: Kube;
  /** Name of the ConfigMap in the Kube's namespace. */
  configName: string;
  store: StandingRecordStore;
  dns: DnsContext;
  log: (level: "info" | "warn", message: string, fields: Record<string, unknown>) => void;
}

/** One sweep: deletes orphaned records (one UPDATE per zone) and forgets them; returns how many were removed. */
export async function sweepStandingRecords(deps: SweepDeps): Promise<number> {
  const { kube } = deps;
  const records = await deps.store.list();
  if (records.length === 0) return 0;
  const configMap = await kube.readConfigMap(kube.namespace, deps.configName);
  const parsed = configMap === undefined
    ? undefined
    : parseCertificatesConfig(configMap.data, kube.namespace);
  const orphans = orphanedRecords(records, parsed);
  const groups = new Map<string, StandingRecord[]>();
  for (const record of orphans) {
    const id = `${record.tsigSecret} ${record.nameserver ?? ""}`;
    groups.set(id, [...groups.get(id) ?? [], record]);
  }
  let removed = 0;
  for (const group of groups.values()) {
    const [first] = group;
    const names = group.map((r) => r.owner);
    try {
      const access = await loadTsigAccess(
        kube,
        parseSecretRef(first.tsigSecret, kube.namespace),
        // Stored as `host:port` text: read back by the one address parser.
        first.nameserver === undefined ? undefined : parseServerAddress(first.nameserver),
      );
      await deleteStandingRecords(group, access, deps.dns);
      await deps.store.update({ remove: group });
      removed += group.length;
      deps.log("info", "standing records of removed entries deleted", {
        entries: [...new Set(group.map((r) => r.entry))],
        names,
      });
    } catch (err) {
      // Kept in the store, so the next sweep tries again.
      deps.log("warn", "deleting standing records of removed entries failed", {
        names,
        error: errorMessage(err),
      });
    }
  }
  return removed;
}

/** Sweeps now and then every `intervalMs` until `signal` aborts; a failed sweep is logged and retried later. */
export async function runStandingSweeps(
  deps: SweepDeps,
  intervalMs: number,
  signal: AbortSignal,
): Promise<void> {
  while (!signal.aborted) {
    try {
      await sweepStandingRecords(deps);
    } catch (err) {
      deps.log("warn", "sweeping standing records failed", { error: errorMessage(err) });
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, Math.min(intervalMs, 2 ** 31 - 1));
      signal.addEventListener("abort", done, { once: true });
      function done() {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      }
    });
  }
}
