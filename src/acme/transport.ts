import { errorMessage, NotariatError } from "../errors.ts";
import type { AcmeExchange } from "../observe/metrics.ts";

/**
 * HTTP for the ACME client over Deno's fetch, installed as the axios adapter of acme-client.
 *
 * Why not axios' own node:https adapter: on a refused connection or an untrusted certificate it hides the
 * cause behind hidden retries (about 75 s) and then a TypeError, and it needs sys access to the CA store
 * while NODE_EXTRA_CA_CERTS is set. Here every HTTP answer, problem documents and 429/5xx included, goes
 * back to the caller as is (the issuer decides about retries and Retry-After), and a transport failure
 * rejects at once with its real cause. Trust for a private ACME CA is registered per origin.
 */

/** The part of an axios request config this adapter reads. */
export interface AdapterRequest {
  url?: string;
  method?: string;
  headers?: unknown;
  data?: unknown;
}

/** The part of an axios response acme-client reads. */
export interface AdapterResponse {
  data: string;
  status: number;
  statusText: string;
  headers: Record<string, string>;
  config: AdapterRequest;
  request: Record<string, never>;
}

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
 * Calls `listener` after every exchange with an ACME CA (the adapter is process-wide, like acme-client's
 * axios instance); returns the function that removes it.
 */
export function onAcmeExchange(listener: (exchange: AcmeExchange) => void): () => void {
  exchangeListeners.add(listener);
  return () => exchangeListeners.delete(listener);
}

function tellExchange(exchange: AcmeExchange): void {
  for (const listener of exchangeListeners) listener(exchange);
}

/** Options of the adapter: how long one HTTP exchange may take. */
export interface FetchAdapterOptions {
  requestTimeoutMs: number;
}

/** An axios adapter over fetch: resolves with every HTTP answer, rejects only on transport failures. */
export function createFetchAdapter(
  options: FetchAdapterOptions,
): (config: AdapterRequest) => Promise<AdapterResponse> {
  return async (config) => {
    const url = config.url ?? "";
    const method = (config.method ?? "get").toUpperCase();
    const origin = URL.canParse(url) ? new URL(url).origin : "";
    const client = trustByOrigin.get(origin)?.client;
    let response: Response;
    let text: string;
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    try {
      response = await fetch(url, {
        method,
        headers: plainHeaders(config.headers),
        body: method === "GET" || method === "HEAD" ? undefined : bodyOf(config.data),
        signal: AbortSignal.timeout(options.requestTimeoutMs),
        ...(client ? { client } : {}),
      });
      text = await response.text();
    } catch (err) {
      tellExchange({ url, method, status: 0, seconds: seconds() });
      throw transportError(method, url, err, options.requestTimeoutMs);
    }
    tellExchange({ url, method, status: response.status, seconds: seconds() });
    const headers: Record<string, string> = {};
    response.headers.forEach((value, name) => headers[name] = value);
    return {
      data: text,
      status: response.status,
      statusText: response.statusText,
      headers,
      config,
      request: {},
    };
  };
}

function plainHeaders(headers: unknown): Record<string, string> {
  const source = (headers as { toJSON?: () => unknown })?.toJSON?.() ?? headers ?? {};
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(source as Record<string, unknown>)) {
    if (value !== undefined && value !== null && value !== false) result[name] = String(value);
  }
  return result;
}

function bodyOf(data: unknown): string | undefined {
  if (data === undefined || data === null) return undefined;
  return typeof data === "string" ? data : JSON.stringify(data);
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
