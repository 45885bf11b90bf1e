import { errorMessage, NotariatError } from "../errors.ts";
import type { AcmeExchange } from "../observe/metrics.ts";
import { VERSION } from "../version.ts";

/**
 * HTTP exchanges with the ACME CA over Deno's fetch. Every HTTP answer, problem documents and 429/5xx
 * included, goes back to the caller as is (the issuer decides about retries and Retry-After), and a transport
 * failure rejects at once with its real cause. Trust for a private ACME CA is registered per origin.
 */

interface TrustEntry {
  client: Deno.HttpClient;
  users: number;
}

const trustByOrigin = new Map<string, TrustEntry>();

/**
 * Trusts `caPem` (in addition to the default roots) for HTTPS requests to the origin of `url` until the
 * returned release function is called by every user; the underlying client is closed with the last one.
 */
export function trustCa(url: string, caPem: string): () => void {
  const origin = new URL(url).origin;
  let entry = trustByOrigin.get(origin);
  if (!entry) {
    entry = { client: Deno.createHttpClient({ caCerts: [caPem] }), users: 0 };
    trustByOrigin.set(origin, entry);
  }
  const held = entry;
  held.users++;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    held.users--;
    if (held.users === 0) {
      held.client.close();
      if (trustByOrigin.get(origin) === held) trustByOrigin.delete(origin);
    }
  };
}

const exchangeListeners = new Set<(exchange: AcmeExchange) => void>();

/**
 * Calls `listener` after every exchange with an ACME CA (process-wide); returns the function that removes it.
 */
export function onAcmeExchange(listener: (exchange: AcmeExchange) => void): () => void {
  exchangeListeners.add(listener);
  return () => exchangeListeners.delete(listener);
}

function tellExchange(exchange: AcmeExchange): void {
  for (const listener of exchangeListeners) listener(exchange);
}

/** One request to the CA: a GET or HEAD, or a POST of a JWS (sent as application/jose+json). */
export interface AcmeRequest {
  url: string;
  method: "GET" | "HEAD" | "POST";
  body?: unknown;
  timeoutMs: number;
}

/** The CA's answer: status, lower-case headers, and the body parsed as JSON when it is JSON, else its text. */
export interface AcmeHttpResponse {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

const USER_AGENT = `notariat/${VERSION}`;

/** Sends one request; resolves with every HTTP answer (errors included), rejects only on transport failures. */
export async function acmeExchange(request: AcmeRequest): Promise<AcmeHttpResponse> {
  const { url, method, timeoutMs } = request;
  const origin = URL.canParse(url) ? new URL(url).origin : "";
  const client = trustByOrigin.get(origin)?.client;
  let response: Response;
  let text: string;
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  try {
    response = await fetch(url, {
      method,
      headers: { "content-type": "application/jose+json", "user-agent": USER_AGENT },
      body: request.body === undefined ? undefined : JSON.stringify(request.body),
      signal: AbortSignal.timeout(timeoutMs),
      ...(client ? { client } : {}),
    });
    text = await response.text();
  } catch (err) {
    tellExchange({ url, method, status: 0, seconds: seconds() });
    throw transportError(method, url, err, timeoutMs);
  }
  tellExchange({ url, method, status: response.status, seconds: seconds() });
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => headers[name] = value);
  return { status: response.status, headers, body: parseBody(text) };
}

/** JSON when it parses (problem documents, resources), else the text itself (a PEM chain, an HTML error page). */
function parseBody(text: string): unknown {
  if (text === "") return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The real cause of a failed exchange: refused connection, TLS trust, timeout. */
function transportError(method: string, url: string, err: unknown, timeoutMs: number): NotariatError {
  const name = (err as { name?: unknown })?.name;
  if (name === "TimeoutError" || name === "AbortError") {
    return new NotariatError(
      "acme",
      `${method} ${url}: no answer from the ACME server within ${timeoutMs} ms`,
      {
        cause: err,
      },
    );
  }
  // Deno words a failed fetch as "fetch failed: error sending request for url (URL): <cause>"; the URL is
  // already in front, so keep only the cause.
  const cause = causeChain(err).replace(/^fetch failed: /, "").replace(
    /^error sending request for url \([^)]*\): /,
    "",
  );
  return new NotariatError("acme", `${method} ${url}: ${cause}`, { cause: err });
}

function causeChain(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  while (current !== undefined && parts.length < 4) {
    const message = errorMessage(current);
    if (!parts.some((part) => part.includes(message))) parts.push(message);
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(": ");
}
