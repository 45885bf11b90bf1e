/**
 * The DNS module's face: publish the TXT values of a DNS-01 challenge set, wait until they are served, and
 * remove exactly those values afterwards.
 *
 * One certificate's values, step by step, and the type each step speaks:
 * 1. **Plan** — planChallenges(domains) returns a ChallengePlan before any order exists: one PlannedChallenge
 *    per challenge name (ChallengeNaming gives it: `_acme-challenge.<domain>` for dns-01, so a wildcard and its
 *    apex share one name), with the TXT owner after following CNAMEs, its zone (found by walking SOA queries
 *    up), the server taking the zone's updates (the configured nameserver, else the zone's SOA MNAME) and the
 *    servers that must serve a value before it counts. A broken DNS shows here, before a CA is asked for
 *    anything. ZoneAccess says with which key and to which server; DnsContext how to ask and how long to wait.
 * 2. **Values** — the order's authorizations give one ChallengeValue per identifier: the domain and the value
 *    the CA wants to see.
 * 3. **Publish** — plan.publish(values) places each value at its name's owner, zone and server: a
 *    PublishedChallenge (a PlacedValue, the form the journal records before the first UPDATE, plus the
 *    identifier it answers). planUpdates (update_plan.ts) turns them into one TxtUpdate per zone (and server
 *    and key), each carrying TxtValues (owner and value); the zones go in parallel, and the batcher
 *    (update_batch.ts) lets concurrent orders' messages for one zone share one UPDATE. Then each checked
 *    server must serve each value (propagation.ts, one TxtExpectation per server and owner).
 * 4. **Remove** — PublishedChallenges.remove() sends the same messages as deletes: exactly the values added
 *    go, and other values at the same names (another order's, another tool's) stay.
 */
import { errorMessage, NotariatError } from "../errors.ts";
import { DNS_PORT, formatServer } from "./address.ts";
import type { ChallengeJournal, JournalEntry } from "./journal.ts";
import { type TxtExpectation, waitForTxt } from "./propagation.ts";
import { chaseCname, findZone, resolveHost, zoneNameservers } from "./resolve.ts";
import { createTransport, type Transport } from "./exchange.ts";
import type { PropagationCheck, ServerAddress, TsigKey } from "./types.ts";
import { type PlacedValue, UnconfirmedUpdateError } from "./update.ts";
import { sharedUpdateBatcher, type UpdateBatcher } from "./update_batch.ts";
import { planUpdates, type TxtUpdate, updateGroup } from "./update_plan.ts";

/** Everything the DNS module needs from its caller besides the key. */
export interface DnsContext {
  /** Recursive resolver for discovery when no nameserver is configured. */
  resolver: ServerAddress;
  /** Which servers must serve a value before publishChallenges returns. */
  propagation: PropagationCheck;
  propagationTimeoutMs: number;
  /** Timeout of one DNS exchange attempt. */
  timeoutMs: number;
  /** Propagation poll interval (default 250 ms). */
  pollIntervalMs?: number;
  /**
   * Port of the zone's own servers (its SOA MNAME and NS set), default 53. Tests run authoritative servers on
   * other ports; the records only carry names and addresses.
   */
  authoritativePort?: number;
  /** Structured progress; never receives secrets. */
  log?: (message: string, fields: Record<string, unknown>) => void;
  /**
   * Where values are recorded before they are published, so a crashed run's values can be deleted later; and
   * whose leftovers at a plan's names are deleted before a new order for them. Used for zone access that names
   * its key's Secret (ZoneAccess.keySecret).
   */
  journal?: ChallengeJournal;
  /**
   * How UPDATEs are sent; by default the process's batcher, which merges concurrent orders' values for the same
   * zone into one message (update_batch.ts).
   */
  updates?: UpdateBatcher;
  /** Told of every signed UPDATE exchange (for metrics): the server, whether it succeeded, how long it took. */
  onUpdate?: (server: string, result: "success" | "failure", seconds: number) => void;
}

/** The value the CA asks to see for one certificate identifier (`domain`: "*.x.test" or "x.test"). */
export interface ChallengeValue {
  domain: string;
  value: string;
}

/**
 * How to reach the zones: the TSIG key and, when configured, the server that receives updates. Without a key
 * the zones can be read (planned, checked) but not written.
 */
export interface ZoneAccess {
  key?: TsigKey;
  /** The server that takes the updates (its host may be a name); absent means the zone's SOA MNAME. */
  nameserver?: ServerAddress;
  /** `namespace/name` of the Secret the key came from, so the journal can find the key again after a crash. */
  keySecret?: string;
}

/** One published value, and the certificate identifier it answers for. */
export interface PublishedChallenge extends PlacedValue {
  domain: string;
}

/**
 * What was published; `remove()` deletes exactly those values (one UPDATE per zone, the zones in parallel) and
 * may be called again.
 */
export interface PublishedChallenges {
  records: PublishedChallenge[];
  remove(): Promise<void>;
}

/** The propagation poll interval when the context sets none: updates show within moments, a poll is one query. */
export const DEFAULT_POLL_INTERVAL_MS = 250;

/** `_acme-challenge.<domain>`; a wildcard's challenge lives at its base name (RFC 8555 8.4). */
export function challengeName(domain: string): string {
  return `_acme-challenge.${domain.toLowerCase().replace(/^\*\./, "").replace(/\.$/, "")}`;
}

/** Where the values of one challenge name go, found before any value exists. */
export interface PlannedChallenge {
  /** The certificate identifier the name was planned for (the first one, when a wildcard shares it). */
  domain: string;
  /** `_acme-challenge.<domain>`. */
  name: string;
  /** The TXT owner after the CNAME chase. */
  owner: string;
  zone: string;
  /** The server that receives the zone's updates. */
  server: ServerAddress;
  /** The servers that must serve a value before it counts as published (per the propagation check). */
  checkServers: ServerAddress[];
}

/**
 * Where a domain's challenge TXT record lives: `_acme-challenge.<domain>` for dns-01 (challengeName); other
 * challenge types name it differently (dns-account-01, dns-persist-01).
 */
export type ChallengeNaming = (domain: string) => string;

/**
 * The zone work of a challenge set, done before the CA hands out any value: `publish` then only writes,
 * waits for propagation and cleans up, so a broken DNS shows before an order exists.
 */
export interface ChallengePlan {
  /** One per distinct challenge name, in the order of the domains. */
  readonly challenges: readonly PlannedChallenge[];
  /**
   * Publishes the values (one signed UPDATE per zone) and waits for propagation; on any failure removes what
   * it added, then throws NotariatError kind "dns" (kind "stopped" when `signal` ended the wait). Every
   * record's domain must have been planned.
   */
  publish(records: ChallengeValue[], signal?: AbortSignal): Promise<PublishedChallenges>;
}

function dnsError(context: string, err: unknown): NotariatError {
  return new NotariatError("dns", `${context}: ${errorMessage(err)}`, { cause: err });
}

function listDomains(records: { domain: string }[]): string {
  return [...new Set(records.map((r) => r.domain))].join(", ");
}

/** Where discovery queries go and where updates go when a nameserver is configured. */
async function configuredServer(
  transport: Transport,
  nameserver: ServerAddress,
  resolver: ServerAddress,
): Promise<ServerAddress> {
  try {
    const [host] = await resolveHost(transport, resolver, nameserver.host);
    return { host, port: nameserver.port };
  } catch (err) {
    throw dnsError(`nameserver ${formatServer(nameserver)} cannot be resolved`, err);
  }
}

/** Follows CNAMEs and finds zone and update server per challenge name; one cache so shared names are asked once. */
async function discoverNames(
  transport: Transport,
  domains: string[],
  discovery: ServerAddress,
  updateServer: ServerAddress | undefined,
  ctx: DnsContext,
  naming: ChallengeNaming,
): Promise<PlannedChallenge[]> {
  const owners = new Map<string, Promise<string>>();
  const zones = new Map<string, Promise<{ zone: string; server: ServerAddress }>>();
  const port = ctx.authoritativePort ?? DNS_PORT;
  const ownerOf = (name: string) => {
    if (!owners.has(name)) {
      owners.set(
        name,
        chaseCname(transport, discovery, name).then((chase) => {
          if (chase.chain.length > 1) ctx.log?.("dns CNAME followed", { name, chain: chase.chain });
          return chase.owner;
        }),
      );
    }
    return owners.get(name)!;
  };
  const zoneOf = (owner: string) => {
    if (!zones.has(owner)) {
      zones.set(
        owner,
        findZone(transport, discovery, owner).then(async ({ zone, primary }) => {
          const server = updateServer ??
            { host: (await resolveHost(transport, discovery, primary))[0], port };
          ctx.log?.("dns zone found", { owner, zone, primary, server: formatServer(server) });
          return { zone, server };
        }),
      );
    }
    return zones.get(owner)!;
  };
  // One entry per challenge name, for its first domain; the names are looked up in parallel.
  const firstDomain = new Map<string, string>();
  for (const domain of domains) {
    const name = naming(domain);
    if (!firstDomain.has(name)) firstDomain.set(name, domain);
  }
  const lookups = [...firstDomain].map(async ([name, domain]): Promise<PlannedChallenge> => {
    try {
      const owner = await ownerOf(name);
      return { domain, name, owner, ...(await zoneOf(owner)), checkServers: [] };
    } catch (err) {
      throw dnsError(`${name} (for ${domain})`, err);
    }
  });
  // The first name that cannot be placed is the one reported, as if they had been looked up in turn.
  const settled = await Promise.allSettled(lookups);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<PlannedChallenge>).value);
}

/** The servers that must serve each zone's values, per the configured propagation check. */
async function checkServersOf(
  transport: Transport,
  zone: string,
  server: ServerAddress,
  discovery: ServerAddress,
  ctx: DnsContext,
): Promise<ServerAddress[]> {
  if (ctx.propagation === "off") return [];
  const port = ctx.authoritativePort ?? DNS_PORT;
  const servers = new Map([[formatServer(server), server]]);
  if (ctx.propagation === "all") {
    for (const ns of await zoneNameservers(transport, discovery, zone)) {
      // A configured authoritative server may not resolve name servers outside its zones; the resolver does.
      const addresses = await resolveHost(transport, discovery, ns).catch((err) =>
        discovery === ctx.resolver ? Promise.reject(err) : resolveHost(transport, ctx.resolver, ns)
      );
      for (const host of addresses) {
        servers.set(formatServer({ host, port }), { host, port });
      }
    }
  }
  return [...servers.values()];
}

/** Each value at its planned place: the owner, zone and update server of its domain's challenge name. */
function placeValues(
  records: ChallengeValue[],
  planned: Map<string, PlannedChallenge>,
  naming: ChallengeNaming,
): PublishedChallenge[] {
  return records.map((record) => {
    const name = naming(record.domain);
    const found = planned.get(name);
    if (!found) {
      throw new NotariatError(
        "dns",
        `${name} (for ${record.domain}) was not among the planned challenge names`,
      );
    }
    return {
      domain: record.domain,
      owner: found.owner,
      zone: found.zone,
      server: found.server,
      value: record.value,
    };
  });
}

/** The domains whose values `update` carries, for messages. */
function domainsIn(update: TxtUpdate, published: PublishedChallenge[]): string {
  const group = updateGroup(update);
  return listDomains(
    published.filter((p) => updateGroup({ ...update, zone: p.zone, server: p.server }) === group),
  );
}

/** What must be served where: every value of a message at every server checked for its zone. */
function expectationsFor(updates: TxtUpdate[], planned: Map<string, PlannedChallenge>): TxtExpectation[] {
  const checkServers = new Map([...planned.values()].map((c) => [c.zone, c.checkServers]));
  const expectations: TxtExpectation[] = [];
  for (const update of updates) {
    const owners = [...new Set(update.values.map((v) => v.owner))];
    for (const server of checkServers.get(update.zone) ?? []) {
      for (const owner of owners) {
        expectations.push({
          server,
          owner,
          values: update.values.filter((v) => v.owner === owner).map((v) => v.value),
        });
      }
    }
  }
  return expectations;
}

/** Runs one UPDATE exchange and tells `ctx.onUpdate` how it went. */
async function timedUpdate<T>(ctx: DnsContext, update: () => Promise<T>, server: ServerAddress): Promise<T> {
  const started = performance.now();
  const tell = (result: "success" | "failure") =>
    ctx.onUpdate?.(formatServer(server), result, (performance.now() - started) / 1000);
  try {
    const answer = await update();
    tell("success");
    return answer;
  } catch (err) {
    tell("failure");
    throw err;
  }
}

/** Sends one UPDATE message through the context's batcher, timed (see timedUpdate). */
function sendUpdate(transport: Transport, update: TxtUpdate, ctx: DnsContext): Promise<void> {
  const updates = ctx.updates ?? sharedUpdateBatcher;
  return timedUpdate(ctx, () => updates.send(transport, update), update.server);
}

/** Deletes the values of `added` (add messages), the zones in parallel; one error naming every failed zone. */
async function removeUpdates(
  transport: Transport,
  added: TxtUpdate[],
  published: PublishedChallenge[],
  ctx: DnsContext,
): Promise<void> {
  const deletes = added.map((update): TxtUpdate => ({ ...update, operation: "delete" }));
  const outcomes = await Promise.allSettled(deletes.map(async (update) => {
    await sendUpdate(transport, update, ctx);
    ctx.log?.("dns TXT values deleted", {
      zone: update.zone,
      server: formatServer(update.server),
      owners: [...new Set(update.values.map((v) => v.owner))],
      count: update.values.length,
    });
  }));
  const failures = outcomes.flatMap((outcome, i) =>
    outcome.status === "fulfilled" ? [] : [
      `deleting TXT for ${domainsIn(deletes[i], published)} in zone '${deletes[i].zone}': ` +
      errorMessage(outcome.reason),
    ]
  );
  if (failures.length > 0) throw new NotariatError("dns", failures.join("; "));
}

/**
 * Finds, for each domain's `_acme-challenge` name (or the name `naming` gives), its CNAME target, zone, update
 * server and the servers to check for propagation, without writing anything. Throws NotariatError kind "dns"
 * naming the first name that cannot be placed, so an issuance can stop before it asks the CA for an order.
 */
export async function planChallenges(
  domains: string[],
  access: ZoneAccess,
  ctx: DnsContext,
  naming: ChallengeNaming = challengeName,
): Promise<ChallengePlan> {
  const transport = createTransport({ timeoutMs: ctx.timeoutMs });
  const updateServer = access.nameserver === undefined
    ? undefined
    : await configuredServer(transport, access.nameserver, ctx.resolver);
  // A configured server is also asked during discovery: with split-horizon views only it sees the right zone.
  const discovery = updateServer ?? ctx.resolver;
  const challenges = await discoverNames(transport, domains, discovery, updateServer, ctx, naming);
  // A zone's names share its first name's update server and servers to check: one zone, one UPDATE.
  const firstOfZone = new Map<string, PlannedChallenge>();
  for (const challenge of challenges) {
    const first = firstOfZone.get(challenge.zone);
    if (first !== undefined) {
      challenge.server = first.server;
      challenge.checkServers = first.checkServers;
      continue;
    }
    const { zone, server } = challenge;
    try {
      challenge.checkServers = await checkServersOf(transport, zone, server, discovery, ctx);
    } catch (err) {
      throw err instanceof NotariatError ? err : dnsError(`finding the name servers of zone '${zone}'`, err);
    }
    firstOfZone.set(zone, challenge);
  }
  const planned = new Map(challenges.map((c) => [c.name, c]));
  // Values a crashed or failed earlier attempt left at these names go before a new order brings new ones.
  if (access.keySecret !== undefined) await ctx.journal?.sweep(challenges.map((c) => c.owner));
  return {
    challenges,
    publish: (records, signal) => {
      const key = access.key;
      if (key === undefined) {
        const names = records.map((r) => naming(r.domain)).join(", ");
        return Promise.reject(new NotariatError("dns", `no TSIG key to write ${names}`));
      }
      return publishPlanned(transport, records, planned, { ...access, key }, ctx, naming, signal);
    },
  };
}

async function publishPlanned(
  transport: Transport,
  records: ChallengeValue[],
  planned: Map<string, PlannedChallenge>,
  access: ZoneAccess & { key: TsigKey },
  ctx: DnsContext,
  naming: ChallengeNaming,
  signal: AbortSignal | undefined,
): Promise<PublishedChallenges> {
  const published = placeValues(records, planned, naming);
  const adds = planUpdates("add", [{ key: access.key, values: published }]);
  const journal = await recordInJournal(published, access, ctx);
  const added: TxtUpdate[] = [];
  try {
    // The zones in parallel: a slow server for one zone does not hold up the others.
    const outcomes = await Promise.allSettled(adds.map(async (update) => {
      try {
        await sendUpdate(transport, update, ctx);
      } catch (err) {
        // Without a trustworthy answer (none, malformed, or a NOERROR that does not verify) the server may
        // still have applied the update: remove its values too (deleting values that are not there is
        // harmless), so nothing is left behind.
        if (err instanceof UnconfirmedUpdateError) added.push(update);
        throw dnsError(`adding TXT for ${domainsIn(update, published)} in zone '${update.zone}'`, err);
      }
      added.push(update);
      ctx.log?.("dns TXT values added", {
        zone: update.zone,
        server: formatServer(update.server),
        owners: [...new Set(update.values.map((v) => v.owner))],
        count: update.values.length,
      });
    }));
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === "rejected");
    if (failed) throw failed.reason;
    const started = Date.now();
    const expectations = expectationsFor(adds, planned);
    await waitForTxt(transport, expectations, {
      timeoutMs: ctx.propagationTimeoutMs,
      intervalMs: ctx.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS,
      present: true,
      signal,
    });
    if (expectations.length > 0) {
      ctx.log?.("dns TXT values propagated", {
        servers: [...new Set(expectations.map((e) => formatServer(e.server)))],
        ms: Date.now() - started,
      });
    }
  } catch (err) {
    const failure = err instanceof NotariatError ? err : dnsError("publishing challenges", err);
    try {
      await removeUpdates(transport, added, published, ctx);
      await journal?.settle(true);
    } catch (cleanup) {
      await journal?.settle(false);
      // Left-over values do no harm to later orders, but the operator should know they are there.
      const message = `${failure.message}; and removing what was added failed: ${errorMessage(cleanup)}`;
      throw new NotariatError("dns", message, { cause: failure });
    }
    throw failure;
  }
  let removal: Promise<void> | undefined;
  return {
    records: published,
    remove() {
      removal ??= removeUpdates(transport, adds, published, ctx).then(
        () => journal?.settle(true),
        async (err) => {
          removal = undefined;
          await journal?.settle(false);
          throw err;
        },
      );
      return removal;
    },
  };
}

/** Records what is about to be published; a journal that cannot record stops the publish before any UPDATE. */
async function recordInJournal(
  published: PublishedChallenge[],
  access: ZoneAccess,
  ctx: DnsContext,
): Promise<JournalEntry | undefined> {
  if (ctx.journal === undefined || access.keySecret === undefined) return undefined;
  try {
    return await ctx.journal.record(
      access.keySecret,
      published.map(({ zone, server, owner, value }) => ({ zone, server, owner, value })),
    );
  } catch (err) {
    throw dnsError(
      `recording the challenge values of ${listDomains(published)} before publishing them`,
      err,
    );
  }
}

/**
 * Plans and publishes in one go (see planChallenges and ChallengePlan.publish), for callers that already
 * hold the values; `signal` ends the propagation wait (and removes the values).
 */
export async function publishChallenges(
  records: ChallengeValue[],
  access: ZoneAccess,
  ctx: DnsContext,
  signal?: AbortSignal,
): Promise<PublishedChallenges> {
  const plan = await planChallenges(records.map((r) => r.domain), access, ctx);
  return plan.publish(records, signal);
}
