import type { ChallengeType, KeyType } from "../config/types.ts";
import type { DnsContext, PublishedChallenge, PublishedChallenges, ZoneAccess } from "../dns/challenges.ts";
import type { StandingOwner } from "../dns/standing.ts";
import type { StandingRecordStore } from "../dns/standing_record_store.ts";
import { errorMessage, NotariatError } from "../errors.ts";
import { type CertificateInfo, parseChainWithKey, samePublicKey } from "../pki/certificate.ts";
import { pemToBase64Url } from "../pki/pem.ts";
import { generateKeyAndCsr, generatePrivateKey, type KeyAndCsr } from "../pki/keys.ts";
import { type AcmeAccount, createAccountCache } from "./account.ts";
import { createRenewalInfoCache, type RenewalInfo } from "./ari.ts";
import type { AccountKeyStore } from "./account_key_store.ts";
import { type AcmeSession, openAcmeSession } from "./client.ts";
import { deactivatePendingAuthorizations } from "./deactivate.ts";
import { type DirectoryInfo, readDirectoryInfo } from "./directory.ts";
import { downloadChain, type DownloadedChain } from "./download.ts";
import type { EabCredentials } from "./eab.ts";
import { type ChallengeObject, createSolver, selectChallenge, type Solver } from "./challenge_type.ts";
import { createLimiter } from "./limit.ts";
import { createNoncePool } from "./nonce.ts";
import {
  boundedBy,
  DEFAULT_POLL_POLICY,
  type Poller,
  type PollPolicy,
  pollUntil,
  retryAfterOf,
  startPolling,
} from "./poll.ts";
import {
  type AcmeResponse,
  expectStatus,
  jsonBody,
  labelled,
  parseProblem,
  shortType,
  step,
  validationError,
} from "./problem.ts";
import { caTrustRunner } from "./ca_trust.ts";
import { checkStopped } from "../stop.ts";

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
  /** Poll timing when the CA sends no Retry-After (default: 50 ms doubling to 10 s). */
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

/** A certificate and the new key it was issued for, checked by the issuer to be what was ordered. */
export interface IssuedCertificate {
  /** Leaf first, then intermediates, as the CA sent them. */
  certificatePem: string;
  /** PKCS#8 PEM. */
  privateKeyPem: string;
  domains: string[];
  /**
   * The leaf certificate as parsed when the issuer checked that it names exactly the domains and belongs to
   * the key: its validity, issuer and serial, so nothing downstream parses the chain again.
   */
  leaf: CertificateInfo;
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
  // Nonces belong to the CA: every account's answers feed the next request of any account.
  const nonces = createNoncePool();
  const accounts = createAccountCache({
    directoryUrl: options.directoryUrl,
    store: options.accounts,
    openSession: (accountKeyPem) =>
      openAcmeSession({ directoryUrl: options.directoryUrl, accountKeyPem, nonces }),
    log: options.log,
    externalAccountBinding: options.externalAccountBinding,
  });
  const trusted = caTrustRunner(options.directoryUrl, options.caPem);
  // The directory and renewalInfo are read without an account (RFC 9773 section 4.3 is a plain GET); this
  // session's key is never registered.
  let directorySession: Promise<AcmeSession> | undefined;
  const anonymous = () =>
    directorySession ??= generatePrivateKey("ecdsa-p256").then((accountKeyPem) =>
      openAcmeSession({ directoryUrl: options.directoryUrl, accountKeyPem, nonces })
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
  authorizations: string[];
  finalize: string;
  expires?: string;
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
  /** The authorization's `expires` as the CA sent it. */
  expires?: unknown;
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
  const started = performance.now();

  // The key and CSR are needed only to finalize: made while the DNS is planned and the CA validates.
  const keyAndCsr = generateKeyAndCsr(request.keyType, request.domains);
  keyAndCsr.catch(() => {}); // awaited below; a failure before that point must not go unhandled
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
  // The order's lifetime bounds every wait for it, first as created, then as each answer gives it.
  const poller = startPolling(
    session,
    options.pollPolicy ?? DEFAULT_POLL_POLICY,
    timeoutMs,
    createdOrder.expires,
    signal,
  );
  const work: CreatedOrder = { url: orderUrl, body: createdOrder, keyAndCsr, plan };
  try {
    const { issued, chain } = await completeOrder(work, request.domains, poller, log, options.preferredChain);
    const ms = Math.round(performance.now() - started);
    log("certificate issued", {
      notAfter: issued.leaf.notAfter.toISOString(),
      domains: request.domains,
      ms,
      ...(options.preferredChain ? { chain: chain.url, chains: chain.offered } : {}),
    });
    return issued;
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
  keyAndCsr: Promise<KeyAndCsr>;
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
): Promise<{ issued: IssuedCertificate; chain: DownloadedChain }> {
  const orderUrl = created.url;
  const session = timeout.session;
  let order = created.body;
  const pending = await pendingChallenges(session, authorizationUrls(order), created.plan);
  // Each pending authorization's lifetime bounds the validation too (a short-lived profile's challenge window).
  const poller = boundedBy(
    timeout,
    pending.map((challenge) => ({
      what: `the authorization for ${challenge.domain}`,
      expires: challenge.expires,
    })),
  );
  if (pending.length > 0) {
    order = await validate(pending, created, domains, poller, log);
  } else if (order.status === "pending") {
    order = await pollUntil(
      poller,
      orderUrl,
      "waiting for the order to become ready",
      undefined,
      orderSettled,
    );
  }
  if (order.status === "ready") {
    const { csrPem } = await created.keyAndCsr;
    const finalized = await step(
      "finalizing the order",
      () => session.post(order.finalize, { csr: pemToBase64Url(csrPem) }),
    );
    expectStatus("finalizing the order", finalized, [200]);
    order = jsonBody<OrderBody>("finalizing the order", finalized, ["status"]);
    if (order.status === "invalid") throw orderInvalid(order);
    if (order.status !== "valid") {
      order = await pollUntil(
        poller,
        orderUrl,
        "waiting for the certificate",
        retryAfterOf(finalized),
        (body: OrderBody) => {
          if (body.status === "invalid") throw orderInvalid(body);
          return body.status === "valid";
        },
      );
    }
  } else if (order.status !== "valid") {
    throw new NotariatError("acme", `the order is ${order.status}, neither ready nor valid`);
  }
  if (!order.certificate) throw new NotariatError("acme", "the valid order has no certificate URL");
  const certificateUrl = order.certificate;
  const chain = await step(
    "downloading the certificate",
    () => downloadChain(session, certificateUrl, preferredChain),
  );
  return { issued: await checkIssued(chain.pem, await created.keyAndCsr, domains), chain };
}

/** The order is past validation: ready, valid, processing, or (throws) invalid. */
function orderSettled(body: OrderBody): boolean {
  if (body.status === "invalid") throw orderInvalid(body);
  return body.status !== "pending";
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

/**
 * Publishes every TXT value (one UPDATE per zone, in parallel), answers the challenges, and polls the order
 * until the CA is done validating; always removes the records. One order poll stands for all its
 * authorizations; only when the order turns invalid are they fetched, to say which name failed and why.
 */
async function validate(
  pending: PendingChallenge[],
  created: CreatedOrder,
  domains: string[],
  poller: Poller,
  log: (message: string, fields?: Record<string, unknown>) => void,
): Promise<OrderBody> {
  const records = pending.map(({ domain, value }) => ({ domain, value }));
  const published: PublishedChallenges = await created.plan.publish(records, poller.signal);
  log("challenge records published", {
    records: published.records.map((r) => ({ domain: r.domain, owner: r.owner, zone: r.zone })),
  });
  let failed = false;
  try {
    const answers = await Promise.all(pending.map(async (challenge) => {
      const what = `answering the ${created.plan.type} challenge for ${challenge.domain}`;
      const answered = await step(what, () => poller.session.post(challenge.challengeUrl, {}));
      expectStatus(what, answered, [200]);
      return answered;
    }));
    const firstLook = latest(answers.map(retryAfterOf));
    const what = `validation of ${domains.join(", ")}`;
    const order = await pollUntil(
      poller,
      created.url,
      what,
      firstLook,
      (body: OrderBody) => body.status !== "pending",
    );
    if (order.status === "invalid") {
      throw await invalidAuthorization(poller, pending, created.plan, published, order);
    }
    return order;
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

/** The error of an order that turned invalid during validation: the failed name's problem when the CA says it. */
async function invalidAuthorization(
  poller: Poller,
  pending: PendingChallenge[],
  plan: Solver,
  published: PublishedChallenges,
  order: OrderBody,
): Promise<NotariatError> {
  for (const challenge of pending) {
    const what = `fetching the authorization ${challenge.authorizationUrl}`;
    const response = await step(what, () => poller.session.post(challenge.authorizationUrl, null));
    expectStatus(what, response, [200]);
    const body = jsonBody<AuthorizationBody>(what, response, ["status", "challenges"]);
    if (body.status !== "invalid") continue;
    const type = plan.type;
    const error = body.challenges.find((c) => c.type === type)?.error;
    return validationError(
      challenge.domain,
      txtName(plan.name(challenge.domain), challenge.domain, published.records),
      parseProblem(error),
      type,
    );
  }
  return orderInvalid(order);
}

function latest(dates: (Date | undefined)[]): Date | undefined {
  const known = dates.filter((d): d is Date => d !== undefined);
  return known.length === 0 ? undefined : new Date(Math.max(...known.map((d) => d.getTime())));
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

/**
 * The issued chain must be for the new key and name exactly the requested domains; parsed here, once, and the
 * leaf handed on with the certificate.
 */
function checkIssued(certificatePem: string, key: KeyAndCsr, domains: string[]): IssuedCertificate {
  const { chain, leafPublicJwk } = parseChainWithKey(certificatePem);
  const [leaf] = chain;
  const wanted = [...domains].map((d) => d.toLowerCase()).sort();
  const got = [...leaf.dnsNames].sort();
  if (wanted.join(",") !== got.join(",")) {
    throw new NotariatError(
      "pki",
      `the CA issued a certificate for ${got.join(", ")} instead of ${wanted.join(", ")}`,
    );
  }
  if (leafPublicJwk === undefined || !samePublicKey(leafPublicJwk, key.publicJwk)) {
    throw new NotariatError("pki", "the CA issued a certificate for a different key than the request's");
  }
  return { certificatePem, privateKeyPem: key.privateKeyPem, domains: [...domains], leaf };
}
