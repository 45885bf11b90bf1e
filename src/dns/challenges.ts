/**
 * The DNS module's face: publish the TXT values of a DNS-01 challenge set, wait until they are served, and
 * remove exactly those values afterwards.
 *
 * For each identifier, `_acme-challenge.<domain>` is followed through CNAMEs, its zone is found by walking SOA
 * queries up, and all values that fall in one zone go out in one signed UPDATE — to the configured nameserver,
 * or else to the zone's primary (SOA MNAME).
 */
import { errorMessage, NotariatError } from "../errors.ts";
import { DNS_PORT, formatServer, parseNameserver } from "./address.ts";
import { type TxtExpectation, waitForTxt } from "./propagation.ts";
import { chaseCname, findZone, resolveHost, zoneNameservers } from "./resolve.ts";
import { createTransport, type Transport } from "./transport.ts";
import type { PropagationCheck, ServerAddress, TsigKey } from "./types.ts";
import { sendTxtUpdate, type TxtValue, UnconfirmedUpdateError } from "./update.ts";

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
}

/** One TXT value to publish. `domain` is the certificate identifier ("*.x.test" or "x.test"). */
export interface ChallengeRecord {
  domain: string;
  value: string;
}

/** How to reach the zones: the TSIG key and, when configured, the server that receives updates. */
export interface ZoneAccess {
  key: TsigKey;
  /** "host[:port]" (host may be a name); absent means the zone's SOA MNAME. */
  nameserver?: string;
}

/** One published value; `owner` is the TXT owner after the CNAME chase. */
export interface PublishedChallenge {
  domain: string;
  owner: string;
  zone: string;
  server: ServerAddress;
  value: string;
}

/** What was published; `remove()` deletes exactly those values, one UPDATE per zone, and may be called again. */
export interface PublishedChallenges {
  records: PublishedChallenge[];
  remove(): Promise<void>;
}

const DEFAULT_POLL_INTERVAL_MS = 250;

/** `_acme-challenge.<domain>`; a wildcard's challenge lives at its base name (RFC 8555 8.4). */
export function challengeName(domain: string): string {
  return `_acme-challenge.${domain.toLowerCase().replace(/^\*\./, "").replace(/\.$/, "")}`;
}

/** The values of one zone, sent together. */
interface ZoneBatch {
  zone: string;
  server: ServerAddress;
  values: TxtValue[];
  records: PublishedChallenge[];
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
  nameserver: string,
  resolver: ServerAddress,
): Promise<ServerAddress> {
  const spec = parseNameserver(nameserver);
  if ("error" in spec) throw new NotariatError("dns", `nameserver ${spec.error}`);
  try {
    const [host] = await resolveHost(transport, resolver, spec.host);
    return { host, port: spec.port };
  } catch (err) {
    throw dnsError(`nameserver '${nameserver}' cannot be resolved`, err);
  }
}

/** Groups the records by zone after following CNAMEs; one cache per call so shared names are asked once. */
async function planBatches(
  transport: Transport,
  records: ChallengeRecord[],
  discovery: ServerAddress,
  updateServer: ServerAddress | undefined,
  ctx: DnsContext,
): Promise<{ batches: ZoneBatch[]; published: PublishedChallenge[] }> {
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
  const batches = new Map<string, ZoneBatch>();
  const published: PublishedChallenge[] = [];
  for (const record of records) {
    const name = challengeName(record.domain);
    let found;
    try {
      const owner = await ownerOf(name);
      found = { owner, ...(await zoneOf(owner)) };
    } catch (err) {
      throw dnsError(`${name} (for ${record.domain})`, err);
    }
    const batch = batches.get(found.zone) ??
      { zone: found.zone, server: found.server, values: [], records: [] };
    batches.set(found.zone, batch);
    const entry = {
      domain: record.domain,
      owner: found.owner,
      zone: found.zone,
      server: found.server,
      value: record.value,
    };
    batch.records.push(entry);
    published.push(entry);
    if (!batch.values.some((v) => v.owner === found.owner && v.value === record.value)) {
      batch.values.push({ owner: found.owner, value: record.value });
    }
  }
  return { batches: [...batches.values()], published };
}

/** The servers that must serve each batch's values, per the configured propagation check. */
async function expectationsFor(
  transport: Transport,
  batches: ZoneBatch[],
  discovery: ServerAddress,
  ctx: DnsContext,
): Promise<TxtExpectation[]> {
  if (ctx.propagation === "off") return [];
  const port = ctx.authoritativePort ?? DNS_PORT;
  const expectations: TxtExpectation[] = [];
  for (const batch of batches) {
    const servers = new Map([[formatServer(batch.server), batch.server]]);
    if (ctx.propagation === "all") {
      for (const ns of await zoneNameservers(transport, discovery, batch.zone)) {
        // A configured authoritative server may not resolve name servers outside its zones; the resolver does.
        const addresses = await resolveHost(transport, discovery, ns).catch((err) =>
          discovery === ctx.resolver ? Promise.reject(err) : resolveHost(transport, ctx.resolver, ns)
        );
        for (const host of addresses) {
          servers.set(formatServer({ host, port }), { host, port });
        }
      }
    }
    const owners = [...new Set(batch.values.map((v) => v.owner))];
    for (const server of servers.values()) {
      for (const owner of owners) {
        expectations.push({
          server,
          owner,
          values: batch.values.filter((v) => v.owner === owner).map((v) => v.value),
        });
      }
    }
  }
  return expectations;
}

async function removeBatches(
  transport: Transport,
  batches: ZoneBatch[],
  key: TsigKey,
  ctx: DnsContext,
): Promise<void> {
  const failures: string[] = [];
  for (const batch of batches) {
    try {
      await sendTxtUpdate(transport, batch.server, key, batch.zone, "delete", batch.values);
      ctx.log?.("dns TXT values deleted", {
        zone: batch.zone,
        server: formatServer(batch.server),
        owners: [...new Set(batch.values.map((v) => v.owner))],
        count: batch.values.length,
      });
    } catch (err) {
      failures.push(
        `deleting TXT for ${listDomains(batch.records)} in zone '${batch.zone}': ${errorMessage(err)}`,
      );
    }
  }
  if (failures.length > 0) throw new NotariatError("dns", failures.join("; "));
}

/**
 * Publishes all values (one signed UPDATE per zone), waits for propagation; on any failure removes what it
 * added, then throws NotariatError kind "dns".
 */
export async function publishChallenges(
  records: ChallengeRecord[],
  access: ZoneAccess,
  ctx: DnsContext,
): Promise<PublishedChallenges> {
  const transport = createTransport({ timeoutMs: ctx.timeoutMs });
  const updateServer = access.nameserver === undefined
    ? undefined
    : await configuredServer(transport, access.nameserver, ctx.resolver);
  // A configured server is also asked during discovery: with split-horizon views only it sees the right zone.
  const discovery = updateServer ?? ctx.resolver;
  const { batches, published } = await planBatches(transport, records, discovery, updateServer, ctx);
  const added: ZoneBatch[] = [];
  try {
    for (const batch of batches) {
      try {
        await sendTxtUpdate(transport, batch.server, access.key, batch.zone, "add", batch.values);
      } catch (err) {
        // Without a trustworthy answer (none, malformed, or a NOERROR that does not verify) the server may
        // still have applied the update: remove its values too (deleting values that are not there is
        // harmless), so nothing is left behind.
        if (err instanceof UnconfirmedUpdateError) added.push(batch);
        throw dnsError(`adding TXT for ${listDomains(batch.records)} in zone '${batch.zone}'`, err);
      }
      added.push(batch);
      ctx.log?.("dns TXT values added", {
        zone: batch.zone,
        server: formatServer(batch.server),
        owners: [...new Set(batch.values.map((v) => v.owner))],
        count: batch.values.length,
      });
    }
    const started = Date.now();
    const expectations = await expectationsFor(transport, batches, discovery, ctx);
    await waitForTxt(transport, expectations, {
      timeoutMs: ctx.propagationTimeoutMs,
      intervalMs: ctx.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS,
      present: true,
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
      await removeBatches(transport, added, access.key, ctx);
    } catch (cleanup) {
      // Left-over values do no harm to later orders, but the operator should know they are there.
      throw new NotariatError(
        "dns",
        `${failure.message}; and removing what was added failed: ${errorMessage(cleanup)}`,
        {
          cause: failure,
        },
      );
    }
    throw failure;
  }
  let removal: Promise<void> | undefined;
  return {
    records: published,
    remove() {
      removal ??= removeBatches(transport, batches, access.key, ctx).catch((err) => {
        removal = undefined;
        throw err;
      });
      return removal;
    },
  };
}
