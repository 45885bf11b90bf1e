/**
 * Requests to the API server over Deno's own fetch: JSON in and out, and streamed bodies for watches. One
 * HTTP client (Deno.createHttpClient) carries the cluster's CA, the client certificate and the proxy, and is
 * shared by every request, so connections are reused; it is rebuilt when the client certificate changes (an
 * exec plugin handing out a new one).
 *
 * HTTP/1.1 only: a watch holds its own connection, and a restarting API server's GOAWAY on a shared HTTP/2
 * connection ends every stream on it at once (with an earlier HTTP client it crashed the process).
 */
import { errorMessage, NotariatError } from "../errors.ts";
import type { ClientCert, Credential, Credentials } from "./credentials.ts";
import { grantHint, parseDenied } from "./forbidden.ts";
import { KubeError } from "./types.ts";

/** Accept header for a metadata-only list (meta.k8s.io/v1 PartialObjectMetadataList; kube-apiserver >= 1.15). */
export const METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";
/** Accept header for a metadata-only watch (each event's object a PartialObjectMetadata). */
export const METADATA_WATCH = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";
/** Content-Type of a JSON merge patch (RFC 7386): keys not named are kept, null removes one. */
export const MERGE_PATCH = "application/merge-patch+json";

/** How long an HTTP client replaced by a new client certificate is kept for the watches it still carries. */
const RETIRED_CLIENT_MS = 15 * 60_000;

/** One request: method, query, JSON body and its content type, Accept. */
export interface RestRequest {
  method?: "GET" | "POST" | "PUT" | "PATCH";
  query?: Record<string, string>;
  /** Sent as JSON. */
  body?: unknown;
  /** Default application/json; MERGE_PATCH for a merge patch. */
  contentType?: string;
  /** Default application/json. */
  accept?: string;
  /** Aborting it ends the request (its reason becomes the error's). */
  signal?: AbortSignal;
}

/** Requests against one API server. */
export interface Rest {
  /**
   * Sends the request and parses the JSON answer; `action` ("get Secret ns/name") starts every error's
   * message. KubeError with the HTTP status on a non-2xx answer, status 0 when none came.
   */
  json(action: string, path: string, request?: RestRequest): Promise<unknown>;
  /** GETs `path?query` and returns the open body; aborting `signal` ends it. */
  stream(
    action: string,
    path: string,
    query: Record<string, string>,
    accept: string,
    signal: AbortSignal,
  ): Promise<ReadableStream<Uint8Array>>;
  /** Closes the connections. */
  close(): void;
}

/** How to reach the server: its URL, the CA to trust (PEM), a proxy, and where credentials come from. */
export interface RestOptions {
  server: string;
  caPem?: string;
  proxyUrl?: string;
  /** The kubeconfig's client certificate: its HTTP client is built at once, so bad PEM fails here. */
  clientCert?: ClientCert;
  credentials: Credentials;
}

/** The shared HTTP client for one client certificate (or none). */
interface Pool {
  cert?: ClientCert;
  client: Deno.HttpClient;
}

/**
 * A Rest client for `options.server`. The HTTP client is built here, so a CA or client certificate that is
 * not PEM fails at once.
 */
export function createRest(options: RestOptions): Rest {
  const { server, credentials } = options;
  const build = (cert: ClientCert | undefined): Pool => {
    const settings: Deno.CreateHttpClientOptions = {
      http2: false,
      ...(options.caPem !== undefined ? { caCerts: [options.caPem] } : {}),
      ...(options.proxyUrl !== undefined ? { proxy: { url: options.proxyUrl } } : {}),
    };
    try {
      const client = cert === undefined
        ? Deno.createHttpClient(settings)
        : Deno.createHttpClient({ ...settings, cert: cert.cert, key: cert.key });
      return { cert, client };
    } catch (err) {
      const what = cert === undefined ? "certificate-authority" : "client-certificate/client-key";
      throw new NotariatError("usage", `the ${what} is not usable PEM: ${errorMessage(err)}`, { cause: err });
    }
  };
  let pool: Pool | undefined;
  // A client replaced by a new certificate may still carry a watch: it is closed once any watch it carries
  // has ended (the server ends each within its timeout), or with the rest.
  const retired = new Map<Deno.HttpClient, ReturnType<typeof setTimeout>>();
  const retire = (client: Deno.HttpClient) => {
    const timer = setTimeout(() => {
      retired.delete(client);
      client.close();
    }, RETIRED_CLIENT_MS);
    Deno.unrefTimer(timer);
    retired.set(client, timer);
  };
  const clientFor = (cert: ClientCert | undefined): Deno.HttpClient => {
    const same = pool !== undefined && pool.cert?.cert === cert?.cert && pool.cert?.key === cert?.key;
    if (!same) {
      const next = build(cert);
      if (pool !== undefined) retire(pool.client);
      pool = next;
    }
    return pool!.client;
  };
  clientFor(options.clientCert);

  const send = async (action: string, path: string, request: RestRequest) => {
    const url = new URL(server + path);
    for (const [key, value] of Object.entries(request.query ?? {})) url.searchParams.set(key, value);
    const body = request.body === undefined ? undefined : JSON.stringify(request.body);
    for (let attempt = 1;; attempt++) {
      let credential: Credential;
      let response: Response;
      try {
        credential = await credentials.get();
        const headers: Record<string, string> = { accept: request.accept ?? "application/json" };
        if (credential.authorization !== undefined) headers.authorization = credential.authorization;
        if (body !== undefined) headers["content-type"] = request.contentType ?? "application/json";
        response = await fetch(url, {
          method: request.method ?? "GET",
          headers,
          body,
          signal: request.signal,
          client: clientFor(credential.clientCert),
        });
      } catch (err) {
        if (err instanceof KubeError) throw err;
        throw new KubeError(0, `${action}: ${errorMessage(err)}`, { cause: err });
      }
      if (response.ok) return response;
      const text = await response.text().catch(() => "");
      // A rotated token or an expired exec credential: one more try with a new one.
      if (response.status === 401 && attempt === 1 && credentials.refused(credential)) continue;
      const message = statusMessage(text);
      const denied = response.status === 403 ? parseDenied(message) : undefined;
      const hint = denied === undefined ? "" : `; ${grantHint(denied)}`;
      throw new KubeError(response.status, `${action}: ${response.status} ${message}${hint}`);
    }
  };

  return {
    async json(action, path, request = {}) {
      const response = await send(action, path, request);
      try {
        return await response.json();
      } catch (err) {
        throw new KubeError(0, `${action}: the answer is not JSON: ${errorMessage(err)}`, { cause: err });
      }
    },
    async stream(action, path, query, accept, signal) {
      const response = await send(action, path, { query, accept, signal });
      if (response.body === null) throw new KubeError(0, `${action}: the answer has no body`);
      return response.body;
    },
    close() {
      for (const [client, timer] of retired) {
        clearTimeout(timer);
        client.close();
      }
      retired.clear();
      pool?.client.close();
      pool = undefined;
    },
  };
}

/** The message of a Status body (the API server sends its JSON text). */
export function statusMessage(body: unknown): string {
  try {
    const status = typeof body === "string" ? JSON.parse(body) : body;
    if (typeof status?.message === "string") return status.message;
  } catch {
    // not JSON: use it as it is
  }
  return String(body ?? "").slice(0, 300);
}
