import { NotariatError } from "../errors.ts";
import { type EabCredentials, externalAccountBinding } from "./eab.ts";
import { acmeExchange, type AcmeHttpResponse } from "./http.ts";
import { createJwsSigner, dnsChallengeValue, type JwsHeaderOptions } from "./jws.ts";
import { createNoncePool, type NoncePool } from "./nonce.ts";
import type { AcmeResponse } from "./problem.ts";

/**
 * Signed requests to an ACME CA (RFC 8555 section 6): the directory read once per session, JWS signed with the
 * account key imported once (jws.ts), and every answer's Replay-Nonce kept in a pool shared by all accounts of
 * the CA, so `newNonce` is asked only when no nonce is in hand. A badNonce answer is retried with the fresh
 * nonce it carries. The issuer gets every HTTP answer back whole (status, headers, problem document).
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

/** Longest single HTTP exchange with the CA. */
export const REQUEST_TIMEOUT_MS = 30_000;

const BAD_NONCE = "urn:ietf:params:acme:error:badNonce";

/**
 * Opens a session for an account key, imported here once; nothing is sent until the first call. Throws
 * NotariatError kind "pki" for a key that cannot sign.
 */
export async function openAcmeSession(options: SessionOptions): Promise<AcmeSession> {
  const signer = await createJwsSigner(options.accountKeyPem);
  const { directoryUrl } = options;
  const maxBadNonceRetries = options.badNonceRetries ?? 20;
  const nonces = options.nonces ?? createNoncePool();
  const send = (url: string, method: "GET" | "HEAD" | "POST", body?: unknown) =>
    acmeExchange({ url, method, body, timeoutMs: REQUEST_TIMEOUT_MS });
  let accountUrl: string | undefined;

  let directory: Promise<Record<string, unknown>> | undefined;
  const readDirectory = async () => {
    const response = await send(directoryUrl, "GET");
    const body = response.body;
    if (response.status !== 200) {
      throw new NotariatError("acme", `GET ${directoryUrl}: the ACME directory answered ${response.status}`);
    }
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      throw new NotariatError("acme", `the ACME directory ${directoryUrl} is not a JSON object`);
    }
    return body as Record<string, unknown>;
  };
  // Read once per session; a failed read is tried again by the next call.
  const getDirectory = () => {
    directory ??= readDirectory().catch((err) => {
      directory = undefined;
      throw err;
    });
    return directory;
  };
  const resourceUrl = async (resource: string) => {
    const url = (await getDirectory())[resource];
    if (typeof url !== "string" || url === "") {
      throw new NotariatError("acme", `the ACME directory ${directoryUrl} has no "${resource}" URL`);
    }
    return url;
  };
  const fetchNonce = async () => {
    const url = await resourceUrl("newNonce");
    const response = await send(url, "HEAD");
    const nonce = response.headers["replay-nonce"];
    if (!nonce) {
      throw new NotariatError("acme", `HEAD ${url}: no Replay-Nonce in the answer (${response.status})`);
    }
    return nonce;
  };
  /** A signed POST (by the account URL once known, else by the key itself); badNonce retried. */
  const signed = async (url: string, payload: Record<string, unknown> | null, byKey = false) => {
    const header: JwsHeaderOptions = {
      nonce: await nonces.take(fetchNonce),
      ...(byKey || accountUrl === undefined ? {} : { kid: accountUrl }),
    };
    for (let attempt = 0;; attempt++) {
      const response = await send(url, "POST", await signer.sign(url, payload, header));
      const fresh = response.headers["replay-nonce"];
      const problemType = (response.body as { type?: unknown } | null)?.type;
      if (response.status === 400 && problemType === BAD_NONCE && fresh && attempt < maxBadNonceRetries) {
        header.nonce = fresh;
        continue;
      }
      if (fresh) nonces.put(fresh);
      return answer(response);
    }
  };
  return {
    directoryUrl,
    get accountUrl() {
      return accountUrl;
    },
    async register(email, eab) {
      const url = await resourceUrl("newAccount");
      const payload: Record<string, unknown> = { termsOfServiceAgreed: true, contact: [`mailto:${email}`] };
      // The binding's payload is the JWK the request is signed with (section 7.3.4).
      if (eab !== undefined) {
        payload.externalAccountBinding = externalAccountBinding(eab, url, { ...signer.jwk });
      }
      const response = await signed(url, payload, true);
      if ((response.status === 200 || response.status === 201) && response.headers.location) {
        accountUrl = response.headers.location;
      }
      return response;
    },
    async newOrder(payload) {
      return await signed(await resourceUrl("newOrder"), payload);
    },
    post(url, payload) {
      return signed(url, payload);
    },
    directory: getDirectory,
    async get(url) {
      const response = await send(url, "GET");
      const fresh = response.headers["replay-nonce"];
      if (fresh) nonces.put(fresh);
      return answer(response);
    },
    dnsChallengeValue(token) {
      return Promise.resolve(dnsChallengeValue(token, signer.thumbprint));
    },
    thumbprint() {
      return Promise.resolve(signer.thumbprint);
    },
    async directoryMeta() {
      const meta = (await getDirectory()).meta;
      return typeof meta === "object" && meta !== null && !Array.isArray(meta)
        ? meta as Record<string, unknown>
        : {};
    },
  };
}

function answer(response: AcmeHttpResponse): AcmeResponse {
  return { status: response.status, headers: response.headers, body: response.body };
}
