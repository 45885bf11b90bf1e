/**
 * notariat's one HTTP listener (-http-address): /livez and /readyz for the kubelet, /metrics for Prometheus.
 * Plain text answers; nothing else is served.
 */
import { errorMessage } from "../errors.ts";
import type { Logger } from "./log.ts";
import { TEXT_CONTENT_TYPE } from "./prometheus.ts";

/** A listen address: the host ("0.0.0.0" for all IPv4 interfaces, "::" for all) and the port. */
export interface ListenAddress {
  hostname: string;
  port: number;
}

/**
 * Parses `-http-address`: `:PORT` (every interface), `HOST:PORT` or `[IPV6]:PORT`, as Go's net.Listen takes
 * it. Returns a reason instead when the text is not one.
 */
export function parseListenAddress(text: string): ListenAddress | { error: string } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\[\]]*)):([0-9]{1,5})$/.exec(text);
  if (match === null) return { error: `'${text}' is not HOST:PORT or :PORT` };
  const port = Number(match[3]);
  if (port > 65535) return { error: `port ${match[3]} is not a number from 0 to 65535` };
  const hostname = match[1] ?? (match[2] === "" ? "0.0.0.0" : match[2]);
  return { hostname, port };
}

/** One health answer. */
export interface Answer {
  ok: boolean;
  reason: string;
}

/** What the listener serves. */
export interface HttpEndpoints {
  live(now: Date): Answer;
  ready(now: Date): Answer;
  metrics(): string;
}

/** A running listener. */
export interface HttpListener {
  /** The port it listens on (the chosen one when the address said port 0). */
  readonly port: number;
  close(): Promise<void>;
}

/** Answers one request; pure apart from the clock, so it is tested without a socket. */
export function handleRequest(request: Request, endpoints: HttpEndpoints, now: Date): Response {
  const path = new URL(request.url).pathname;
  if (request.method !== "GET" && request.method !== "HEAD") {
    return new Response("method not allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
  }
  const health = (answer: Answer) =>
    new Response(`${answer.reason}\n`, {
      status: answer.ok ? 200 : 503,
      headers: { "content-type": "text/plain; charset=utf-8" },
    });
  switch (path) {
    case "/livez":
      return health(endpoints.live(now));
    case "/readyz":
      return health(endpoints.ready(now));
    case "/metrics":
      return new Response(endpoints.metrics(), { headers: { "content-type": TEXT_CONTENT_TYPE } });
    default:
      return new Response("not found: /livez, /readyz and /metrics are served\n", { status: 404 });
  }
}

/** Starts listening; resolves once the socket is bound. */
export function serveHttp(
  address: ListenAddress,
  endpoints: HttpEndpoints,
  logger: Logger,
): Promise<HttpListener> {
  return new Promise((resolve, reject) => {
    try {
      const server = Deno.serve({
        hostname: address.hostname,
        port: address.port,
        onListen: ({ port }) => {
          logger.info("serving /livez, /readyz and /metrics", { address: `${address.hostname}:${port}` });
          resolve({ port, close: () => server.shutdown() });
        },
        onError: (err) => {
          logger.warn("HTTP handler failed", { error: errorMessage(err) });
          return new Response("internal error\n", { status: 500 });
        },
      }, (request) => handleRequest(request, endpoints, new Date()));
    } catch (err) {
      reject(err);
    }
  });
}
