import type { ChallengeType, KeyType } from "../config/types.ts";
import type { DnsContext, PublishedChallenge, PublishedChallenges, ZoneAccess } from "../dns/challenges.ts";
import type { StandingOwner } from "../dns/standing.ts";
import type { StandingRecordStore } from "../dns/standing_store.ts";
import { errorMessage, NotariatError } from "../errors.ts";
import { parseCertificateChain, privateKeyMatchesCertificate } from "../pki/certificate.ts";
import { createCsr, generatePrivateKey } from "../pki/keys.ts";
import { type AcmeAccount, createAccountCache } from "./account.ts";
import type { AccountKeyStore } from "./account_store.ts";
import { type AcmeSession, openAcmeSession } from "./client.ts";
import { deactivatePendingAuthorizations } from "./deactivate.ts";
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
  });
  return {
    issue(request) {
      return limiter.run(async () => {
        let release = () => {};
        try {
          if (options.caPem) release = trustCaPem(options.directoryUrl, options.caPem);
          const signals = [options.signal, request.signal].filter((s): s is AbortSignal => s !== undefined);
          const signal = signals.length === 0 ? undefined : AbortSignal.any(signals);
          checkStopped(signal, "before the order");
          const account = await accounts.get(request.email);
          return await issueWith(account, request, options, signal);
        } catch (err) {
          throw labelled(request.label, err);
        } finally {
          release();
        }
      });
    },
  };
}

interface OrderBody {
  status: string;
  authorizations: string[];
  finalize: string;
  certificate?: string;
  error?: unknown;
}

interface AuthorizationBody {
  status: string;
  identifier: { type: string; value: string };
  wildcard?: boolean;
  challenges: ChallengeObject[];
}

interface PendingChallenge {
  domain: string;
  authorizationUrl: string;
  challengeUrl: string;
  value: string;
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
    timeoutMs,
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

  const identifiers = request.domains.map((value) => ({ type: "dns", value }));
  const created = await step("creating the order", () => session.newOrder({ identifiers }));
  expectStatus("creating the order", created, [201]);
  const orderUrl = created.headers.location;
  if (!orderUrl) throw new NotariatError("acme", "creating the order: the CA sent no order URL");
  log("ACME order created", { order: orderUrl, domains: request.domains });

  const createdOrder = jsonBody<OrderBody>("creating the order", created, [
    "status",
    "authorizations",
    "finalize",
  ]);
  const work: CreatedOrder = { url: orderUrl, body: createdOrder, csrPem, privateKeyPem, plan };
  try {
    return await completeOrder(work, request.domains, poller, log);
  } catch (err) {
    // The CA caps pending authorizations per account; give back what this order will never use.
    await deactivatePendingAuthorizations(session, authorizationUrls(createdOrder), log);
    throw err;
  }
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
  poller: Poller,
  log: (message: string, fields?: Record<string, unknown>) => void,
): Promise<IssuedCertificate> {
  const orderUrl = created.url;
  const session = poller.session;
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
  const downloaded = await step("downloading the certificate", () => session.post(certificateUrl, null));
  expectStatus("downloading the certificate", downloaded, [200]);
  if (typeof downloaded.body !== "string") {
    throw new NotariatError("acme", "downloading the certificate: the CA did not send a PEM chain");
  }
  const certificatePem = downloaded.body;
  const issued = await checkIssued(certificatePem, created.privateKeyPem, domains);
  log("certificate issued", { notAfter: issued.notAfter.toISOString(), domains });
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
          poller,
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
  timeoutMs: number;
  /** Ends every wait with a "stopped" error. */
  signal?: AbortSignal;
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
    }
    const now = new Date();
    const retryAfter = parseRetryAfter(response.headers["retry-after"], now);
    const delay = pollDelayMs(attempt, retryAfter, now, poller.policy);
    if (now.getTime() + delay > poller.deadline) {
      if (!body) throw responseError(what, response, now);
      throw new NotariatError(
        "acme",
        `${what}: still ${body.status} after ${poller.timeoutMs} ms, giving up`,
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
