/**
 * Choosing and answering an entry's challenge type. dns-01 (RFC 8555 8.4) and dns-account-01
 * (draft-ietf-acme-dns-account-label) publish a per-attempt value, the latter at the account's own name, and
 * remove it afterwards; dns-persist-01 (draft-ietf-acme-dns-persist) relies on a standing record that is
 * written once and then only checked. The issuer sees one Solver whatever the type.
 */
import type { ChallengeType } from "../config/types.ts";
import {
  challengeName,
  type ChallengeNaming,
  type ChallengeValue,
  type DnsContext,
  planChallenges,
  type PublishedChallenges,
  type ZoneAccess,
} from "../dns/challenges.ts";
import {
  baseDomain,
  formatPersistValue,
  persistAccountUri,
  persistRecordName,
  persistValueMatches,
} from "../dns/persist_record.ts";
import { ensureStandingRecords, type StandingOwner } from "../dns/standing.ts";
import type { StandingRecordStore } from "../dns/standing_record_store.ts";
import { NotariatError } from "../errors.ts";
import { accountChallengeName } from "./account_label.ts";
import type { AcmeSession } from "./client.ts";

/** A challenge object as the CA sends it (RFC 8555 8), with the fields the DNS types add. */
export interface ChallengeObject {
  type: string;
  url: string;
  token?: string;
  status: string;
  error?: unknown;
  /** dns-persist-01: the issuer domain names the record may name (draft -00/-01 spelling). */
  "issuer-domain-names"?: unknown;
  /** dns-persist-01: the same, as draft -02 spells it. */
  issuerDomainNames?: unknown;
  /** dns-persist-01: the account URI as the CA wants it written (some CAs of draft -01). */
  accounturi?: unknown;
}

/**
 * The challenge of type `type` among an authorization's, or a NotariatError naming the domain and what the CA
 * offers instead.
 */
export function selectChallenge(
  challenges: readonly ChallengeObject[],
  type: ChallengeType,
  domain: string,
): ChallengeObject {
  const challenge = challenges.find((c) => c.type === type);
  if (challenge) return challenge;
  const offered = challenges.map((c) => c.type).join(", ") || "none";
  const hint = type === "dns-01" ? "" : " (set challenge: to one it offers)";
  throw new NotariatError(
    "acme",
    `the CA offers no ${type} challenge for ${domain} (offered: ${offered})${hint}`,
  );
}

/** The issuer domain names a dns-persist-01 challenge lists, lower-cased. */
export function issuerDomainNames(challenge: ChallengeObject): string[] {
  const names = challenge.issuerDomainNames ?? challenge["issuer-domain-names"];
  return Array.isArray(names)
    ? names.filter((n): n is string => typeof n === "string" && n !== "").map((n) => n.toLowerCase())
    : [];
}

/** Solving one order's authorizations with one challenge type. */
export interface Solver {
  readonly type: ChallengeType;
  /** The TXT value that answers `challenge` for `domain` (a certificate identifier, "*.x" or "x"). */
  value(challenge: ChallengeObject, domain: string): Promise<string>;
  /**
   * Puts the values in place and waits for propagation; `remove` undoes what this attempt added. `signal`
   * ends the propagation wait (shutdown), removing what was added.
   */
  publish(records: ChallengeValue[], signal?: AbortSignal): Promise<PublishedChallenges>;
  /** Where the CA looks for `domain`'s TXT record. */
  name(domain: string): string;
}

/** What a solver needs besides the session. */
export interface SolverRequest {
  type: ChallengeType;
  domains: string[];
  zoneAccess: ZoneAccess;
  /** dns-persist-01: the record's persistUntil. */
  persistUntil?: Date;
  /** dns-persist-01: who the standing records belong to. */
  owner: StandingOwner;
}

/**
 * Plans the DNS side of `request` before any order exists (zones, update servers, CNAMEs) and returns the
 * solver for its type. dns-account-01 needs the account URL, so the account must be registered.
 */
export async function createSolver(
  request: SolverRequest,
  session: AcmeSession,
  dns: DnsContext,
  store: StandingRecordStore | undefined,
): Promise<Solver> {
  if (request.type === "dns-persist-01") return await persistSolver(request, session, dns, store);
  let naming: ChallengeNaming = challengeName;
  if (request.type === "dns-account-01") {
    const accountUrl = session.accountUrl;
    if (accountUrl === undefined) {
      throw new NotariatError("acme", "dns-account-01 needs a registered account");
    }
    naming = accountChallengeName(accountUrl);
  }
  const plan = await planChallenges(request.domains, request.zoneAccess, dns, naming);
  return {
    type: request.type,
    value: (challenge) => session.dnsChallengeValue(tokenOf(challenge)),
    publish: (records, signal) => plan.publish(records, signal),
    name: naming,
  };
}

async function persistSolver(
  request: SolverRequest,
  session: AcmeSession,
  dns: DnsContext,
  store: StandingRecordStore | undefined,
): Promise<Solver> {
  const accountUrl = session.accountUrl;
  if (accountUrl === undefined) throw new NotariatError("acme", "dns-persist-01 needs a registered account");
  const bases = [...new Set(request.domains.map(baseDomain))];
  const wildcard = (base: string) =>
    request.domains.some((d) => d.startsWith("*.") && baseDomain(d) === base);
  // A standing record outlives the attempt and has its own store; the challenge journal is for values that are
  // removed after it (a journalled standing record would be swept as a leftover at the next start).
  const { journal: _journal, ...standingDns } = dns;
  const plan = await planChallenges(bases, request.zoneAccess, standingDns, persistRecordName);
  const [meta, thumbprint] = await Promise.all([session.directoryMeta(), session.thumbprint()]);
  const prefix = typeof meta.accountHashPrefix === "string" ? meta.accountHashPrefix : undefined;
  const wanted = new Map<string, { value: string; matches: (served: string) => boolean }>();
  return {
    type: "dns-persist-01",
    value(challenge, domain) {
      const base = baseDomain(domain);
      const names = issuerDomainNames(challenge);
      if (names.length === 0) {
        throw new NotariatError(
          "acme",
          `the CA's dns-persist-01 challenge for ${domain} names no issuer domain`,
        );
      }
      const record = {
        accountUri: persistAccountUri({
          accountUrl,
          domain: base,
          thumbprint,
          accountHashPrefix: prefix,
          challengeAccountUri: typeof challenge.accounturi === "string" ? challenge.accounturi : undefined,
        }),
        wildcard: wildcard(base),
        ...(request.persistUntil === undefined ? {} : { persistUntil: request.persistUntil }),
      };
      const value = formatPersistValue({ issuerDomainName: names[0], ...record });
      wanted.set(base, { value, matches: (served) => persistValueMatches(served, record, names) });
      return Promise.resolve(value);
    },
    async publish(records) {
      const bases = [...new Set(records.map((r) => baseDomain(r.domain)))];
      await ensureStandingRecords(
        plan,
        bases.map((base) => ({ domain: base, ...wanted.get(base)! })),
        request.zoneAccess,
        dns,
        request.owner,
        store,
      );
      // A standing record outlives the attempt: removal belongs to the entry leaving the configuration.
      return { records: [], remove: () => Promise.resolve() };
    },
    name: persistRecordName,
  };
}

function tokenOf(challenge: ChallengeObject): string {
  if (typeof challenge.token !== "string" || challenge.token === "") {
    throw new NotariatError("acme", `the CA's ${challenge.type} challenge has no token`);
  }
  return challenge.token;
}
