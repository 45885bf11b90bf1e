import { errorMessage, NotariatError } from "../errors.ts";

/** An RFC 8555 section 6.7 problem document, reduced to what messages need. */
export interface AcmeProblem {
  /** Full type URN, e.g. "urn:ietf:params:acme:error:rateLimited". */
  type: string;
  detail: string;
  /** The identifier a subproblem is about, when the CA names one. */
  identifier?: string;
  subproblems: AcmeProblem[];
}

/** One HTTP answer of the CA, as the ACME adapter returns it. */
export interface AcmeResponse {
  status: number;
  /** Lower-case header names. */
  headers: Record<string, string>;
  body: unknown;
}

const ACME_ERROR = "urn:ietf:params:acme:error:";

/** The problem document in a response body or a challenge's `error` field; undefined when there is none. */
export function parseProblem(body: unknown): AcmeProblem | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const record = body as Record<string, unknown>;
  if (typeof record.type !== "string") return undefined;
  const identifier = record.identifier as { value?: unknown } | undefined;
  return {
    type: record.type,
    detail: typeof record.detail === "string" ? record.detail.replace(/\s+/g, " ").trim() : "",
    identifier: typeof identifier?.value === "string" ? identifier.value : undefined,
    subproblems: Array.isArray(record.subproblems)
      ? record.subproblems.map(parseProblem).filter((p): p is AcmeProblem => p !== undefined)
      : [],
  };
}

/** "rateLimited" for an ACME error URN, the type unchanged otherwise. */
export function shortType(type: string): string {
  return type.startsWith(ACME_ERROR) ? type.slice(ACME_ERROR.length) : type;
}

/** Retry-After (RFC 9110 section 10.2.3): delay seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(header: string | undefined, now: Date): Date | undefined {
  if (header === undefined) return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return new Date(now.getTime() + Number(value) * 1000);
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** "type: detail", followed by the subproblems per identifier, as the CA wrote them. */
export function describeProblem(problem: AcmeProblem): string {
  const main = problem.detail === ""
    ? shortType(problem.type)
    : `${shortType(problem.type)}: ${problem.detail}`;
  if (problem.subproblems.length === 0) return main;
  const subs = problem.subproblems.map((sub) => `${sub.identifier ?? "?"}: ${describeProblem(sub)}`);
  return `${main} (${subs.join("; ")})`;
}

/**
 * The error for a failed ACME request: `step` says what notariat was doing ("creating the order"). A rate
 * limit carries the CA's Retry-After in the message and in `retryAfter`.
 */
export function responseError(step: string, response: AcmeResponse, now: Date): NotariatError {
  const retryAfter = parseRetryAfter(response.headers["retry-after"], now);
  return new NotariatError("acme", `${step}: ${responseProblem(response, retryAfter)}`, { retryAfter });
}

/** What went wrong in a failed answer, in words: the problem document's, or the status and body excerpt. */
function responseProblem(response: AcmeResponse, retryAfter: Date | undefined): string {
  const problem = parseProblem(response.body);
  if (!problem) {
    const excerpt = bodyExcerpt(response.body);
    const what = excerpt === "" ? "with an empty body" : `without a problem document: ${excerpt}`;
    return `the CA answered HTTP ${response.status} ${what}`;
  }
  switch (shortType(problem.type)) {
    case "rateLimited": {
      const until = retryAfter ? `retry after ${retryAfter.toISOString()}` : "no Retry-After given";
      return `rate limited by the CA (${until}): ${problem.detail}`;
    }
    case "badNonce":
      return `the CA kept rejecting fresh nonces (${describeProblem(problem)})`;
    default:
      return `the CA answered HTTP ${response.status} ${describeProblem(problem)}`;
  }
}

/** Throws responseError unless the CA answered with one of the `ok` statuses. */
export function expectStatus(step: string, response: AcmeResponse, ok: readonly number[]): void {
  if (!ok.includes(response.status)) throw responseError(step, response, new Date());
}

/**
 * A body that is not what was expected, for messages: an HTML error page or a cut-off text on one line, at
 * most 200 characters; "" when there was no body.
 */
export function bodyExcerpt(body: unknown): string {
  if (body === undefined || body === null) return "";
  const text = (typeof body === "string" ? body : JSON.stringify(body)).replace(/\s+/g, " ").trim();
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}

/**
 * The JSON object a successful answer must carry, with at least `fields`. A CA (or something in front of it)
 * answering a maintenance page or a truncated body gets an error naming the step, the status and what came,
 * instead of a TypeError deep in the issuer or a wait for a status that never comes.
 */
export function expectJsonObject(
  step: string,
  response: AcmeResponse,
  fields: string[],
): Record<string, unknown> {
  const body = response.body;
  if (typeof body === "object" && body !== null && !Array.isArray(body)) {
    const missing = fields.filter((field) => !(field in body));
    if (missing.length === 0) return body as Record<string, unknown>;
    return unexpected(step, response, `JSON without ${missing.map((f) => `"${f}"`).join(", ")}`);
  }
  const excerpt = bodyExcerpt(body);
  return unexpected(
    step,
    response,
    excerpt === "" ? "an empty body" : `a body that is not a JSON object: ${excerpt}`,
  );
}

function unexpected(step: string, response: AcmeResponse, what: string): never {
  throw new NotariatError("acme", `${step}: the CA answered HTTP ${response.status} with ${what}`);
}

/**
 * The error for an authorization the CA declared invalid. `txtName` names where the CA looked (the
 * _acme-challenge name, and where a CNAME led), so the message says which record was wrong or missing.
 */
export function validationError(
  domain: string,
  txtName: string,
  problem: AcmeProblem | undefined,
  challengeType = "dns-01",
): NotariatError {
  if (!problem) {
    return new NotariatError(
      "acme",
      `${challengeType} validation of ${domain} failed: the CA declared the authorization invalid without a reason`,
    );
  }
  const type = shortType(problem.type);
  const what = type === "unauthorized" || type === "incorrectResponse"
    ? `the CA did not find the expected TXT value at ${txtName}`
    : type === "dns"
    ? `the CA's DNS lookup of ${txtName} failed`
    : `the CA could not validate the TXT record at ${txtName}`;
  return new NotariatError(
    "acme",
    `${challengeType} validation of ${domain} failed: ${what} (${describeProblem(problem)})`,
  );
}

/** The answer's JSON object with `fields` present, typed as the step expects it. */
export function jsonBody<T>(what: string, response: AcmeResponse, fields: (keyof T & string)[]): T {
  return expectJsonObject(what, response, fields) as T;
}

/** Runs one exchange; a transport or library failure gets `what` in front of its cause. */
export async function step<T>(what: string, exchange: () => Promise<T>): Promise<T> {
  try {
    return await exchange();
  } catch (err) {
    throw labelled(what, err);
  }
}

/** `err` with `label` in front of its message; a NotariatError keeps its kind and Retry-After. */
export function labelled(label: string, err: unknown): NotariatError {
  if (err instanceof NotariatError) {
    return new NotariatError(err.kind, `${label}: ${err.message}`, {
      cause: err,
      retryAfter: err.retryAfter,
    });
  }
  return new NotariatError("acme", `${label}: ${errorMessage(err)}`, { cause: err });
}
