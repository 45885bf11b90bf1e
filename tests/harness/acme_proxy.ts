/**
 * A fault-injecting HTTPS proxy in front of a real pebble: every request goes on to pebble unchanged, except
 * those a test's rules pick, which get the answer the rule says (a rate limit, a 503, an HTML error page, a
 * body that is not JSON, a connection cut mid-response). pebble 2.4 never produces these on its own.
 *
 * Why node:https towards pebble and not fetch: an ACME POST is a JWS whose signed header names the URL it was
 * sent to, and pebble checks it against the request's Host. Deno's fetch drops a Host header set by hand, so
 * only a client that sends the proxy's Host lets signed requests through; pebble then builds every URL it
 * hands out (directory, Location, Link, order and authorization bodies) on the proxy's origin. Absolute URLs
 * naming pebble's own origin are rewritten all the same, so nothing can lead a client around the proxy.
 */
import https from "node:https";
import { makeStateDir, removeStateDir } from "./process.ts";
import { serverTls } from "./openssl_ca.ts";

/** What a request is for, in RFC 8555 terms (directory resources by their directory key). */
export type AcmeResource =
  | "directory"
  | "newNonce"
  | "newAccount"
  | "newOrder"
  | "revokeCert"
  | "keyChange"
  | "account"
  | "order"
  | "authorization"
  | "challenge"
  | "finalize"
  | "certificate"
  | "other";

/** What a picked request gets instead of pebble's answer. */
export type Fault =
  /** This answer, without pebble seeing the request. A fresh pebble nonce is added unless `headers` has one. */
  | { kind: "respond"; status: number; headers?: Record<string, string>; body?: string }
  /** Status 200 and the first bytes of a JSON body, then the connection is cut. */
  | { kind: "drop" }
  /** pebble's own answer, held back `ms` milliseconds first (a slow CA, to see what a client does meanwhile). */
  | { kind: "delay"; ms: number };

/** "The next `times` requests for `resource` (and `method`) get `fault`." */
export interface FaultRule {
  /** A resource, or a (non-global) pattern tested against the request path. */
  resource: AcmeResource | RegExp;
  /** Upper-case HTTP method; any when absent. */
  method?: string;
  /** How many matching requests pass untouched before the fault starts (default 0). */
  skip?: number;
  /** How many matching requests get the fault (default 1); Infinity keeps the rule for the whole run. */
  times?: number;
  /**
   * When set, a request to a path whose previous request was hit by this rule passes (and does not count):
   * the fault hits every first try, and the client's retry goes through.
   */
  retriesPass?: boolean;
  fault: Fault;
}

/** One request the proxy saw. */
export interface ProxiedRequest {
  resource: AcmeResource;
  method: string;
  path: string;
  /** Date.now() when the request arrived. */
  at: number;
  /** Date.now() when its answer was ready to go back (undefined while it is in flight). */
  answeredAt?: number;
  /** The fault it got; undefined when it went to pebble. */
  fault?: Fault["kind"];
}

/** A running proxy, stopped by `stop` (pebble is the caller's to stop). */
export interface AcmeProxyHandle {
  /** https://127.0.0.1:PORT/dir on the proxy. */
  directoryUrl: string;
  /** PEM of the CA that signed the proxy's TLS certificate (give it to the issuer as `caPem`). */
  caPem: string;
  /** Adds a rule after the existing ones; the first matching rule with requests left applies. */
  inject(rule: FaultRule): void;
  /** Removes every rule. */
  clearFaults(): void;
  /** Every request seen so far, oldest first. */
  readonly requests: readonly ProxiedRequest[];
  /** How many requests for `resource` (and `method`) the proxy saw, faulted or not. */
  count(resource: AcmeResource, method?: string): number;
  stop(): Promise<void>;
}

/** The upstream CA: pebble's directory URL and the CA its TLS certificate is signed by. */
export interface ProxyUpstream {
  directoryUrl: string;
  caPem: string;
}

interface UpstreamAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Uint8Array<ArrayBuffer>;
}

interface ActiveRule {
  rule: FaultRule;
  skip: number;
  left: number;
  /** Paths whose last request this rule faulted (retriesPass). */
  faulted: Set<string>;
}

// pebble 2.4's paths for the resources that are not in its directory.
const PEBBLE_PATHS: [string, AcmeResource][] = [
  ["/my-account/", "account"],
  ["/my-order/", "order"],
  ["/authZ/", "authorization"],
  ["/chalZ/", "challenge"],
  ["/finalize-order/", "finalize"],
  ["/certZ/", "certificate"],
];

const HOP_BY_HOP = new Set(["connection", "content-length", "transfer-encoding", "keep-alive", "host"]);

/** Starts the proxy on a free port of 127.0.0.1, with a TLS certificate from a CA made for it. */
export async function startAcmeProxy(upstream: ProxyUpstream): Promise<AcmeProxyHandle> {
  const stateDir = makeStateDir("acme-proxy");
  try {
    const tls = await serverTls(stateDir, "acme-proxy");
    const upstreamUrl = new URL(upstream.directoryUrl);
    const agent = new https.Agent({ ca: upstream.caPem, keepAlive: true });
    const rules: ActiveRule[] = [];
    const requests: ProxiedRequest[] = [];
    const byPath = new Map<string, AcmeResource>([[upstreamUrl.pathname, "directory"]]);
    let proxyOrigin = "";

    const send = (method: string, path: string, headers: Record<string, string>, body?: Uint8Array) =>
      new Promise<UpstreamAnswer>((resolve, reject) => {
        const request = https.request({
          host: upstreamUrl.hostname,
          port: Number(upstreamUrl.port),
          path,
          method,
          agent,
          headers: {
            ...headers,
            host: new URL(proxyOrigin).host,
            "content-length": String(body?.length ?? 0),
          },
        }, (response) => {
          const chunks: Uint8Array[] = [];
          response.on("data", (chunk: Uint8Array) => chunks.push(chunk));
          response.on("end", () =>
            resolve({
              status: response.statusCode ?? 502,
              headers: response.headers,
              body: concat(chunks),
            }));
          response.on("error", reject);
        });
        request.on("error", reject);
        request.end(body);
      });

    const freshNonce = async (): Promise<string | undefined> => {
      const path = [...byPath].find(([, resource]) => resource === "newNonce")?.[0];
      if (!path) return undefined;
      const header =
        (await send("HEAD", path, { "user-agent": "notariat-test-proxy" })).headers["replay-nonce"];
      return typeof header === "string" ? header : undefined;
    };

    const resourceOf = (path: string): AcmeResource =>
      byPath.get(path) ?? PEBBLE_PATHS.find(([prefix]) => path.startsWith(prefix))?.[1] ?? "other";

    const pickFault = (resource: AcmeResource, method: string, path: string): Fault | undefined => {
      for (const active of rules) {
        const { rule } = active;
        if (active.left <= 0) continue;
        if (rule.method !== undefined && rule.method !== method) continue;
        const matches = rule.resource instanceof RegExp
          ? rule.resource.test(path)
          : rule.resource === resource;
        if (!matches) continue;
        if (active.skip > 0) {
          active.skip--;
          return undefined;
        }
        if (rule.retriesPass && active.faulted.delete(path)) return undefined;
        if (rule.retriesPass) active.faulted.add(path);
        active.left--;
        return rule.fault;
      }
      return undefined;
    };

    const rewrite = (text: string) => text.replaceAll(upstreamUrl.origin, proxyOrigin);

    const injected = async (fault: Exclude<Fault, { kind: "delay" }>): Promise<Response> => {
      if (fault.kind === "drop") {
        // A body shorter than its declared length: the server has to cut the connection (or, on HTTP/2, reset
        // the stream) after the bytes it has, as a CA crashing mid-answer would.
        const partial = new TextEncoder().encode('{"status": "pen');
        const body = new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(partial);
            controller.close();
          },
        });
        return new Response(body, {
          status: 200,
          headers: { "content-type": "application/json", "content-length": String(partial.length + 1000) },
        });
      }
      const headers = new Headers(fault.headers);
      if (!headers.has("replay-nonce")) {
        const nonce = await freshNonce();
        if (nonce) headers.set("replay-nonce", nonce);
      }
      return new Response(fault.body ?? "", { status: fault.status, headers });
    };

    const forward = async (request: Request, path: string): Promise<Response> => {
      const headers: Record<string, string> = {};
      request.headers.forEach((value, name) => {
        if (!HOP_BY_HOP.has(name)) headers[name] = value;
      });
      const body = request.method === "GET" || request.method === "HEAD"
        ? undefined
        : new Uint8Array(await request.arrayBuffer());
      const answer = await send(request.method, path, headers, body);
      const out = new Headers();
      for (const [name, value] of Object.entries(answer.headers)) {
        if (value === undefined || HOP_BY_HOP.has(name)) continue;
        for (const one of Array.isArray(value) ? value : [value]) out.append(name, rewrite(one));
      }
      const type = out.get("content-type") ?? "";
      const textual = /json|text|pem/.test(type);
      const payload = textual ? rewrite(new TextDecoder().decode(answer.body)) : answer.body;
      const nullBody = request.method === "HEAD" || answer.status === 204 || answer.status === 304;
      return new Response(nullBody ? null : payload, { status: answer.status, headers: out });
    };

    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      cert: Deno.readTextFileSync(tls.certFile),
      key: Deno.readTextFileSync(tls.keyFile),
      onListen: () => {},
    }, async (request) => {
      const url = new URL(request.url);
      const path = `${url.pathname}${url.search}`;
      const resource = resourceOf(url.pathname);
      const fault = pickFault(resource, request.method, path);
      const seen: ProxiedRequest = {
        resource,
        method: request.method,
        path,
        at: Date.now(),
        fault: fault?.kind,
      };
      requests.push(seen);
      try {
        if (fault?.kind === "delay") await new Promise((resolve) => setTimeout(resolve, fault.ms));
        return fault && fault.kind !== "delay" ? await injected(fault) : await forward(request, path);
      } catch (err) {
        return new Response(`proxy: pebble unreachable: ${err}`, { status: 502 });
      } finally {
        seen.answeredAt = Date.now();
      }
    });
    proxyOrigin = `https://127.0.0.1:${server.addr.port}`;

    try {
      // The directory names the paths of the resources it lists; learn them so requests can be told apart.
      // pebble 2.10 refuses requests without a User-Agent (RFC 8555 section 6.1).
      const answer = await send("GET", upstreamUrl.pathname, { "user-agent": "notariat-test-proxy" });
      const directory = JSON.parse(new TextDecoder().decode(answer.body)) as Record<string, unknown>;
      for (const [name, value] of Object.entries(directory)) {
        if (typeof value === "string" && rewrite(value).startsWith(proxyOrigin)) {
          byPath.set(new URL(rewrite(value)).pathname, name as AcmeResource);
        }
      }
    } catch (err) {
      await server.shutdown();
      agent.destroy();
      throw new Error(`the ACME proxy cannot read pebble's directory at ${upstream.directoryUrl}: ${err}`);
    }

    let stopping: Promise<void> | undefined;
    return {
      directoryUrl: `${proxyOrigin}${upstreamUrl.pathname}`,
      caPem: tls.caPem,
      inject(rule) {
        rules.push({ rule, skip: rule.skip ?? 0, left: rule.times ?? 1, faulted: new Set() });
      },
      clearFaults() {
        rules.length = 0;
      },
      get requests() {
        return requests;
      },
      count(resource, method) {
        const matching = requests.filter((r) => r.resource === resource);
        return method === undefined ? matching.length : matching.filter((r) => r.method === method).length;
      },
      stop() {
        stopping ??= (async () => {
          await server.shutdown();
          agent.destroy();
          removeStateDir(stateDir);
        })();
        return stopping;
      },
    };
  } catch (err) {
    removeStateDir(stateDir);
    throw err;
  }
}

function concat(chunks: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}
