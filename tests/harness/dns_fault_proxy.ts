/**
 * A DNS proxy that injects the faults no real server produces on purpose: it sits in front of a real Knot or BIND
 * (UDP and TCP on one port), forwards each request and passes the server's answer back, except for the requests
 * a fault rule picks: those go unanswered, lose their answer after the server acted on them, or get the real
 * answer damaged (wrong id, another question, garbage, a frame cut short, a broken or missing TSIG signature, a
 * skewed signing time). Without an upstream it answers nothing at all: a server that never answers. It records
 * every request as it arrived, so a test can see what the client sent.
 *
 * Runs inside the test process; `stop` closes every socket it opened.
 */
import type { ServerAddress, TsigKey } from "../../src/dns/types.ts";
import { signMessage } from "../../src/dns/tsig.ts";
import { decodeMessage, Opcode, tsigRecordOf } from "../../src/dns/wire.ts";
import { exchangeTcp, exchangeUdp, frame, listenUdpAndTcp, readFrame } from "./dns_stream.ts";

/** The transports a DNS client uses. */
export type DnsProtocol = "udp" | "tcp";

/** What the proxy does to one request and its answer. */
export type DnsFault =
  /** Not forwarded, never answered (over TCP the connection stays open and is read on). */
  | "silence"
  /** Forwarded, so the server acts on it, but its answer is never sent. */
  | "lose-answer"
  /** The answer with its id changed. */
  | "wrong-id"
  /** The answer for another question: its first label's first letter changed ("alpha" becomes "blpha"). */
  | "other-question"
  /** Random bytes as long as the answer. */
  | "garbage"
  /** Header and question intact, then nothing sensible: ARCOUNT claims 7 records that are not there. */
  | "garbage-body"
  /** Over TCP the length announces the whole answer, half of it arrives, then the connection closes. */
  | "truncated-frame"
  /** One bit of the TSIG MAC flipped. */
  | "bad-mac"
  /** The TSIG record removed. */
  | "unsigned"
  /** Re-signed with the `other` key of `signers`. */
  | "other-key"
  /** Re-signed with the `right` key of `signers`, an hour in the past. */
  | "skewed-time";

/** Which requests get a fault, and how many of them. */
export interface DnsFaultRule {
  fault: DnsFault;
  /** Only requests over this transport (default: both). */
  protocol?: DnsProtocol;
  /** Only UPDATE requests, or only the others (queries); default: both. */
  kind?: "update" | "query";
  /** How many matching requests it applies to (default 1; `Infinity` for every one). */
  count?: number;
}

/** One request as the proxy received it. */
export interface DnsProxiedRequest {
  protocol: DnsProtocol;
  /** The bytes as they arrived: over TCP with the two-byte length prefix. */
  received: Uint8Array;
  /** Whether its opcode is UPDATE. */
  update: boolean;
  /** The fault applied to it, undefined when it was passed through. */
  fault?: DnsFault;
}

/** How to start a proxy. */
export interface DnsFaultProxyOptions {
  /** The real server to forward to; without one nothing is forwarded and nothing answered. */
  upstream?: ServerAddress;
  /** The address to listen on (default 127.0.0.1; ::1 for IPv6). */
  hostname?: string;
  /** The transports to listen on (default both, on one port). */
  protocols?: DnsProtocol[];
  /** Keys to re-sign answers with: `right` for "skewed-time", `other` for "other-key". */
  signers?: { right: TsigKey; other: TsigKey };
  /** Rules in force from the start; `inject` adds more. */
  rules?: DnsFaultRule[];
  /** How long to wait for the upstream's answer (default 5 s). */
  upstreamTimeoutMs?: number;
}

/** A running proxy. */
export interface DnsFaultProxy {
  address: ServerAddress;
  port: number;
  /** Every request received, in order. */
  requests: DnsProxiedRequest[];
  /** TCP connections accepted so far. */
  connections(): number;
  /** Adds a rule after those in force; the first rule that matches a request and has a count left applies. */
  inject(rule: DnsFaultRule): void;
  /** Drops every rule: requests pass again. */
  clear(): void;
  /** How many requests matched `filter` so far. */
  count(filter?: { protocol?: DnsProtocol; kind?: "update" | "query" }): number;
  stop(): Promise<void>;
}

function isUpdate(request: Uint8Array): boolean {
  return request.length > 2 && ((request[2] >> 3) & 0xf) === Opcode.UPDATE;
}

/** The answer without its TSIG record, ARCOUNT one less. */
function stripTsig(answer: Uint8Array): Uint8Array {
  const decoded = decodeMessage(answer);
  const cut = answer.slice(0, decoded.tsigOffset);
  const arcount = ((cut[10] << 8) | cut[11]) - 1;
  cut[10] = arcount >> 8;
  cut[11] = arcount & 0xff;
  return cut;
}

function signersOf(options: DnsFaultProxyOptions): { right: TsigKey; other: TsigKey } {
  if (options.signers === undefined) throw new Error("re-signing an answer needs the proxy's signers");
  return options.signers;
}

/** The answer as a damaging fault makes it ("truncated-frame": the whole answer; the caller cuts it). */
function damage(
  fault: DnsFault,
  answer: Uint8Array,
  request: Uint8Array,
  options: DnsFaultProxyOptions,
): Uint8Array {
  const bytes = answer.slice();
  switch (fault) {
    case "wrong-id":
      bytes[0] ^= 0xff;
      return bytes;
    case "other-question":
      // The question's first label starts at offset 13.
      bytes[13] += 1;
      return bytes;
    case "garbage":
      return crypto.getRandomValues(new Uint8Array(answer.length));
    case "garbage-body": {
      const end = decodeMessage(answer).tsigOffset ?? answer.length;
      const cut = bytes.slice(0, end);
      cut[10] = 0x00;
      cut[11] = 0x07;
      return cut;
    }
    case "bad-mac":
      // The MAC is followed by original id, error and other length (6 bytes) when other data is empty.
      bytes[bytes.length - 7] ^= 0x01;
      return bytes;
    case "unsigned":
      return stripTsig(answer);
    case "other-key":
      return signMessage(stripTsig(answer), signersOf(options).other, Math.floor(Date.now() / 1000)).bytes;
    case "skewed-time": {
      const requestMac = tsigRecordOf(decodeMessage(request))!.data.tsig.mac;
      const signedAt = Math.floor(Date.now() / 1000) - 3600;
      return signMessage(stripTsig(answer), signersOf(options).right, signedAt, { requestMac }).bytes;
    }
    default:
      return bytes;
  }
}

/** Starts a proxy on a free port (UDP and TCP alike) with `options`. */
export function startDnsFaultProxy(options: DnsFaultProxyOptions = {}): DnsFaultProxy {
  const hostname = options.hostname ?? "127.0.0.1";
  const protocols = options.protocols ?? ["udp", "tcp"];
  const upstreamTimeoutMs = options.upstreamTimeoutMs ?? 5_000;
  const sockets = listenUdpAndTcp(hostname);
  const udp = protocols.includes("udp") ? sockets.udp : (sockets.udp.close(), undefined);
  const tcp = protocols.includes("tcp") ? sockets.tcp : (sockets.tcp.close(), undefined);
  let rules: DnsFaultRule[] = (options.rules ?? []).map((r) => ({ ...r }));
  let accepted = 0;
  const open = new Set<Deno.Conn>();
  const pending = new Set<Promise<void>>();
  const track = (work: Promise<void>) => {
    const p = work.catch(() => {}).finally(() => pending.delete(p));
    pending.add(p);
  };

  const proxy: DnsFaultProxy = {
    address: { host: hostname, port: sockets.port },
    port: sockets.port,
    requests: [],
    connections: () => accepted,
    inject(rule) {
      rules.push({ ...rule });
    },
    clear() {
      rules = [];
    },
    count(filter = {}) {
      return proxy.requests.filter((r) =>
        (filter.protocol === undefined || r.protocol === filter.protocol) &&
        (filter.kind === undefined || r.update === (filter.kind === "update"))
      ).length;
    },
    async stop() {
      udp?.close();
      tcp?.close();
      for (const conn of open) {
        try {
          conn.close();
        } catch {
          // closed meanwhile
        }
      }
      await loops;
      await Promise.all(pending);
    },
  };

  /** Records the request and picks its fault: a rule's, else none (pass), or silence without an upstream. */
  const receive = (
    protocol: DnsProtocol,
    received: Uint8Array,
    message: Uint8Array,
  ): DnsFault | undefined => {
    const update = isUpdate(message);
    const rule = rules.find((r) =>
      (r.count ?? 1) > 0 && (r.protocol === undefined || r.protocol === protocol) &&
      (r.kind === undefined || (r.kind === "update") === update)
    );
    if (rule !== undefined) rule.count = (rule.count ?? 1) - 1;
    const fault = rule?.fault ?? (options.upstream === undefined ? "silence" : undefined);
    proxy.requests.push({ protocol, received, update, fault });
    return fault;
  };

  const serveUdp = async (socket: Deno.DatagramConn) => {
    try {
      for await (const [request, from] of socket) {
        const fault = receive("udp", request, request);
        if (fault === "silence") continue;
        track((async () => {
          const answer = await exchangeUdp(options.upstream!, request, upstreamTimeoutMs);
          if (fault === "lose-answer") return;
          const sent = fault === undefined ? answer : damage(fault, answer, request, options);
          await socket.send(fault === "truncated-frame" ? sent.subarray(0, sent.length >> 1) : sent, from);
        })());
      }
    } catch {
      // closed by stop
    }
  };

  const serveConnection = async (conn: Deno.Conn) => {
    try {
      for (let received = await readFrame(conn); received !== undefined; received = await readFrame(conn)) {
        const request = received.subarray(2);
        const fault = receive("tcp", received, request);
        if (fault === "silence") continue;
        const answer = await exchangeTcp(options.upstream!, request, upstreamTimeoutMs);
        if (answer === undefined) return; // the upstream closed without an answer: so does the proxy
        if (fault === "lose-answer") continue;
        if (fault === "truncated-frame") {
          await conn.write(frame(answer).subarray(0, 2 + (answer.length >> 1)));
          return;
        }
        await conn.write(frame(fault === undefined ? answer : damage(fault, answer, request, options)));
      }
    } finally {
      open.delete(conn);
      try {
        conn.close();
      } catch {
        // closed by the client or by stop
      }
    }
  };

  const serveTcp = async (listener: Deno.Listener) => {
    try {
      for await (const conn of listener) {
        accepted++;
        open.add(conn);
        track(serveConnection(conn));
      }
    } catch {
      // closed by stop
    }
  };

  const loops = Promise.all([udp && serveUdp(udp), tcp && serveTcp(tcp)]);
  return proxy;
}
