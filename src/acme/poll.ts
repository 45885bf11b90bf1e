/**
 * Waiting for the CA: how long between two looks (the delay rule), when to give up, and the loop that
 * POST-as-GETs a resource until it settles. The wait ends at notariat's own timeout, or earlier at the
 * lifetimes the CA gave the order and its authorizations (RFC 8555 sections 7.1.3 and 7.1.4, `expires`): a
 * short-lived profile's one-hour challenge window ends the wait with a message saying so, rather than polling
 * a dead order until the timeout.
 */
import { checkStopped, sleep, untilStopped } from "../stop.ts";
import { NotariatError } from "../errors.ts";
import { exponentialBackoffMs } from "../exponential_backoff.ts";
import type { AcmeSession } from "./client.ts";
import {
  type AcmeResponse,
  expectStatus,
  jsonBody,
  parseRetryAfter,
  responseError,
  step,
} from "./problem.ts";

/** How often to ask the CA about a pending authorization or a processing order. */
export interface PollPolicy {
  /** First wait; also the floor, so a Retry-After in the past cannot make a tight loop. */
  initialMs: number;
  /** Longest wait between two polls when the CA does not say. */
  maxMs: number;
}

/**
 * The default: a quick first look, then doubling up to 10 s. A CA near by validates a DNS-01 challenge in tens
 * of milliseconds and Let's Encrypt within a second or two, so 50, 100, 200, 400, 800 ms costs a distant CA
 * five cheap POST-as-GETs and a near one almost no waiting.
 */
export const DEFAULT_POLL_POLICY: PollPolicy = { initialMs: 50, maxMs: 10_000 };

/**
 * Milliseconds to wait before poll number `attempt` (0 = the first): the CA's Retry-After when it gave one
 * (RFC 8555 section 7.5.1 asks clients to honour it), else exponential backoff.
 */
export function pollDelayMs(
  attempt: number,
  retryAfter: Date | undefined,
  now: Date,
  policy: PollPolicy,
): number {
  if (retryAfter) return Math.max(policy.initialMs, retryAfter.getTime() - now.getTime());
  return exponentialBackoffMs(attempt, { baseMs: policy.initialMs, factor: 2, capMs: policy.maxMs });
}

/** Where polling must stop, and what set that limit (for the message when it is reached). */
export interface PollLimit {
  /** ms since epoch. */
  deadline: number;
  /** "after 180000 ms", or "the order expires at 2026-...Z" when the CA's lifetime comes first. */
  reason: string;
}

/** One CA-given lifetime: what it belongs to ("the order", "the authorization for www.example.com"). */
export interface Lifetime {
  what: string;
  /** The `expires` field as the CA sent it (RFC 3339), or undefined when it sent none. */
  expires?: unknown;
}

/** The earliest of `now + timeoutMs` and every readable `expires`. */
export function pollLimit(now: number, timeoutMs: number, lifetimes: readonly Lifetime[]): PollLimit {
  let limit: PollLimit = { deadline: now + timeoutMs, reason: `after ${timeoutMs} ms` };
  for (const { what, expires } of lifetimes) {
    if (typeof expires !== "string") continue;
    const at = new Date(expires).getTime();
    if (Number.isNaN(at) || at >= limit.deadline) continue;
    limit = { deadline: at, reason: `${what} expires at ${new Date(at).toISOString()}` };
  }
  return limit;
}

/** One order's polling: the session to poll with, the delay rule, and when the wait ends. */
export interface Poller {
  session: AcmeSession;
  policy: PollPolicy;
  /** ms since epoch. */
  deadline: number;
  /** What set the deadline, for the message when it is reached ("the wait ends after 180000 ms", "the order expires at"). */
  limit: string;
  /** Ends every wait with a "stopped" error. */
  signal?: AbortSignal;
}

/** `poller` with its deadline moved earlier to the CA's lifetimes, where they end first. */
export function boundedBy(poller: Poller, lifetimes: { what: string; expires?: unknown }[]): Poller {
  const bound = pollLimit(poller.deadline, 0, lifetimes);
  return bound.deadline < poller.deadline
    ? { ...poller, deadline: bound.deadline, limit: bound.reason }
    : poller;
}

// "Come back later" (RFC 8555 section 6.6): a poll is a POST-as-GET, safe to repeat after the CA's Retry-After.
const BUSY_STATUSES = [429, 503];

/**
 * POST-as-GET `url` until `done(body)` says so (it throws for final failures), honouring Retry-After, also
 * when the CA is busy (429, 503) rather than the resource pending. The first look waits for `firstLook` (the
 * Retry-After of the request that set the CA working) when given, else the policy's first delay, since the CA
 * has just been asked to work.
 */
export async function pollUntil<T extends { status: string }>(
  poller: Poller,
  url: string,
  what: string,
  firstLook: Date | undefined,
  done: (body: T) => boolean,
): Promise<T> {
  let retryAfter = firstLook;
  let body: T | undefined;
  let response: AcmeResponse | undefined;
  for (let attempt = 0;; attempt++) {
    const now = new Date();
    const delay = pollDelayMs(attempt, retryAfter, now, poller.policy);
    if (now.getTime() + delay > poller.deadline) {
      if (response && !body) throw responseError(what, response, now);
      throw new NotariatError(
        "acme",
        `${what}: still ${body?.status ?? "pending"} and ${poller.limit}, giving up`,
        { retryAfter },
      );
    }
    await sleep(delay, poller.signal, what);
    checkStopped(poller.signal, what);
    response = await untilStopped(step(what, () => poller.session.post(url, null)), poller.signal, what);
    body = undefined;
    if (!BUSY_STATUSES.includes(response.status)) {
      expectStatus(what, response, [200]);
      body = jsonBody<T>(what, response, ["status"]);
      if (done(body)) return body;
      // Every answer about the order may move its lifetime; the earliest bound holds.
      poller = boundedBy(poller, [{ what: "the order", expires: (body as { expires?: unknown }).expires }]);
    }
    retryAfter = parseRetryAfter(response.headers["retry-after"], new Date());
  }
}

/**
 * The polling of one order: it ends after `timeoutMs`, or when the order expires (`orderExpires`, as the CA
 * sent it) if that comes first; `signal` ends every wait with a "stopped" error.
 */
export function startPolling(
  session: AcmeSession,
  policy: PollPolicy,
  timeoutMs: number,
  orderExpires: unknown,
  signal: AbortSignal | undefined,
): Poller {
  const limit = pollLimit(Date.now(), timeoutMs, [{ what: "the order", expires: orderExpires }]);
  return {
    session,
    policy,
    deadline: limit.deadline,
    limit: limit.reason.startsWith("after ") ? `the wait ends ${limit.reason}` : limit.reason,
    signal,
  };
}

/** When the CA asked to be asked again (Retry-After), from now. */
export function retryAfterOf(response: AcmeResponse): Date | undefined {
  return parseRetryAfter(response.headers["retry-after"], new Date());
}
