import * as acme from "acme-client";
import { NotariatError } from "../errors.ts";
import type { AcmeResponse } from "./problem.ts";
import { createFetchAdapter } from "./transport.ts";

/**
 * The one module that talks to acme-client. acme-client signs the JWS requests, manages nonces (retrying
 * badNonce) and computes key authorizations; everything it sends goes over the fetch adapter of
 * transport.ts. The issuer gets every HTTP answer back whole (status, headers, problem document), because
 * acme-client's convenience methods reduce errors to a string and drop Retry-After.
 */

/** Signed access to one ACME account on one CA. */
export interface AcmeSession {
  readonly directoryUrl: string;
  /** The account URL once `register` succeeded. */
  readonly accountUrl: string | undefined;
  /** newAccount (RFC 8555 section 7.3) agreeing to the terms, with the email as contact; finds an existing one. */
  register(email: string): Promise<AcmeResponse>;
  /** newOrder (section 7.4). */
  newOrder(payload: Record<string, unknown>): Promise<AcmeResponse>;
  /** A signed POST; a null payload is POST-as-GET (section 6.3). */
  post(url: string, payload: Record<string, unknown> | null): Promise<AcmeResponse>;
  /** The TXT value for a dns-01 challenge token (section 8.4); dns-account-01 uses the same value. */
  dnsChallengeValue(token: string): Promise<string>;
  /** base64url SHA-256 JWK thumbprint of the account key (RFC 7638), as key authorizations use it. */
  thumbprint(): Promise<string>;
  /** The directory's `meta` object (empty when it has none). */
  directoryMeta(): Promise<Record<string, unknown>>;
}

/** How the session's requests behave. */
export interface SessionOptions {
  directoryUrl: string;
  accountKeyPem: string;
  /** badNonce answers are retried with the fresh nonce the CA sends along, up to this many times per request. */
  badNonceRetries?: number;
}

// acme-client 5.4 keeps these on its client; they are not in its type definitions.
interface ClientInternals {
  api: {
    accountUrl: string | null;
    apiRequest(
      url: string,
      payload: unknown,
      valid: number[],
      opts?: { includeJwsKid?: boolean },
    ): Promise<RawResponse>;
    apiResourceRequest(
      resource: string,
      payload: unknown,
      valid: number[],
      opts?: { includeJwsKid?: boolean },
    ): Promise<RawResponse>;
  };
  http: { maxBadNonceRetries: number; getDirectory(): Promise<Record<string, unknown>> };
}

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  data: unknown;
}

/** Longest single HTTP exchange with the CA. */
export const REQUEST_TIMEOUT_MS = 30_000;

let installed = false;

function installTransport(): void {
  if (installed) return;
  installed = true;
  // Every exchange resolves in the adapter, so acme-client's own retry interceptor never runs; keep it off
  // anyway so no hidden 5 x 5 s retries can come back through some other path.
  const instance = acme.axios as unknown as {
    defaults: { adapter: unknown; acmeSettings: { retryMaxAttempts: number } };
  };
  instance.defaults.adapter = createFetchAdapter({ requestTimeoutMs: REQUEST_TIMEOUT_MS });
  instance.defaults.acmeSettings.retryMaxAttempts = 0;
}

/** Opens a session for an account key; nothing is sent until the first call. */
export function openAcmeSession(options: SessionOptions): AcmeSession {
  installTransport();
  const client = new acme.Client({ directoryUrl: options.directoryUrl, accountKey: options.accountKeyPem });
  const internals = client as unknown as ClientInternals;
  if (
    typeof internals.api?.apiRequest !== "function" || typeof internals.http?.maxBadNonceRetries !== "number"
  ) {
    throw new NotariatError("acme", "the installed acme-client does not have the request API notariat uses");
  }
  internals.http.maxBadNonceRetries = options.badNonceRetries ?? 20;
  const wrap = (raw: RawResponse): AcmeResponse => ({
    status: raw.status,
    headers: raw.headers,
    body: raw.data,
  });
  return {
    directoryUrl: options.directoryUrl,
    get accountUrl() {
      return internals.api.accountUrl ?? undefined;
    },
    async register(email) {
      const payload = { termsOfServiceAgreed: true, contact: [`mailto:${email}`] };
      const raw = await internals.api.apiResourceRequest("newAccount", payload, [], { includeJwsKid: false });
      if ((raw.status === 200 || raw.status === 201) && raw.headers.location) {
        internals.api.accountUrl = raw.headers.location;
      }
      return wrap(raw);
    },
    async newOrder(payload) {
      return wrap(await internals.api.apiResourceRequest("newOrder", payload, []));
    },
    async post(url, payload) {
      return wrap(await internals.api.apiRequest(url, payload, []));
    },
    dnsChallengeValue(token) {
      return client.getChallengeKeyAuthorization({ type: "dns-01", token, url: "", status: "pending" });
    },
    async thumbprint() {
      // An http-01 key authorization is "<token>.<thumbprint>" (RFC 8555 8.1).
      const keyAuthorization = await client.getChallengeKeyAuthorization({
        type: "http-01",
        token: "",
        url: "",
        status: "pending",
      });
      return keyAuthorization.slice(1);
    },
    async directoryMeta() {
      const directory = await internals.http.getDirectory();
      const meta = directory.meta;
      return typeof meta === "object" && meta !== null ? meta as Record<string, unknown> : {};
    },
  };
}
