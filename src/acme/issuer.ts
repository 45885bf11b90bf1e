import type { ChallengeType, KeyType } from "../config/types.ts";
import type { DnsContext, PublishedChallenge, PublishedChallenges, ZoneAccess } from "../dns/challenges.ts";
import type { StandingOwner } from "../dns/standing.ts";
import type { StandingRecordStore } from "../dns/standing_store.ts";
import { errorMessage, NotariatError } from "../errors.ts";
import { parseCertificateChain, privateKeyMatchesCertificate } from "../pki/certificate.ts";
import { createCsr, generatePrivateKey } from "../pki/keys.ts";
import { type AcmeAccount, createAccountCache } from "./account.ts";
import { createRenewalInfoCache, type RenewalInfo } from "./ari.ts";
import type { AccountKeyStore } from "./account_store.ts";
import { type AcmeSession, openAcmeSession } from "./client.ts";
import { deactivatePendingAuthorizations } from "./deactivate.ts";
import { type DirectoryInfo, readDirectoryInfo } from "./directory.ts";
import { downloadChain } from "./download.ts";
import type { EabCredentials } from "./eab.ts";
import { pollLimit } from "./expiry.ts";
import { type ChallengeObject, createSolver, selectChallenge, type Solver } from "./challenge_type.ts";
import { createLimiter } from "./limit.ts";
import { DEFAULT_POLL_POLICY, pollDelayMs, type PollPolicy } from "./poll.ts";
import {
  type AcmeResponse,
  expectJsonObject,
  expectStatus,
  parseProblem,
  parseRetryAfter,
  responseError,
  shortType,
  validationError,
} from "./problem.ts";
import { trustCa } from "./transport.ts";
import { checkStopped, sleep, untilStopped } from "../stop.ts";

/** How the issuer reaches the CA and the DNS, and how much it may do at once. */
export interface IssuerOptions {
  directoryUrl: string;
  /** Extra trust for the ACME server's TLS (a private CA); works while NODE_EXTRA_CA_CERTS is set. */
  caPem?: string;
  accounts: AccountKeyStore;
  dns: DnsContext;
  /** At most this many issuances run at once; the rest queue. */
  concurrency: number;
  log?: (message: string, fields: Record<string, unknown>) => void;
  /** Overall limit for waiting on authorizations and on the order (default 3 min). */
  pollTimeoutMs?: number;
  /** Poll timing when the CA sends no Retry-After (default: 0.5 s doubling to 10 s). */
  pollPolicy?: PollPolicy;
  /** Credentials for external account binding, read when an account is registered (RFC 8555 section 7.3.4). */
  externalAccountBinding?: () => Promise<EabCredentials>;
  /** The common name of the root (top issuer) whose chain to prefer among the CA's alternates. */
  preferredChain?: string;
  /** The clock of the renewal information cache (default: real time). */
  now?: () => Date;
  /** The profile for requests that name none (the `-acme-profile` flag). */
  defaultProfile?: string;
  /** Aborting it stops every issuance (shutdown): waits end, records are removed, authorizations deactivated. */
  signal?: AbortSignal;
  /** Where the dns-persist-01 records notariat writes are remembered; without it they are never written. */
  standingRecords?: StandingRecordStore;
}

/** One certificate to obtain. */
export interface IssueRequest {
  /** Names the entry in every message, e.g. "certificates[0] (secret ns/name)". */
  label: string;
  domains: string[];
  email: string;
  keyType: KeyType;
  zoneAccess: ZoneAccess;
  /** The CA's certificate profile to ask for (sent in newOrder); undefined: the CA's default. */
  profile?: string;
  /**
   * The ARI certificate identifier of the certificate this one replaces (RFC 9773 section 5), sent in newOrder
   * when the CA supports ARI. A CA refusing it (already replaced, unknown) gets one new order without it.
   */
  replaces?: string;
  /** Aborting it stops this issuance as IssuerOptions.signal stops all of them. */
  signal?: AbortSignal;
  /** The challenge type to answer (default dns-01). */
  challenge?: ChallengeType;
  /** dns-persist-01: the standing record's persistUntil. */
  persistUntil?: Date;
  /** dns-persist-01: the entry and TSIG Secret the standing records belong to. */
  standingOwner?: StandingOwner;
}

/** A certificate and the new key it was issued for. */
export interface IssuedCertificate {
  /** Leaf first, then intermediates, as the CA sent them. */
  certificatePem: string;
  /** PKCS#8 PEM. */
  privateKeyPem: string;
  notBefore: Date;
  notAfter: Date;
  domains: string[];
}

/** Obtains certificates over DNS-01, DNS-ACCOUNT-01 or DNS-PERSIST-01 (see challenge_type.ts). */
export interface Issuer {
  /**
   * A new key and a certificate for exactly `request.domains`. Throws NotariatError kind "acme", "dns" or
   * "pki" whose message starts with the request's label; `retryAfter` is set when the CA asked for a delay.
   */
  issue(request: IssueRequest): Promise<IssuedCertificate>;
  /** What the CA's directory offers (renewal information, profiles); read once and cached. */
  directoryInfo(): Promise<DirectoryInfo>;
  /**
   * The CA's suggested renewal window for a certificate named by its ARI identifier, or undefined when the CA
   * offers no renewalInfo. Cached until the CA's Retry-After; throws NotariatError kind "acme".
   */
  renewalInfo(certId: string): Promise<RenewalInfo | undefined>;
  /** The profile asked for when an entry names none; undefined: the CA's default. */
  readonly defaultProfile?: string;
}

const DEFAULT_POLL_TIMEOUT_MS = 180_000;

/**
 * An issuer for one ACME CA. Accounts are created once per email and shared by concurrent issuances;
 * challenge records are always removed again, whether validation succeeded or not. The DNS side (CNAMEs,
 * zones, update servers) is found before the order is created, so a broken DNS costs the CA nothing; an
 * issuance failing after that deactivates the order's authorizations that are still pending.
 */
export function createIssuer(options: IssuerOptions): Issuer {
  const limiter = createLimiter(options.concurrency);
  const accounts = createAccountCache({
    directoryUrl: options.directoryUrl,
    store: options.accounts,
    openSession: (accountKeyPem) => openAcmeSession({ directoryUrl: options.directoryUrl, accountKeyPem }),
    log: options.log,
    externalAccountBinding: options.externalAccountBinding,
  });
  const trusted = async <T>(work: () => Promise<T>): Promise<T> => {
    const release = options.caPem ? trustCaPem(options.directoryUrl, options.caPem) : () => {};
    try {
      return await work();
    } finally {
      release();
    }
  };
  // The directory and renewalInfo are read without an account (RFC 9773 section 4.3 is a plain GET); this
  // session's key is never registered.
  let directorySession: Promise<AcmeSession> | undefined;
  const anonymous = () =>
    directorySession ??= generatePrivateKey("ecdsa-p256").then((accountKeyPem) =>
      openAcmeSession({ directoryUrl: options.directoryUrl, accountKeyPem })
    );
  let directory: Promise<DirectoryInfo> | undefined;
  const directoryInfo = () => {
    directory ??= trusted(async () => readDirectoryInfo(await (await anonymous()).directory()));
    directory.catch(() => directory = undefined);
    return directory;
  };
  const renewalInfo = createRenewalInfoCache(
    async (certId) => {
      const url = (await directoryInfo()).renewalInfo!;
      return await trusted(async () => (await anonymous()).get(`${url.replace(/\/$/, "")}/${certId}`));
    },
    options.now ?? (() => new Date()),
  );
  return {
    issue(request) {
      return limiter.run(async () => {
        try {
          return await trusted(async () => {
            const signals = [options.signal, request.signal].filter((s): s is AbortSignal => s !== undefined);
            const signal = signals.length === 0 ? undefined : AbortSignal.any(signals);
            checkStopped(signal, "before the order");
            const account = await accounts.get(request.email);
            // RFC 9773 section 5: only a CA that offers renewalInfo gets `replaces`.
            const withAri = request.replaces !== undefined &&
              (await directoryInfo()).renewalInfo !== undefined;
            const sent = withAri ? request : { ...request, replaces: undefined };
            return await issueWith(account, sent, options, signal);
          });
        } catch (err) {
          throw labelled(request.label, err);
        }
      });
    },
    directoryInfo,
    defaultProfile: options.defaultProfile,
    async renewalInfo(certId) {
      if ((await directoryInfo()).renewalInfo === undefined) return undefined;
      return await renewalInfo.get(certId);
    },
  };
}

interface OrderBody {
  status: string;
  expires?: string;
  authorizations: string[];
  finalize: string;
  certificate?: string;
  error?: unknown;
}

interface AuthorizationBody {
  status: string;
  expires?: string;
  identifier: { type: string; value: string };
  wildcard?: boolean;
  challenges: ChallengeObject[];
}

interface PendingChallenge {
  domain: string;
  authorizationUrl: string;
  challengeUrl: string;
  value: string;
  /** The authorization's `expires`, which bounds waiting for its validation. */
  expires?: string;
}

async function issueWith(
  account: AcmeAccount,
  request: IssueRequest,
  options: IssuerOptions,
  signal: AbortSignal | undefined,
): Promise<IssuedCertificate> {
  const session = account.session;
  const log = (message: string, fields: Record<string, unknown> = {}) =>
    options.log?.(message, { entry: request.label, ...fields });
  const timeoutMs = options.pollTimeoutMs ?? DEFAULT_POLL_TIMEOUT_MS;
  const poller: Poller = {
    session,
    policy: options.pollPolicy ?? DEFAULT_POLL_POLICY,
    deadline: Date.now() + timeoutMs,
    limit: `the wait ends after ${timeoutMs} ms`,
    signal,
  };

  // Each order leaves pending authorizations at the CA until it is validated or deactivated; a DNS that cannot
  // take the values must fail the issuance before one exists.
  const plan = await createSolver(
    {
      type: request.challenge ?? "dns-01",
      domains: request.domains,
      zoneAccess: request.zoneAccess,
      persistUntil: request.persistUntil,
      owner: request.standingOwner ?? { entry: request.label },
    },
    session,
    options.dns,
    options.standingRecords,
  );
  const privateKeyPem = await generatePrivateKey(request.keyType);
  const csrPem = await createCsr(privateKeyPem, request.domains);
  checkStopped(signal, "before the order");

  const { created, replaces } = await createOrder(session, request, log);
  const orderUrl = created.headers.location;
  if (!orderUrl) throw new NotariatError("acme", "creating the order: the CA sent no order URL");
  log("ACME order created", {
    order: orderUrl,
    domains: request.domains,
    ...(request.profile === undefined ? {} : { profile: request.profile }),
    ...(replaces === undefined ? {} : { replaces }),
  });

  const createdOrder = jsonBody<OrderBody>("creating the order", created, [
    "status",
    "authorizations",
    "finalize",
  ]);
  const work: CreatedOrder = { url: orderUrl, body: createdOrder, csrPem, privateKeyPem, plan };
  try {
    return await completeOrder(work, request.domains, poller, log, options.preferredChain);
  } catch (err) {
    // The CA caps pending authorizations per account; give back what this order will never use.
    await deactivatePendingAuthorizations(session, authorizationUrls(createdOrder), log);
    throw err;
  }
}

/**
 * newOrder with the request's profile and `replaces`. When the CA refuses `replaces` (alreadyReplaced, or a
 * certificate it does not know, as after a change of CA), the order is placed once more without it; a second
 * refusal is the CA's final word.
 */
async function createOrder(
  session: AcmeSession,
  request: IssueRequest,
  log: (message: string, fields?: Record<string, unknown>) => void,
): Promise<{ created: AcmeResponse; replaces?: string }> {
  const payload: Record<string, unknown> = {
    identifiers: request.domains.map((value) => ({ type: "dns", value })),
  };
  if (request.profile !== undefined) payload.profile = request.profile;
  const what = "creating the order";
  if (request.replaces !== undefined) {
    const withReplaces = await step(what, () => session.newOrder({ ...payload, replaces: request.replaces }));
    if (!refusesReplaces(withReplaces)) {
      expectStatus(what, withReplaces, [201]);
      return { created: withReplaces, replaces: request.replaces };
    }
    const problem = parseProblem(withReplaces.body);
    log("the CA refused replaces; ordering without it", {
      replaces: request.replaces,
      problem: problem ? `${shortType(problem.type)}: ${problem.detail}` : `HTTP ${withReplaces.status}`,
    });
  }
  const created = await step(what, () => session.newOrder(payload));
  expectStatus(what, created, [201]);
  return { created };
}

/**
 * Whether a failed newOrder with `replaces` deserves one more try without it: any refusal except a rate limit,
 * a busy CA or an account problem, which would fail the same way. Server errors count, as some CAs answer an
 * unknown replaced certificate with one (pebble: "could not find an order for the given certificate").
 */
function refusesReplaces(response: AcmeResponse): boolean {
  if (response.status < 400 || response.status === 429 || response.status === 503) return false;
  const type = shortType(parseProblem(response.body)?.type ?? "");
  return !["rateLimited", "badNonce", "accountDoesNotExist", "unauthorized", "userActionRequired"].includes(
    type,
  );
}

/** An order the CA created, with what completing it needs. */
interface CreatedOrder {
  url: string;
  body: OrderBody;
  csrPem: string;
  privateKeyPem: string;
  plan: Solver;
}

/** The order's authorization URLs; a CA's malformed list yields none rather than a TypeError. */
function authorizationUrls(order: OrderBody): string[] {
  const urls: unknown = order.authorizations;
  return Array.isArray(urls) ? urls.filter((url): url is string => typeof url === "string") : [];
}

/** Validation, finalization and download of a created order. */
async function completeOrder(
  created: CreatedOrder,
  domains: string[],
  timeout: Poller,
  log: (message: string, fields?: Record<string, unknown>) => void,
  preferredChain: string | undefined,
): Promise<IssuedCertificate> {
  const orderUrl = created.url;
  const session = timeout.session;
  // The order's lifetime bounds every wait for it; each authorization's bounds its own validation.
  const poller = pollerFor(timeout, "the order", created.body.expires);
  const pending = await pendingChallenges(session, created.body.authorizations, created.plan);
  if (pending.length > 0) await validate(pending, created.plan, poller, log);

  let order = await poll(poller, orderUrl, "waiting for the order to become ready", (body: OrderBody) => {
    if (body.status === "invalid") throw orderInvalid(body);
    return body.status !== "pending";
  });
  if (order.status === "ready") {
    const finalized = await step(
      "finalizing the order",
      () => session.post(order.finalize, { csr: pemBody(created.csrPem) }),
    );
    expectStatus("finalizing the order", finalized, [200]);
    order = jsonBody<OrderBody>("finalizing the order", finalized, ["status"]);
  }
  order = await poll(poller, orderUrl, "waiting for the certificate", (body: OrderBody) => {
    if (body.status === "invalid") throw orderInvalid(body);
    return body.status === "valid";
  });
  if (!order.certificate) throw new NotariatError("acme", "the valid order has no certificate URL");
  const certificateUrl = order.certificate;
  const chain = await step(
    "downloading the certificate",
    () => downloadChain(session, certificateUrl, preferredChain),
  );
  const certificatePem = chain.pem;
  const issued = await checkIssued(certificatePem, created.privateKeyPem, domains);
  log("certificate issued", {
    notAfter: issued.notAfter.toISOString(),
    domains,
    ...(preferredChain ? { chain: chain.url, chains: chain.offered } : {}),
  });
  return issued;
}

async function pendingChallenges(
  session: AcmeSession,
  urls: string[],
  solver: Solver,
): Promise<PendingChallenge[]> {
  const authorizations = await Promise.all(urls.map(async (url) => {
    const response = await step("fetching an authorization", () => session.post(url, null));
    const what = `fetching the authorization ${url}`;
    expectStatus(what, response, [200]);
    return { url, body: jsonBody<AuthorizationBody>(what, response, ["status", "identifier", "challenges"]) };
  }));
  const pending: PendingChallenge[] = [];
  for (const { url, body } of authorizations) {
    const domain = `${body.wildcard ? "*." : ""}${body.identifier.value}`;
    if (body.status === "valid") continue;
    if (body.status !== "pending") {
      throw new NotariatError("acme", `the authorization for ${domain} is ${body.status}, not pending`);
    }
    const challenge = selectChallenge(body.challenges, solver.type, domain);
    pending.push({
      domain,
      authorizationUrl: url,
      challengeUrl: challenge.url,
      value: await solver.value(challenge, domain),
      expires: body.expires,
    });
  }
  return pending;
}

/** Publishes every TXT value in one batch, answers the challenges, waits for the CA; always removes the records. */
async function validate(
  pending: PendingChallenge[],
  plan: Solver,
  poller: Poller,
  log: (message: string, fields?: Record<string, unknown>) => void,
): Promise<void> {
  const records = pending.map(({ domain, value }) => ({ domain, value }));
  const published: PublishedChallenges = await plan.publish(records, poller.signal);
  log("challenge records published", {
    records: published.records.map((r) => ({ domain: r.domain, owner: r.owner, zone: r.zone })),
  });
  let failed = false;
  try {
    await Promise.all(pending.map(async (challenge) => {
      const what = `answering the ${plan.type} challenge for ${challenge.domain}`;
      const answered = await step(what, () => poller.session.post(challenge.challengeUrl, {}));
      expectStatus(what, answered, [200]);
    }));
    await Promise.all(
      pending.map((challenge) =>
        poll(
          pollerFor(poller, `the authorization for ${challenge.domain}`, challenge.expires),
          challenge.authorizationUrl,
          `validation of ${challenge.domain}`,
          (body: AuthorizationBody) => {
            if (body.status === "valid") return true;
            if (body.status === "pending") return false;
            const error = body.challenges.find((c) => c.type === plan.type)?.error;
            throw validationError(
              challenge.domain,
              txtName(plan.name(challenge.domain), challenge.domain, published.records),
              parseProblem(error),
              plan.type,
            );
          },
        )
      ),
    );
  } catch (err) {
    failed = true;
    throw err;
  } finally {
    try {
      await published.remove();
      log("challenge records removed");
    } catch (err) {
      // The issuance's own outcome matters more; a leftover TXT value is harmless and logged.
      log("removing challenge records failed", { error: errorMessage(err), afterFailure: failed });
    }
  }
}

interface Poller {
  session: AcmeSession;
  policy: PollPolicy;
  deadline: number;
  /** What set the deadline, for the message when it is reached ("after 180000 ms", "the order expires at"). */
  limit: string;
  /** The polled resource in words ("the order"): its `expires` in each answer bounds the polling too. */
  resource?: string;
  /** Ends every wait with a "stopped" error. */
  signal?: AbortSignal;
}

/** `poller` with its deadline moved earlier to the CA's lifetimes, where they end first. */
function boundedBy(poller: Poller, lifetimes: { what: string; expires?: unknown }[]): Poller {
  const bound = pollLimit(poller.deadline, 0, lifetimes);
  return bound.deadline < poller.deadline
    ? { ...poller, deadline: bound.deadline, limit: bound.reason }
    : poller;
}

/** `poller` for one resource whose `expires` (first as given, then as each answer says) bounds the wait. */
function pollerFor(poller: Poller, resource: string, expires: unknown): Poller {
  return { ...boundedBy(poller, [{ what: resource, expires }]), resource };
}

// "Come back later" (RFC 8555 section 6.6): a poll is a POST-as-GET, safe to repeat after the CA's Retry-After.
const BUSY_STATUSES = [429, 503];

/**
 * POST-as-GET `url` until `done(body)` says so (it throws for final failures), honouring Retry-After, also
 * when the CA is busy (429, 503) rather than the resource pending.
 */
async function poll<T extends { status: string }>(
  poller: Poller,
  url: string,
  what: string,
  done: (body: T) => boolean,
): Promise<T> {
  for (let attempt = 0;; attempt++) {
    checkStopped(poller.signal, what);
    const response = await untilStopped(
      step(what, () => poller.session.post(url, null)),
      poller.signal,
      what,
    );
    const busy = BUSY_STATUSES.includes(response.status);
    let body: T | undefined;
    if (!busy) {
      expectStatus(what, response, [200]);
      body = jsonBody<T>(what, response, ["status"]);
      if (done(body)) return body;
      if (poller.resource !== undefined) {
        poller = pollerFor(poller, poller.resource, (body as { expires?: unknown }).expires);
      }
    }
    const now = new Date();
    const retryAfter = parseRetryAfter(response.headers["retry-after"], now);
    const delay = pollDelayMs(attempt, retryAfter, now, poller.policy);
    if (now.getTime() + delay > poller.deadline) {
      if (!body) throw responseError(what, response, now);
      throw new NotariatError(
        "acme",
        `${what}: still ${body.status} and ${poller.limit}, giving up`,
        { retryAfter },
      );
    }
    await sleep(delay, poller.signal, what);
  }
}

function orderInvalid(body: OrderBody): NotariatError {
  const problem = parseProblem(body.error);
  const reason = problem ? `${shortType(problem.type)}: ${problem.detail}` : "no reason given";
  return new NotariatError("acme", `the CA declared the order invalid (${reason})`);
}

/** Where the CA looks for a domain's TXT record, and where a CNAME sent it, for messages. */
function txtName(name: string, domain: string, records: PublishedChallenge[]): string {
  const owner = records.find((r) => r.domain === domain)?.owner.replace(/\.$/, "");
  return owner && owner !== name ? `${name} (CNAME to ${owner})` : name;
}

/** The issued chain must be for the new key and name exactly the requested domains. */
async function checkIssued(
  certificatePem: string,
  privateKeyPem: string,
  domains: string[],
): Promise<IssuedCertificate> {
  const [leaf] = parseCertificateChain(certificatePem);
  const wanted = [...domains].map((d) => d.toLowerCase()).sort();
  const got = [...leaf.dnsNames].sort();
  if (wanted.join(",") !== got.join(",")) {
    throw new NotariatError(
      "pki",
      `the CA issued a certificate for ${got.join(", ")} instead of ${wanted.join(", ")}`,
    );
  }
  if (!(await privateKeyMatchesCertificate(privateKeyPem, certificatePem))) {
    throw new NotariatError("pki", "the CA issued a certificate for a different key than the request's");
  }
  return {
    certificatePem,
    privateKeyPem,
    notBefore: leaf.notBefore,
    notAfter: leaf.notAfter,
    domains: [...domains],
  };
}

/** The answer's JSON object with `fields` present, typed as the step expects it. */
function jsonBody<T>(what: string, response: AcmeResponse, fields: (keyof T & string)[]): T {
  return expectJsonObject(what, response, fields) as T;
}

/** Runs one exchange; a transport or library failure gets `what` in front of its cause. */
async function step<T>(what: string, exchange: () => Promise<T>): Promise<T> {
  try {
    return await exchange();
  } catch (err) {
    throw labelled(what, err);
  }
}

function trustCaPem(directoryUrl: string, caPem: string): () => void {
  try {
    // Deno's HTTP client silently ignores text without certificates; check first, so the cause is named.
    parseCertificateChain(caPem);
    return trustCa(directoryUrl, caPem);
  } catch (err) {
    throw new NotariatError(
      "acme",
      `the CA certificate given for the ACME server is unusable: ${errorMessage(err)}`,
    );
  }
}

/** `err` with `label` in front of its message; a NotariatError keeps its kind and Retry-After. */
function labelled(label: string, err: unknown): NotariatError {
  if (err instanceof NotariatError) {
    return new NotariatError(err.kind, `${label}: ${err.message}`, {
      cause: err,
      retryAfter: err.retryAfter,
    });
  }
  return new NotariatError("acme", `${label}: ${errorMessage(err)}`, { cause: err });
}

/** The base64url DER inside a PEM block, as finalize wants the CSR (RFC 8555 section 7.4). */
function pemBody(pem: string): string {
  return pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "").replace(/\+/g, "-").replace(/\//g, "_")
    .replace(/=+$/, "");
}
