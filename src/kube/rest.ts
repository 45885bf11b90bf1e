/**
 * Plain REST calls to the API server with client-node's authentication (kubeconfig or service account: token,
 * client certificate, exec plugin, CA) for what client-node's typed API cannot do: metadata-only lists
 * (PartialObjectMetadataList), and watch streams read here to their end. client-node's own Watch converts the
 * response body to a Node stream whose end and abort are not reported under Deno, and aborts a stream after
 * 30 s without data: a quiet watch ended that way is never noticed, and the controller goes deaf.
 */
import { HttpMethod, type KubeConfig, RequestContext } from "@kubernetes/client-node";
import { fetch } from "undici";
import { KubeError } from "./types.ts";
import { errorMessage } from "../errors.ts";

/** Accept header for a metadata-only list (meta.k8s.io/v1 PartialObjectMetadataList; kube-apiserver >= 1.15). */
export const METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";
/** Accept header for a metadata-only watch (each event's object a PartialObjectMetadata). */
export const METADATA_WATCH = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";

/** A GET against the API server and a streamed GET (watch). */
export interface Rest {
  /** GETs `path?query` and parses the JSON answer; KubeError on a non-2xx status or no answer. */
  getJson(action: string, path: string, query: Record<string, string>, accept: string): Promise<unknown>;
  /** GETs `path?query` and returns the open body; aborting `signal` ends it. */
  stream(
    action: string,
    path: string,
    query: Record<string, string>,
    accept: string,
    signal: AbortSignal,
  ): Promise<ReadableStream<Uint8Array>>;
}

/** REST calls authenticated as `config` says, sharing its connection pool. */
export function createRest(config: KubeConfig): Rest {
  const send = async (
    action: string,
    path: string,
    query: Record<string, string>,
    accept: string,
    signal?: AbortSignal,
  ) => {
    const cluster = config.getCurrentCluster();
    if (cluster === null) throw new KubeError(0, `${action}: no current cluster in the kubeconfig`);
    const url = new URL(cluster.server.replace(/\/+$/, "") + path);
    for (const [key, value] of Object.entries(query)) url.searchParams.set(key, value);
    const context = new RequestContext(url.toString(), HttpMethod.GET);
    await config.applySecurityAuthentication(context);
    context.setHeaderParam("Accept", accept);
    let response;
    try {
      response = await fetch(url, {
        method: "GET",
        headers: context.getHeaders(),
        // client-node's dispatcher carries the cluster's TLS trust and client certificate.
        dispatcher: context.getDispatcher() as never,
        signal,
      });
    } catch (err) {
      throw new KubeError(0, `${action}: ${errorMessage(err)}`, { cause: err });
    }
    if (response.status < 200 || response.status > 299) {
      const text = await response.text().catch(() => "");
      throw new KubeError(response.status, `${action}: ${response.status} ${statusMessage(text)}`);
    }
    return response;
  };
  return {
    async getJson(action, path, query, accept) {
      const response = await send(action, path, query, accept);
      try {
        return await response.json();
      } catch (err) {
        throw new KubeError(0, `${action}: the answer is not JSON: ${errorMessage(err)}`, { cause: err });
      }
    },
    async stream(action, path, query, accept, signal) {
      const response = await send(action, path, query, accept, signal);
      if (response.body === null) throw new KubeError(0, `${action}: the answer has no body`);
      return response.body as ReadableStream<Uint8Array>;
    },
  };
}

/** The message of a Status body (client-node and the API server send the raw JSON text). */
export function statusMessage(body: unknown): string {
  try {
    const status = typeof body === "string" ? JSON.parse(body) : body;
    if (typeof status?.message === "string") return status.message;
  } catch {
    // not JSON: use it as it is
  }
  return String(body ?? "").slice(0, 300);
}
