/**
 * Finding things out before an update: where `_acme-challenge.<domain>` really points (CNAME chase), which zone
 * holds it (SOA walk), and the addresses of the zone's primary and name servers.
 */
import { NotariatError } from "../errors.ts";
import { formatServer, isAddressLiteral } from "./address.ts";
import { query } from "./query.ts";
import type { Transport } from "./exchange.ts";
import type { ServerAddress } from "./types.ts";
import { canonicalName, isSubdomain, Rcode, rcodeName, RecordType } from "./wire.ts";

/** How many CNAME links notariat follows before calling the chain too long. */
export const MAX_CNAME_LINKS = 8;

/** Where a name leads: the final owner and every name passed on the way (the start first). */
export interface CnameChase {
  owner: string;
  chain: string[];
}

function failedAnswer(rcode: number): boolean {
  return rcode !== Rcode.NOERROR && rcode !== Rcode.NXDOMAIN;
}

/**
 * Follows CNAMEs from `name` as `server` sees them, because a TXT added next to a CNAME is silently ignored.
 * Throws NotariatError kind "dns" on a loop, on more than MAX_CNAME_LINKS links, or when the server fails.
 */
export async function chaseCname(
  transport: Transport,
  server: ServerAddress,
  name: string,
): Promise<CnameChase> {
  let chain = [canonicalName(name)];
  for (;;) {
    const current = chain[chain.length - 1];
    const answer = await query(transport, server, current, RecordType.CNAME);
    const rcode = answer.header.rcode;
    // A server that serves no zone holding the name refuses; the SOA walk that follows explains that better.
    if (chain.length === 1 && rcode === Rcode.REFUSED) return { owner: current, chain };
    if (failedAnswer(rcode)) {
      const reached = chain.length > 1 ? ` (reached from ${chain[0]})` : "";
      throw new NotariatError(
        "dns",
        `server ${formatServer(server)} answered ${rcodeName(rcode)} when asked for the CNAME of ` +
          `${current}${reached}`,
      );
    }
    const link = answer.answers.find((rr) =>
      rr.type === RecordType.CNAME && canonicalName(rr.name) === current
    );
    if (link === undefined || link.data.kind !== "name") return { owner: current, chain };
    chain = extendChain(chain, link.data.target);
  }
}

/**
 * `chain` followed by `target`; throws NotariatError kind "dns" when `target` closes a loop or the chain would
 * have more than MAX_CNAME_LINKS links. Pure, so the limits are tested without a zone that long.
 */
export function extendChain(chain: string[], target: string): string[] {
  const next = canonicalName(target);
  if (chain.includes(next)) throw new NotariatError("dns", `CNAME loop: ${[...chain, next].join(" -> ")}`);
  const extended = [...chain, next];
  if (extended.length - 1 > MAX_CNAME_LINKS) {
    throw new NotariatError(
      "dns",
      `CNAME chain from ${chain[0]} is longer than ${MAX_CNAME_LINKS} links: ${extended.join(" -> ")}`,
    );
  }
  return extended;
}

/** A zone and its primary server's name (SOA MNAME). */
export interface ZoneInfo {
  zone: string;
  primary: string;
}

/**
 * The zone that holds `name`, found by asking `server` for the SOA of `name` and then of each parent, as a
 * negative answer's authority SOA also names the zone (RFC 2308 3). Throws NotariatError kind "dns" when no zone
 * is found.
 */
export async function findZone(transport: Transport, server: ServerAddress, name: string): Promise<ZoneInfo> {
  const labels = canonicalName(name).split(".");
  const refusals: string[] = [];
  for (let i = 0; i < labels.length; i++) {
    const candidate = labels.slice(i).join(".");
    const answer = await query(transport, server, candidate, RecordType.SOA);
    if (failedAnswer(answer.header.rcode)) {
      refusals.push(`${candidate}: ${rcodeName(answer.header.rcode)}`);
      continue;
    }
    const soa = [...answer.answers, ...answer.authority].find((rr) =>
      rr.type === RecordType.SOA && rr.data.kind === "soa" && isSubdomain(candidate, rr.name)
    );
    if (soa !== undefined && soa.data.kind === "soa") {
      return { zone: canonicalName(soa.name), primary: canonicalName(soa.data.mname) };
    }
    // A referral (RFC 1034 4.3.2): the server holds the parent and delegates the name's zone. That child zone is
    // the one to update; only its own servers know its SOA, so its first name server stands in for the primary.
    const cut = answer.header.authoritative
      ? undefined
      : answer.authority.find((rr) =>
        rr.type === RecordType.NS && rr.data.kind === "name" && isSubdomain(candidate, rr.name)
      );
    if (cut !== undefined && cut.data.kind === "name") {
      return { zone: canonicalName(cut.name), primary: canonicalName(cut.data.target) };
    }
  }
  throw new NotariatError(
    "dns",
    `no zone holding ${canonicalName(name)} found at server ${formatServer(server)}` +
      (refusals.length > 0 ? ` (answers: ${refusals.join(", ")})` : " (no SOA record in any answer)"),
  );
}

/**
 * The IPv4 and IPv6 addresses of `host` as `server` resolves them (A first), or `host` itself when it is an
 * address literal. Throws NotariatError kind "dns" when it has none.
 */
export async function resolveHost(
  transport: Transport,
  server: ServerAddress,
  host: string,
): Promise<string[]> {
  if (isAddressLiteral(host)) return [host];
  const name = canonicalName(host);
  const addresses: string[] = [];
  const failures: string[] = [];
  for (const type of [RecordType.A, RecordType.AAAA]) {
    const answer = await query(transport, server, name, type);
    if (failedAnswer(answer.header.rcode)) failures.push(rcodeName(answer.header.rcode));
    for (const rr of answer.answers) {
      if (rr.data.kind === "a" || rr.data.kind === "aaaa") addresses.push(rr.data.address);
    }
  }
  if (addresses.length === 0) {
    throw new NotariatError(
      "dns",
      `${name} has no A or AAAA record at server ${formatServer(server)}` +
        (failures.length > 0 ? ` (answers: ${failures.join(", ")})` : ""),
    );
  }
  return addresses;
}

/** The names of the zone's name servers (its NS set) as `server` sees them. */
export async function zoneNameservers(
  transport: Transport,
  server: ServerAddress,
  zone: string,
): Promise<string[]> {
  const answer = await query(transport, server, zone, RecordType.NS);
  if (failedAnswer(answer.header.rcode)) {
    throw new NotariatError(
      "dns",
      `server ${formatServer(server)} answered ${rcodeName(answer.header.rcode)} when asked for the NS set ` +
        `of zone '${zone}'`,
    );
  }
  return answer.answers.flatMap((rr) =>
    rr.type === RecordType.NS && rr.data.kind === "name" && canonicalName(rr.name) === canonicalName(zone)
      ? [canonicalName(rr.data.target)]
      : []
  );
}
