/**
 * Keeps standing dns-persist-01 records in place: a record that already says the right thing is left alone
 * (renewals then send no DNS UPDATE at all); a missing one is written through the same signed, CNAME-following,
 * one-UPDATE-per-zone path as challenge values, and the value notariat wrote before for the same entry and
 * domain is then deleted. Without a TSIG key, a missing record is an error that shows the record to add.
 */
import { errorMessage, NotariatError } from "../errors.ts";
import { formatServer } from "./address.ts";
import type { ChallengePlan, DnsContext, PlannedChallenge, ZoneAccess } from "./challenges.ts";
import { DEFAULT_POLL_INTERVAL_MS } from "./challenges.ts";
import { formatPersistZoneLine } from "./persist_record.ts";
import { servedTxt, waitForTxt } from "./propagation.ts";
import { sameRecord, type StandingRecord, type StandingRecordStore } from "./standing_record_store.ts";
import { createTransport } from "./exchange.ts";
import { sendTxtUpdate } from "./update.ts";
import { planUpdates } from "./update_plan.ts";

/** The standing record one domain needs. */
export interface WantedRecord {
  /** The domain as planned (the plan's naming maps it to `_validation-persist.<base>`). */
  domain: string;
  /** The value notariat writes when none matches. */
  value: string;
  /** Whether a served value already says what `value` says (spelling may differ). */
  matches(served: string): boolean;
}

/** Who the records belong to, for the store. */
export interface StandingOwner {
  /** `namespace/name` of the entry's Secret. */
  entry: string;
  /** `namespace/name` of its TSIG Secret; absent when the records are kept by hand. */
  tsigSecret?: string;
  /** The entry's nameserver as `host:port` text (formatServer), as the record store keeps it. */
  nameserver?: string;
}

/** What ensureStandingRecords did, per domain. */
export interface StandingResult {
  /** Domains whose record was already in place. */
  kept: string[];
  /** Domains whose record was written now. */
  written: string[];
}

/**
 * Makes sure every wanted record is served by the zone's servers (per the propagation check). Throws
 * NotariatError kind "dns" naming the records that are missing when there is no key (or no store) to write them.
 */
export async function ensureStandingRecords(
  plan: ChallengePlan,
  wanted: WantedRecord[],
  access: ZoneAccess,
  ctx: DnsContext,
  owner: StandingOwner,
  store: StandingRecordStore | undefined,
): Promise<StandingResult> {
  const transport = createTransport({ timeoutMs: ctx.timeoutMs });
  const planned = new Map(plan.challenges.map((c) => [c.domain, c]));
  const placed = wanted.map((w) => {
    const found = planned.get(w.domain);
    if (!found) throw new NotariatError("dns", `${w.domain} was not among the planned standing records`);
    return { wanted: w, at: found };
  });
  const missing: typeof placed = [];
  const kept: string[] = [];
  const canWrite = access.key !== undefined && owner.tsigSecret !== undefined && store !== undefined;
  for (const item of placed) {
    let served: string[];
    try {
      served = await servedTxt(transport, item.at.server, item.at.owner);
    } catch (err) {
      if (canWrite) throw err;
      // A record kept by hand may sit behind a primary this cluster cannot reach: the CA has the last word.
      ctx.log?.("dns standing record not checked", { name: item.at.name, error: errorMessage(err) });
      kept.push(item.wanted.domain);
      continue;
    }
    const match = served.find((value) => item.wanted.matches(value));
    if (match === undefined) {
      missing.push(item);
      continue;
    }
    kept.push(item.wanted.domain);
    await waitServed(transport, item.at, match, ctx);
  }
  if (missing.length === 0) {
    ctx.log?.("dns standing records in place", { names: placed.map((p) => p.at.name) });
    return { kept, written: [] };
  }
  if (!canWrite || store === undefined) {
    const lines = missing.map((m) => formatPersistZoneLine(m.wanted.domain, m.wanted.value));
    const why = access.key === undefined
      ? "there is no TSIG key to write it"
      : "notariat has no record store";
    throw new NotariatError(
      "dns",
      `no standing record authorizes this account at ${missing.map((m) => m.at.name).join(", ")} ` +
        `and ${why}: add ${lines.join(" and ")} (notariat persist-record prints it), or set tsigSecretName`,
    );
  }
  const records: StandingRecord[] = missing.map((m) => ({
    entry: owner.entry,
    domain: m.wanted.domain,
    owner: m.at.owner,
    zone: m.at.zone,
    server: formatServer(m.at.server),
    value: m.wanted.value,
    tsigSecret: owner.tsigSecret!,
    ...(owner.nameserver === undefined ? {} : { nameserver: owner.nameserver }),
  }));
  // Remembered before it is written: after a crash in between, a value that was never added is deleted
  // harmlessly, whereas a written value nobody remembers would stay forever.
  await store.update({ add: records });
  await plan.publish(missing.map((m) => ({ domain: m.wanted.domain, value: m.wanted.value })));
  ctx.log?.("dns standing records written", { names: missing.map((m) => m.at.name) });
  await deleteReplaced(records, access, ctx, store);
  return { kept, written: missing.map((m) => m.wanted.domain) };
}

/** Deletes the values notariat wrote earlier for the same entry and domains, now replaced by `current`. */
async function deleteReplaced(
  current: StandingRecord[],
  access: ZoneAccess,
  ctx: DnsContext,
  store: StandingRecordStore,
): Promise<void> {
  const all = await store.list();
  const replaced = all.filter((r) =>
    current.some((c) => c.entry === r.entry && c.domain === r.domain) &&
    !current.some((c) => sameRecord(c, r))
  );
  if (replaced.length === 0) return;
  try {
    await deleteStandingRecords(replaced, access, ctx);
    await store.update({ remove: replaced });
  } catch (err) {
    // The new record is in place and the old one stays remembered: the next write or sweep tries again.
    ctx.log?.("deleting replaced standing records failed", { error: errorMessage(err) });
  }
}

/**
 * Deletes exactly these values (class NONE, so other values at the names survive), one UPDATE per zone and
 * server. Throws NotariatError kind "dns" when the key is missing or an update fails.
 */
export async function deleteStandingRecords(
  records: StandingRecord[],
  access: ZoneAccess,
  ctx: DnsContext,
): Promise<void> {
  const key = access.key;
  if (key === undefined) throw new NotariatError("dns", "no TSIG key to delete standing records");
  const transport = createTransport({ timeoutMs: ctx.timeoutMs });
  const values = records.map(({ owner, value, zone, server }) => {
    const [host, port] = splitServer(server);
    return { owner, value, zone, server: { host, port } };
  });
  for (const update of planUpdates("delete", [{ key, values }])) {
    await sendTxtUpdate(transport, update.server, key, update.zone, "delete", update.values);
    ctx.log?.("dns standing records deleted", {
      zone: update.zone,
      owners: update.values.map((v) => v.owner),
    });
  }
}

async function waitServed(
  transport: ReturnType<typeof createTransport>,
  at: PlannedChallenge,
  value: string,
  ctx: DnsContext,
): Promise<void> {
  await waitForTxt(
    transport,
    at.checkServers.map((server) => ({ server, owner: at.owner, values: [value] })),
    {
      timeoutMs: ctx.propagationTimeoutMs,
      intervalMs: ctx.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS,
      present: true,
    },
  );
}

function splitServer(text: string): [string, number] {
  const match = /^\[?(.*?)\]?:(\d+)$/.exec(text);
  if (!match) throw new NotariatError("dns", `malformed server address '${text}'`);
  return [match[1], Number(match[2])];
}
