import * as acme from "acme-client";
import { NotariatError } from "../errors.ts";
import { type EabCredentials, externalAccountBinding } from "./eab.ts";
import { createJwsSigner, dnsChallengeValue, type JwsHeaderOptions } from "./jws.ts";
import { createNoncePool, type NoncePool } from "./nonce.ts";
import type { AcmeResponse } from "./problem.ts";
import { createFetchAdapter } from "./transport.ts";

/**
 * The one module that talks to acme-client. acme-client reads the directory, fetches a nonce when none is in
 * hand and builds an External Account Binding; everything it sends goes over the fetch adapter of
 * transport.ts. The requests themselves are signed here (jws.ts) with the account key imported once, and every
 * answer's Replay-Nonce goes into a pool shared by all accounts of the CA, so a new nonce is asked for only
 * when none is left (acme-client 5.4 sends HEAD newNonce before every request and re-imports the key for every
 * signature). The issuer gets every HTTP answer back whole (status, headers, problem document), because
 * acme-client's convenience methods reduce errors to a string and drop Retry-After.
 */

/** Signed access to one ACME account on one CA. */
export interface AcmeSession {
  readonly directoryUrl: string;
  /** The account URL once `register` succeeded. */
  readonly accountUrl: string | undefined;
  /**
   * newAccount (RFC 8555 section 7.3) agreeing to the terms, with the email as contact; finds an existing one.
   * With `eab`, the request carries the external account binding of section 7.3.4.
   */
  register(email: string, eab?: EabCredentials): Promise<AcmeResponse>;
  /** The directory object (section 7.1.1), as the CA sent it; fetched once and cached. */
  directory(): Promise<Record<string, unknown>>;
  /** An unauthenticated GET (the renewalInfo resource of RFC 9773 is read this way). */
  get(url: string): Promise<AcmeResponse>;
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
  /** Nonces shared with the other sessions of the same CA; a session of its own when absent. */
  nonces?: NoncePool;
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
  http: {
    maxBadNonceRetries: number;
    getResourceUrl(resource: string): Promise<string>;
    getDirectory(): Promise<Record<string, unknown>>;
    externalAccountBinding?: { kid?: string; hmacKey?: string };
    getNonce(): Promise<string>;
    request(url: string, method: string, opts?: { data?: unknown }): Promise<RawResponse>;
    createSignedHmacBody(hmacKey: string, url: string, payload: unknown, opts: { kid: string }): unknown;
    signedRequest(
      url: string,
      payload: Record<string, unknown> | null,
      opts?: { kid?: string | null; nonce?: string | null; includeExternalAccountBinding?: boolean },
    ): Promise<RawResponse>;
  };
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

const BAD_NONCE = "urn:ietf:params:acme:error:badNonce";

/**
 * Opens a session for an account key, imported here once; nothing is sent until the first call. Throws
 * NotariatError kind "pki" for a key that cannot sign.
 */
export async function openAcmeSession(options: SessionOptions): Promise<AcmeSession> {
  installTransport();
  const signer = await createJwsSigner(options.accountKeyPem);
  const client = new acme.Client({ directoryUrl: options.directoryUrl, accountKey: options.accountKeyPem });
  const internals = client as unknown as ClientInternals;
  const http = internals.http;
  if (
    typeof internals.api?.apiRequest !== "function" || typeof http?.maxBadNonceRetries !== "number" ||
    typeof http.request !== "function" || typeof http.getNonce !== "function" ||
    typeof http.getDirectory !== "function" || typeof http.getResourceUrl !== "function"
  ) {
    throw new NotariatError("acme", "the installed acme-client does not have the request API notariat uses");
  }
  const maxBadNonceRetries = options.badNonceRetries ?? 20;
  const nonces = options.nonces ?? createNoncePool();
  const fetchNonce = () => http.getNonce();
  // acme-client's api calls this for every signed request; replaced so nonces are reused and the key is not
  // parsed again for each signature. Same contract: the answer whatever its status, badNonce retried.
  http.signedRequest = async (url, payload, opts = {}) => {
    const header: JwsHeaderOptions = {
      nonce: opts.nonce ?? await nonces.take(fetchNonce),
      ...(opts.kid ? { kid: opts.kid } : {}),
    };
    const eab = http.externalAccountBinding;
    if (opts.includeExternalAccountBinding && eab?.kid && eab.hmacKey && payload) {
      payload.externalAccountBinding = http.createSignedHmacBody(eab.hmacKey, url, signer.jwk, {
        kid: eab.kid,
      });
    }
    for (let attempt = 0;; attempt++) {
      const data = await signer.sign(url, payload, header);
      const response = await http.request(url, "post", { data });
      const fresh = response.headers["replay-nonce"];
      const problemType = (response.data as { type?: unknown } | null)?.type;
      if (response.status === 400 && problemType === BAD_NONCE && fresh && attempt < maxBadNonceRetries) {
        header.nonce = fresh;
        continue;
      }
      if (fresh) nonces.put(fresh);
      return response;
    }
  };
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
    async register(email, eab) {
      const payload: Record<string, unknown> = { termsOfServiceAgreed: true, contact: [`mailto:${email}`] };
      if (eab !== undefined) {
        // Built here on the signed request path: the binding's payload is the JWK the request is signed with.
        const url = await http.getResourceUrl("newAccount");
        payload.externalAccountBinding = externalAccountBinding(eab, url, { ...signer.jwk });
      }
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
    async directory() {
      const directory: unknown = await http.getDirectory();
      if (typeof directory !== "object" || directory === null || Array.isArray(directory)) {
        throw new NotariatError("acme", `the ACME directory ${options.directoryUrl} is not a JSON object`);
      }
      return directory as Record<string, unknown>;
    },
    async get(url) {
      const raw = await http.request(url, "get");
      const fresh = raw.headers["replay-nonce"];
      if (fresh) nonces.put(fresh);
      return wrap(raw);
    },
    dnsChallengeValue(token) {
      return Promise.resolve(dnsChallengeValue(token, signer.thumbprint));
    },
    thumbprint() {
      return Promise.resolve(signer.thumbprint);
    },
    async directoryMeta() {
      const meta = (await http.getDirectory() as Record<string, unknown> | null)?.meta;
      return typeof meta === "object" && meta !== null ? meta as Record<string, unknown> : {};
    },
  };
}
